"""Small slices of the bundled flow logs, so the jobs tests stay fast."""

from __future__ import annotations

import pandas as pd
import pytest

from core.io import read_csv
from core.jobs.columns import detect_columns, prepare_runs
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
