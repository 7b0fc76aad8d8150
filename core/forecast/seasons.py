"""Seasonal periods come from the data's step, never from literals spread through the code."""

from __future__ import annotations

import pandas as pd

from core.errors import InputError

DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)
YEAR_DAYS = 365


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The series' step: the most common gap between consecutive timestamps (gaps from missing
    intervals and a DST change are outvoted)."""
    if len(index) < 2:
        raise InputError("a series needs at least two timestamps to have a step")
    gaps = pd.Series(index).diff().dropna()
    gaps = gaps[gaps > pd.Timedelta(0)]
    if gaps.empty:
        raise InputError("every timestamp of the series is the same")
    return pd.Timedelta(gaps.mode().iloc[0])


def season_lengths(step: pd.Timedelta, n_obs: int | None = None) -> tuple[int, ...]:
    """Seasonal periods in steps, shortest first: a day and a week for sub-daily data; a week and
    a year for daily data; a year (52) for weekly data. With ``n_obs``, only seasons the history
    covers at least twice are kept (a season seen once cannot be told from noise)."""
    step = pd.Timedelta(step)
    if step <= pd.Timedelta(0):
        raise InputError("the step must be positive")
    if step < DAY:
        candidates = [DAY / step, WEEK / step]
    elif step == DAY:
        candidates = [7.0, float(YEAR_DAYS)]
    elif step == WEEK:
        candidates = [52.0]
    else:
        candidates = []
    periods = tuple(int(p) for p in candidates if float(p).is_integer() and p > 1)
    if n_obs is not None:
        periods = tuple(p for p in periods if n_obs >= 2 * p)
    return periods


def primary_season(step: pd.Timedelta) -> int:
    """The season the seasonal-naive baseline and MASE use: the shortest one (a day of steps for
    sub-daily data, a week for daily), or 1 when the step has no season."""
    periods = season_lengths(step)
    return periods[0] if periods else 1
