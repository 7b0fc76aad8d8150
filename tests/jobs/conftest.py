"""Small slices of the bundled flow logs, so the jobs tests stay fast."""

from __future__ import annotations

import pandas as pd
import pytest

from core.io import read_csv
from core.jobs.columns import detect_columns, prepare_runs
from core.jobs.training import TrainConfig, TrainResult, train_models
from tests.support import ROOT

BUNDLED = ROOT / "data" / "eda_stage_runs.csv"


@pytest.fixture(scope="session")
def bundled_raw() -> pd.DataFrame:
    return read_csv(BUNDLED)


@pytest.fixture(scope="session")
def small_raw(bundled_raw: pd.DataFrame) -> pd.DataFrame:
    """Two platforms' runs from 2023-01 on: ~2k rows over 18 months, with drift and new stages."""
    frame = bundled_raw[bundled_raw["platform"].isin(["sky130hd", "gf180"])
                        & (bundled_raw["run_date"] >= "2022-06-01")]
    return frame.reset_index(drop=True)


@pytest.fixture(scope="session")
def small_runs(small_raw: pd.DataFrame):  # type: ignore[no-untyped-def]
    return prepare_runs(small_raw, detect_columns(small_raw))


@pytest.fixture(scope="session")
def lightgbm_config() -> TrainConfig:
    """A small LightGBM (30 trees) beside the history baseline."""
    return TrainConfig(algorithms=("lightgbm",), lgbm_estimators=30)


@pytest.fixture(scope="session")
def lightgbm_result(small_runs, lightgbm_config: TrainConfig) -> TrainResult:  # type: ignore[no-untyped-def]
    """``lightgbm_config`` trained once on ``small_runs``, for the tests that need some trained models (the
    figures, the status line, the registry's offer) rather than a training run of their own."""
    return train_models(small_runs, lightgbm_config)
