"""The EDA report's numbers on hand-made frames, its warnings, sampling, and the standalone HTML file."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from core.automl import config
from core.automl.eda import (
    CRAMERS_V,
    ETA,
    SPEARMAN,
    EdaReport,
    correlation_ratio,
    cramers_v,
    eda_html,
    eda_report,
    spearman,
)
from core.automl.samples import sample_path
from core.config import get_settings
from core.errors import InputError
from core.io import read_csv


def _hand_made() -> pd.DataFrame:
    """80 rows: a 2x2 table of ``group`` against ``label`` ([[30, 10], [10, 30]], Cramér's V 0.5), a
    column with 20 missing cells, then 3 exact copies of row 25."""
    group = ["a"] * 40 + ["b"] * 40
    label = ["yes"] * 30 + ["no"] * 10 + ["yes"] * 10 + ["no"] * 30
    score = [i / 2 for i in range(80)]
    sparse = [np.nan] * 20 + [1.0 + i % 7 for i in range(60)]
    frame = pd.DataFrame({"group": group, "label": label, "score": score, "sparse": sparse})
    return pd.concat([frame, frame.iloc[[25, 25, 25]]], ignore_index=True)


def test_cramers_v_correlation_ratio_and_spearman_by_hand() -> None:
    a = pd.Series(["a"] * 40 + ["b"] * 40)
    b = pd.Series(["y"] * 30 + ["n"] * 10 + ["y"] * 10 + ["n"] * 30)
    assert cramers_v(a, b) == pytest.approx(0.5)  # chi2 = 20, n = 80, min(r, c) - 1 = 1
    assert cramers_v(a, a) == pytest.approx(1.0)
    # Groups A = [0, 2], B = [2, 4]: between = 4, total = 8, eta = sqrt(1/2).
    assert correlation_ratio(pd.Series(["A", "A", "B", "B"]), pd.Series([0.0, 2.0, 2.0, 4.0])) == pytest.approx(
        math.sqrt(0.5))
    x = pd.Series(np.arange(50.0))
    assert spearman(x, np.exp(x / 10)) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(1.0)
    assert spearman(x, pd.Series(np.ones(50))) == 0.0


def test_overview_duplicates_and_missing_shares() -> None:
    frame = _hand_made()
    report = eda_report(frame, "label")
    assert report.overview["rows"] == 83 and report.overview["columns"] == 4
    assert report.duplicate_rows == 3 and report.overview["duplicate_rows"] == 3
    assert report.overview["missing_cells"] == 20
    assert report.overview["missing_cells_share"] == pytest.approx(20 / (83 * 4))
    columns = report.columns.set_index("column")
    assert columns.loc["sparse", "missing"] == 20
    assert columns.loc["sparse", "missing_share"] == pytest.approx(20 / 83)
    assert columns.loc["score", "mean"] == pytest.approx(frame["score"].mean())
    assert columns.loc["score", "max"] == 39.5
    assert columns.loc["group", "top_values"].startswith("a (43)")


def test_associations_say_which_measure_and_match_the_hand_numbers() -> None:
    frame = _hand_made().iloc[:80]  # without the duplicates, so the 2x2 table is exact
    report = eda_report(frame, "label")
    assert report.task == config.CLASSIFICATION
    table = report.associations.set_index("column")
    assert table.loc["group", "measure"] == CRAMERS_V
    assert table.loc["group", "association"] == pytest.approx(0.5)
    assert table.loc["score", "measure"] == ETA
    assert table.loc["sparse", "rows"] == 60  # rows missing a number are left out of that pair
    assert table["association"].dropna().between(0, 1).all()
    assert list(report.associations.columns) == ["column", "association", "measure", "rows"]


def test_a_numeric_target_uses_spearman_and_eta() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "cube": x ** 3, "colour": np.where(x > 0, "warm", "cold"),
                          "y": x ** 3 + 0.0})
    report = eda_report(frame, "y")
    table = report.associations.set_index("column")
    assert report.task == config.REGRESSION
    assert table.loc["x", "measure"] == SPEARMAN and table.loc["x", "association"] == pytest.approx(1.0)
    assert table.loc["colour", "measure"] == ETA
    assert table.loc["colour", "association"] == pytest.approx(
        correlation_ratio(frame["colour"], frame["y"]))


def test_distributions_are_histograms_or_top_counts() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"num": rng.normal(size=500), "few": rng.integers(0, 4, 500).astype(float),
                          "cat": [f"c{i % 15}" for i in range(500)], "y": [0, 1] * 250})
    report = eda_report(frame, "y")
    num, few, cat = (report.distributions[c] for c in ("num", "few", "cat"))
    assert len(num) == config.EDA_HISTOGRAM_BINS and num["count"].sum() == 500
    assert list(few["label"]) == ["0", "1", "2", "3"]
    assert len(cat) == config.EDA_TOP_VALUES + 1 and cat["label"].iloc[-1] == "(other: 5 values)"
    assert cat["count"].sum() == 500
    assert list(report.target_distribution["label"]) == ["0", "1"]


def test_warnings_cover_missing_constant_id_imbalance_duplicates_and_skew() -> None:
    rng = np.random.default_rng(2)
    n = 400
    frame = pd.DataFrame({
        "customer_id": np.arange(n) + 1,
        "flat": ["x"] * n,
        "holes": [np.nan] * 200 + list(rng.normal(size=200)),
        "income": rng.lognormal(0, 1.5, n),
        "y": ["rare"] * 12 + ["common"] * (n - 12),
    })
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    report = eda_report(frame, "y")
    found = set(zip(report.warnings["column"], report.warnings["warning"], strict=True))
    assert {("customer_id", "id-like"), ("flat", "constant"), ("holes", "missing"), ("income", "skewed"),
            ("y", "imbalanced target"), ("", "duplicates")} <= found
    assert list(report.warnings.columns) == ["column", "warning", "message"]


def test_large_frames_are_sampled_deterministically_and_the_report_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "EDA_SAMPLE_ROWS", 100)
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=1000), "y": rng.normal(size=1000)})
    first, second = eda_report(frame, "y"), eda_report(frame, "y")
    assert first.overview["rows_sampled"] == 100
    assert any("sample of 100 of 1,000 rows" in note for note in first.notes)
    pd.testing.assert_frame_equal(first.associations, second.associations)
    assert first.distributions["x"]["count"].sum() == 1000  # histograms use every row


def test_no_target_still_profiles_every_column() -> None:
    report = eda_report(_hand_made(), None)
    assert report.target is None and report.associations.empty
    assert set(report.distributions) == {"group", "label", "score", "sparse"}


def test_empty_frames_and_unknown_targets_are_refused() -> None:
    with pytest.raises(InputError, match="no data rows"):
        eda_report(pd.DataFrame(columns=["a"]), None)
    with pytest.raises(InputError, match="no column 'nope'"):
        eda_report(_hand_made(), "nope")


def _assert_standalone(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1 and page.endswith("</html>")
    assert not re.search(r"https?://", page)
    assert "<script" not in page and "<link" not in page and "src=" not in page and "@import" not in page


def test_html_is_one_standalone_file_with_every_section() -> None:
    frame = _hand_made()
    frame["<script>alert(1)</script>"] = 1.0
    report = eda_report(frame, "label")
    page = eda_html(report, "Hand <made>")
    _assert_standalone(page)
    for section in ("overview", "warnings", "target", "associations", "columns", "correlations",
                    "distributions", "notes"):
        assert f'<section id="{section}">' in page
    assert "<title>Hand &lt;made&gt;</title>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<svg") == len(report.distributions) + 1  # every column and the target


def test_html_of_the_largest_sample_stays_small_and_notes_the_sampling() -> None:
    frame = read_csv(sample_path(get_settings().data_dir, "diamonds"))
    report = eda_report(frame, "price")
    assert isinstance(report, EdaReport)
    assert report.overview["rows_sampled"] == config.EDA_SAMPLE_ROWS
    assert report.duplicate_rows == 146
    page = eda_html(report, "diamonds")
    _assert_standalone(page)
    assert len(page.encode()) < 5_000_000
    assert "random sample of 50,000 of 53,940 rows" in page
