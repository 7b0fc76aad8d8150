"""Panels backtested series by series: locally, on local processes, and on a real Dask LocalCluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast.baselines import Naive, SeasonalNaive
from core.forecast.panel import cross_validation_panel, series_of, validate_panel

MODELS = {"naive": Naive, "seasonal_naive": SeasonalNaive}


def _panel() -> pd.DataFrame:
    frames = []
    for i, (step, periods) in enumerate((("1h", 24 * 10), ("1h", 24 * 12), ("1D", 60))):
        ds = pd.date_range("2024-01-01", periods=periods, freq=step, tz="UTC")
        rng = np.random.default_rng(i)
        frames.append(pd.DataFrame({"series_id": f"region-{i}", "ds": ds,
                                    "y": 50 + 20 * np.sin(np.arange(periods) / 6) + rng.normal(0, 2, periods)}))
    panel = pd.concat(frames, ignore_index=True)
    return panel.drop(index=[5, 6, 7])  # missing intervals stay missing


def test_a_series_keeps_its_missing_intervals_as_nan() -> None:
    y = series_of(validate_panel(_panel()), "region-0")
    assert len(y) == 240 and y.isna().sum() == 3


def test_the_panel_is_validated() -> None:
    panel = _panel()
    with pytest.raises(InputError, match="more than once"):
        validate_panel(pd.concat([panel, panel.iloc[[0]]]))
    with pytest.raises(InputError, match="missing y"):
        validate_panel(panel.drop(columns="y"))


def test_each_series_gets_its_own_seasons_and_identical_windows() -> None:
    cv = cross_validation_panel(_panel(), MODELS, horizon=3, n_windows=4, step=3)
    assert cv.groupby("series_id").size().tolist() == [12, 12, 12]
    assert cv.attrs["fits"] == {"naive": 12, "seasonal_naive": 12}


def test_local_processes_give_the_same_result_as_one_process() -> None:
    one = cross_validation_panel(_panel(), MODELS, horizon=3, n_windows=4, step=3)
    two = cross_validation_panel(_panel(), MODELS, horizon=3, n_windows=4, step=3, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)


def test_a_dask_local_cluster_gives_the_same_result_as_a_local_run() -> None:
    from distributed import LocalCluster

    local = cross_validation_panel(_panel(), MODELS, horizon=3, n_windows=4, step=3)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = cross_validation_panel(_panel(), MODELS, horizon=3, n_windows=4, step=3,
                                         scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local, on_dask)
