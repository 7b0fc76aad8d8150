"""Problem type, roles, budget and target checks: the reference's tricky cases and every sample set."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.automl import config
from core.automl.detection import (
    auto_budget,
    detect_roles,
    detect_task,
    detect_time_column,
    name_tokens,
    roles_dict,
    validate_target,
)
from core.automl.samples import SAMPLES, SAMPLES_DIR, sample_named, sample_path
from core.config import get_settings
from core.datasets import BUNDLED
from core.errors import InputError
from core.io import read_csv
from tests.support import ROOT

DATA_DIR = get_settings().data_dir


def _roles(frame: pd.DataFrame, target: str = "y") -> dict[str, str]:
    return roles_dict(detect_roles(frame, target))


def _frame(**columns: object) -> pd.DataFrame:
    """A 200-row frame with a binary target ``y`` beside the given columns."""
    return pd.DataFrame({"y": [0, 1] * 100, **columns})


# --- problem type ---------------------------------------------------------------------------------------


def test_continuous_floats_with_few_unique_values_stay_regression() -> None:
    task, reason = detect_task(pd.Series([35.5, 40.2, 38.7] * 100, name="temp"))
    assert task == config.REGRESSION
    assert "decimal" in reason and "3 unique" in reason


def test_integers_with_few_values_are_classification_even_stored_as_floats() -> None:
    task, reason = detect_task(pd.Series([1.0, 2.0, 3.0] * 50))
    assert task == config.CLASSIFICATION
    assert reason == "integer values with 3 unique values (≤ 10): classification"


def test_integers_under_20_values_need_a_low_unique_ratio_to_be_classes() -> None:
    many_rows = pd.Series(np.arange(1000) % 15)
    few_rows = pd.Series(np.arange(100) % 15)
    assert detect_task(many_rows)[0] == config.CLASSIFICATION  # 15 values in 1,000 rows: 1.5 %
    assert detect_task(few_rows)[0] == config.REGRESSION  # 15 values in 100 rows: 15 %


def test_strings_and_booleans_are_classification() -> None:
    assert detect_task(pd.Series(["cat", "dog", "cat", "bird"]))[0] == config.CLASSIFICATION
    assert detect_task(pd.Series([True, False, True]))[0] == config.CLASSIFICATION


def test_many_distinct_numbers_are_regression() -> None:
    task, reason = detect_task(pd.Series(np.linspace(0, 1, 500)))
    assert task == config.REGRESSION and "500 unique values" in reason


def test_text_missing_tokens_are_not_a_class() -> None:
    task, reason = detect_task(pd.Series(["a", "b", "", "NA", "a"]))
    assert task == config.CLASSIFICATION and "2 classes" in reason


# --- roles ------------------------------------------------------------------------------------------------


def test_name_tokens_split_words_and_camel_case() -> None:
    assert name_tokens("PassengerId") == ["passenger", "id"]
    assert name_tokens("user_valid") == ["user", "valid"]
    assert name_tokens("userID") == ["user", "id"]
    assert name_tokens("idle_time") == ["idle", "time"]


@pytest.mark.parametrize("name", ["id", "ID", "customer_id", "PassengerId", "userID", "uuid", "key", "index"])
def test_identifier_names_with_unique_values_are_ids(name: str) -> None:
    values = np.random.default_rng(0).permutation(200) * 7 + 1000  # unique, not a consecutive range
    table = detect_roles(_frame(**{name: values}), "y").set_index("column")
    assert table.loc[name, "role"] == config.ID
    assert "unique ratio 1.00 and name matches" in table.loc[name, "reason"]


@pytest.mark.parametrize("name", ["user_valid", "idle_time", "valid", "paid", "video_width"])
def test_names_that_only_contain_id_letters_are_not_ids(name: str) -> None:
    values = np.random.default_rng(1).permutation(200) * 7 + 1000
    assert _roles(_frame(**{name: values}))[name] == config.FEATURE


def test_an_id_name_with_few_values_stays_a_feature_and_says_why() -> None:
    table = detect_roles(_frame(store_id=[1, 2, 3, 4] * 50), "y").set_index("column")
    assert table.loc["store_id", "role"] == config.FEATURE
    assert "only 4 distinct values" in table.loc["store_id", "reason"]


def test_a_shuffled_row_number_is_an_id_but_a_year_per_row_is_not() -> None:
    rows = np.random.default_rng(2).permutation(200) + 1
    table = detect_roles(_frame(row=rows, year=np.arange(1800, 2000)), "y").set_index("column")
    assert table.loc["row", "role"] == config.ID and "row number" in table.loc["row", "reason"]
    assert table.loc["year", "role"] == config.FEATURE


def test_short_codes_different_in_every_row_are_ids() -> None:
    codes = [f"X{i:05d}" for i in range(200)]
    assert _roles(_frame(code=codes))["code"] == config.ID


def test_constant_and_all_missing_columns() -> None:
    table = detect_roles(_frame(one=["same"] * 200, empty=[""] * 200, nan=[np.nan] * 200), "y").set_index("column")
    assert table.loc["one", "role"] == config.CONSTANT and "one distinct value" in table.loc["one", "reason"]
    assert table.loc["empty", "role"] == config.CONSTANT and table.loc["empty", "missing_share"] == 1.0
    assert table.loc["nan", "role"] == config.CONSTANT


def test_date_text_is_datetime_but_plain_numbers_and_mostly_junk_are_not() -> None:
    days = pd.date_range("2024-01-01", periods=200, freq="D").strftime("%Y-%m-%d").tolist()
    junk = days[:150] + ["soon"] * 50
    compact = [20240101 + i for i in range(200)]
    roles = _roles(_frame(day=days, junk=junk, compact=compact))
    assert roles["day"] == config.DATETIME
    assert roles["junk"] != config.DATETIME
    assert roles["compact"] != config.DATETIME


def test_high_cardinality_strings_and_free_text() -> None:
    rng = np.random.default_rng(3)
    codes = [f"T-{rng.integers(0, 150)}" for _ in range(200)]  # ~110 distinct single words
    words = ["red", "green", "blue", "big", "small", "old", "new", "fast"]
    text = [" ".join(rng.choice(words, 4)) + f" {i}" for i in range(200)]
    table = detect_roles(_frame(code=codes, text=text), "y").set_index("column")
    assert table.loc["code", "role"] == config.HIGH_CARDINALITY
    assert table.loc["text", "role"] == config.TEXT and "words per value" in table.loc["text", "reason"]


def test_roles_table_has_the_documented_columns_and_a_reason_for_every_row() -> None:
    table = detect_roles(_frame(x=np.arange(200) * 0.5), "y")
    assert list(table.columns) == ["column", "role", "reason", "kind", "unique_ratio", "missing_share"]
    assert table.set_index("column").loc["y", "role"] == config.TARGET
    assert table["reason"].str.len().gt(0).all()
    assert set(table["role"]) <= set(config.ROLES)


# --- the sample sets --------------------------------------------------------------------------------------

# (file, target, task, roles that are not plain features)
EXPECTED = [
    ("titanic", "Survived", config.CLASSIFICATION,
     {"PassengerId": config.ID, "Name": config.TEXT, "Ticket": config.HIGH_CARDINALITY,
      "Cabin": config.HIGH_CARDINALITY}),
    ("penguins", "species", config.CLASSIFICATION, {}),
    ("diamonds", "price", config.REGRESSION, {}),
    ("taxis", "total", config.REGRESSION, {"pickup": config.DATETIME, "dropoff": config.DATETIME}),
    ("taxis", "tip", config.REGRESSION, {"pickup": config.DATETIME, "dropoff": config.DATETIME}),
    ("taxis", "payment", config.CLASSIFICATION, {"pickup": config.DATETIME, "dropoff": config.DATETIME}),
    ("mpg", "mpg", config.REGRESSION, {"name": config.TEXT}),
    ("breast_cancer", "target", config.CLASSIFICATION, {}),
    ("diabetes", "target", config.REGRESSION, {}),
    ("wine", "target", config.CLASSIFICATION, {}),
]


@pytest.fixture(scope="module")
def sample_frames() -> dict[str, pd.DataFrame]:
    return {Path(s.file).stem: read_csv(sample_path(DATA_DIR, s.file)) for s in SAMPLES}


@pytest.mark.parametrize(("name", "target", "task", "special"), EXPECTED, ids=[f"{e[0]}-{e[1]}" for e in EXPECTED])
def test_every_sample_gets_its_task_and_roles(sample_frames: dict[str, pd.DataFrame], name: str, target: str,
                                              task: str, special: dict[str, str]) -> None:
    frame = sample_frames[name]
    validate_target(frame, target)
    assert detect_task(frame[target])[0] == task
    roles = _roles(frame, target)
    not_features = {c: r for c, r in roles.items() if r not in (config.FEATURE, config.TARGET)}
    assert not_features == special
    assert roles[target] == config.TARGET


def test_titanic_name_never_becomes_a_plain_feature(sample_frames: dict[str, pd.DataFrame]) -> None:
    table = detect_roles(sample_frames["titanic"], "Survived").set_index("column")
    assert table.loc["PassengerId", "reason"] == "unique ratio 1.00 and name matches PassengerId (token 'id')"
    assert table.loc["Name", "role"] not in (config.FEATURE, config.ID)


def test_the_time_column_is_the_first_datetime_role(sample_frames: dict[str, pd.DataFrame]) -> None:
    taxis = sample_frames["taxis"]
    assert detect_time_column(taxis, _roles(taxis, "total")) == "pickup"
    titanic = sample_frames["titanic"]
    assert detect_time_column(titanic, _roles(titanic, "Survived")) is None


def test_default_targets_are_the_ones_checked_here() -> None:
    defaults = {(Path(s.file).stem, s.target) for s in SAMPLES}
    assert defaults <= {(e[0], e[1]) for e in EXPECTED}
    assert len(SAMPLES) == 8


def test_samples_are_files_under_the_data_dir_and_registered_as_bundled() -> None:
    bundled = {item.file for item in BUNDLED}
    for sample in SAMPLES:
        path = sample_path(DATA_DIR, Path(sample.file).stem)
        assert path == DATA_DIR / SAMPLES_DIR / sample.file and path.exists()
        assert f"{SAMPLES_DIR}/{sample.file}" in bundled
    assert sample_named("titanic.csv").target == "Survived"


@pytest.mark.parametrize("name", ["nope", "../nasa_http_5m.csv", "/etc/passwd", ""])
def test_unknown_sample_names_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="no sample data set"):
        sample_path(DATA_DIR, name)


def test_exported_sklearn_files_match_the_script() -> None:
    spec = importlib.util.spec_from_file_location("export_sklearn_sets", ROOT / "scripts" / "export_sklearn_sets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, frame in module.sklearn_sets().items():
        written = (DATA_DIR / SAMPLES_DIR / name).read_text()
        assert written == frame.to_csv(index=False, lineterminator="\n")
    cancer = read_csv(DATA_DIR / SAMPLES_DIR / "breast_cancer.csv")
    assert set(cancer["target"]) == {"malignant", "benign"}


# --- budget and target checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "seconds"), [(0, 120), (999, 120), (1_000, 300), (9_999, 300), (10_000, 600),
                                               (49_999, 600), (50_000, 1_200), (5_000_000, 1_200)])
def test_auto_budget_follows_the_reference_table(rows: int, seconds: int) -> None:
    assert auto_budget(rows) == seconds


@pytest.mark.parametrize(
    ("frame", "target", "message"),
    [
        (pd.DataFrame(), "y", "no data rows"),
        (pd.DataFrame(columns=["x", "y"]), "y", "no data rows"),
        (pd.DataFrame({"x": range(30), "y": [0, 1] * 15}), "label", "no column 'label' to predict"),
        (pd.DataFrame({"x": [1.0], "y": [1]}), "y", "only 1 row;"),
        (pd.DataFrame({"x": range(30), "y": [np.nan] * 30}), "y", "empty in every row"),
        (pd.DataFrame({"x": range(30), "y": [""] * 15 + ["NA"] * 15}), "y", "empty in every row"),
        (pd.DataFrame({"x": range(30), "y": ["spam"] * 30}), "y", "one value \\('spam'\\)"),
        (pd.DataFrame({"x": range(30), "y": pd.date_range("2024-01-01", periods=30)}), "y", "dates"),
        (pd.DataFrame({"x": range(30), "y": [1, 2] * 5 + [np.nan] * 20}), "y", "a value in only 10 rows"),
    ],
    ids=["no-columns", "header-only", "missing-column", "one-row", "all-nan", "all-missing-tokens", "constant",
         "dates", "few-labelled"],
)
def test_bad_targets_are_refused_with_a_clear_message(frame: pd.DataFrame, target: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_target(frame, target)
