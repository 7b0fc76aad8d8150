"""The leakage scan flags near-copies, target-plus-noise and accounting identities, never honest features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.automl import config
from core.automl.detection import detect_roles, detect_task, roles_dict
from core.automl.leakage import leakage_scan
from core.automl.samples import sample_path
from core.config import get_settings
from core.errors import InputError
from core.io import read_csv

DATA_DIR = get_settings().data_dir


def _scan(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    roles = roles_dict(detect_roles(frame, target))
    return leakage_scan(frame, target, detect_task(frame[target])[0], roles).set_index("column")


def _regression_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    honest = rng.normal(size=n)
    y = honest + rng.normal(size=n)
    return pd.DataFrame({
        "honest": honest,  # |corr| ~ 0.7
        "copy": 3.0 * y + 7.0,
        "noisy": y + rng.normal(scale=0.02 * y.std(), size=n),
        "region": rng.choice(["north", "south", "east"], n),
        "row_id": np.arange(n),  # an ID: not scanned
        "flat": ["x"] * n,  # a constant: not scanned
        "y": y,
    })


def test_regression_flags_a_near_copy_and_target_plus_noise_but_not_honest_features() -> None:
    table = _scan(_regression_frame(), "y")
    assert list(table.reset_index().columns) == ["column", "score", "metric", "near_copy", "flagged", "reason"]
    assert set(table.index) == {"honest", "copy", "noisy", "region"}  # IDs and constants are skipped
    assert table.loc["copy", "near_copy"] and table.loc["copy", "flagged"]
    assert "near-copy of the target" in table.loc["copy", "reason"]
    assert table.loc["noisy", "flagged"] and table.loc["noisy", "score"] >= config.LEAKAGE_R2
    assert not table.loc["honest", "flagged"] and not table.loc["region", "flagged"]
    assert "no sign of leakage" in table.loc["honest", "reason"]
    assert (table["metric"] == "r2").all()
    assert list(table.index[:2]) == ["copy", "noisy"] or list(table.index[:2]) == ["noisy", "copy"]


def test_classification_flags_a_one_to_one_category_and_a_leaky_number() -> None:
    rng = np.random.default_rng(1)
    n = 600
    honest = rng.normal(size=n)
    label = np.where(honest + rng.normal(size=n) > 0, "yes", "no")
    frame = pd.DataFrame({
        "honest": honest,
        "answer_code": np.where(label == "yes", "Y", "N"),  # maps one-to-one to the target
        "refund": (label == "yes") * 10.0 + rng.normal(scale=0.5, size=n),  # known only after the outcome
        "label": label,
    })
    table = _scan(frame, "label")
    assert table.loc["answer_code", "near_copy"] and table.loc["answer_code", "flagged"]
    assert "goes with one class" in table.loc["answer_code", "reason"]
    assert table.loc["refund", "flagged"] and table.loc["refund", "score"] >= config.LEAKAGE_AUC
    assert not table.loc["honest", "flagged"]
    assert 0.6 < table.loc["honest", "score"] < 0.9
    assert (table["metric"] == "roc_auc").all()


def test_multiclass_uses_macro_one_vs_rest_auc() -> None:
    frame = read_csv(sample_path(DATA_DIR, "penguins"))
    table = _scan(frame, "species")
    assert (table["metric"] == "roc_auc_ovr_macro").all()
    assert not table["flagged"].any()
    assert table.loc["flipper_length_mm", "score"] > 0.8


def test_taxis_tip_flags_the_accounting_identity_total_fare_tolls() -> None:
    """Alone no column gives ``tip`` away (``total`` scores R² ~0.44); together ``total - fare - tolls``
    equals the tip up to a few surcharge amounts in 92 % of trips, and those three are flagged."""
    table = _scan(read_csv(sample_path(DATA_DIR, "taxis")), "tip")
    flagged = set(table.index[table["flagged"]])
    assert flagged == {"total", "fare", "tolls"}
    assert not table["near_copy"].any()
    assert (table.loc[list(flagged), "score"] < 0.5).all()
    assert "tip = total - fare - tolls" in table.loc["total", "reason"]
    assert not table.loc["payment", "flagged"] and not table.loc["distance", "flagged"]


def test_diamonds_honest_features_are_not_flagged_and_the_scan_is_bounded() -> None:
    frame = read_csv(sample_path(DATA_DIR, "diamonds"))
    table = _scan(frame, "price")
    assert not table["flagged"].any()
    assert table.loc["carat", "score"] > 0.8  # strong, but far from a copy
    assert len(table) == 9


def test_the_scan_is_deterministic_for_a_seed() -> None:
    frame = _regression_frame()
    roles = roles_dict(detect_roles(frame, "y"))
    first = leakage_scan(frame, "y", config.REGRESSION, roles, seed=3)
    second = leakage_scan(frame, "y", config.REGRESSION, roles, seed=3)
    pd.testing.assert_frame_equal(first, second)


def test_bad_targets_are_refused() -> None:
    frame = _regression_frame()
    with pytest.raises(InputError, match="no column 'nope'"):
        leakage_scan(frame, "nope", config.REGRESSION, {})
    with pytest.raises(InputError, match="not numbers"):
        leakage_scan(frame, "region", config.REGRESSION, {})
