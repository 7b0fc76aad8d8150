"""Seasons come from the frequency; baselines read only the past."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast.baselines import Naive, SeasonalNaive
from core.forecast.protocol import Seasons
from core.forecast.seasons import infer_step, primary_season, season_lengths


@pytest.mark.parametrize(("step", "expected"), [
    ("5min", (288, 2016)), ("1h", (24, 168)), ("15min", (96, 672)), ("1D", (7, 365)), ("7D", (52,)),
    ("1min", (1440, 10080)),
])
def test_seasons_come_from_the_step(step: str, expected: tuple[int, ...]) -> None:
    assert season_lengths(pd.Timedelta(step)) == expected


def test_only_seasons_the_history_covers_twice_are_kept() -> None:
    assert season_lengths(pd.Timedelta("1D"), n_obs=3 * 365) == (7, 365)
    assert season_lengths(pd.Timedelta("1D"), n_obs=400) == (7,)
    assert season_lengths(pd.Timedelta("1h"), n_obs=30) == ()
    assert primary_season(pd.Timedelta("1h")) == 24 and primary_season(pd.Timedelta("30D")) == 1


def test_the_step_is_the_most_common_gap_despite_missing_intervals() -> None:
    index = pd.date_range("2024-01-01", periods=100, freq="5min", tz="UTC").delete([10, 11, 12, 50])
    assert infer_step(index) == pd.Timedelta("5min")
    with pytest.raises(InputError):
        infer_step(index[:1])


def _series(n: int = 24 * 5) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    return pd.Series(np.arange(n, dtype=float) % 24 + 10.0, index=index)


@pytest.mark.parametrize("model", [Naive(), SeasonalNaive()])
def test_a_baseline_never_reads_past_its_origin(model) -> None:  # type: ignore[no-untyped-def]
    y = _series()
    model.fit(y, Seasons((24, 168)))
    origins = y.index[[30, 60, 90]]
    before = model.forecast(y, origins, 6)
    changed = y.copy()
    for pos in (31, 61, 91, 95):
        changed.iloc[pos] = 1e6  # the future of every origin
    changed.iloc[-1] = np.nan
    assert np.array_equal(before, model.forecast(changed, origins, 6))


def test_seasonal_naive_repeats_yesterday_and_naive_the_last_value() -> None:
    y = _series()
    y.iloc[47] = np.nan  # a missing interval reads as the last known one
    origin = y.index[[47]]
    assert SeasonalNaive().fit(y, Seasons((24,))).forecast(y, origin, 3).tolist() == [[10.0, 11.0, 12.0]]
    assert Naive().fit(y, Seasons((24,))).forecast(y, origin, 2).tolist() == [[32.0, 32.0]]
