"""One small interface for every model, so backtests, ensembles, the CLI and pages treat them alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Seasons:
    """The seasonal periods of a series in steps (``season_lengths``) and the one baselines use."""

    periods: tuple[int, ...]

    @property
    def primary(self) -> int:
        return self.periods[0] if self.periods else 1


class Forecaster(Protocol):
    """Fit on a history, then forecast ``horizon`` steps from one or many origins.

    ``forecast`` may read ``y`` only up to each origin (inclusive): a fitted model conditions on
    newer data without being refit, which is what makes ``refit_every`` in backtests cheap and
    honest. ``y`` keeps missing intervals as NaN."""

    name: str

    def fit(self, y: pd.Series, seasons: Seasons) -> Forecaster: ...

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        """An ``len(origins) × horizon`` array of point forecasts."""
        ...


def origin_positions(y: pd.Series, origins: pd.DatetimeIndex) -> np.ndarray:
    pos = y.index.get_indexer(origins)
    if (pos < 0).any():
        raise ValueError("forecast origins must be timestamps of the series")
    return pos
