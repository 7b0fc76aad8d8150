"""The baselines every score stands beside: the last value and the same time one season ago."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.forecast.protocol import Seasons, origin_positions


def _known(y: pd.Series) -> np.ndarray:
    """Values with a missing interval read as the last known one. Never back-filled: that would
    let a value after an origin into its forecast; before the first known value it stays NaN."""
    return y.ffill().to_numpy(dtype=float)


@dataclass
class Naive:
    """The last known value, repeated (the random walk)."""

    name: str = "naive"

    def fit(self, y: pd.Series, seasons: Seasons) -> Naive:
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        pos = origin_positions(y, origins)
        last = _known(y)[pos]
        return np.repeat(last[:, None], horizon, axis=1)


@dataclass
class SeasonalNaive:
    """The value one season before the target time (a day ago for sub-daily data, a week for daily)."""

    name: str = "seasonal_naive"
    season: int | None = None  # None: the series' primary season, set by fit

    def fit(self, y: pd.Series, seasons: Seasons) -> SeasonalNaive:
        if self.season is None:
            self.season = seasons.primary
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        if self.season is None:
            raise ValueError("seasonal_naive: call fit first")
        pos = origin_positions(y, origins)
        known = _known(y)
        steps = np.arange(1, horizon + 1)
        back = self.season * np.ceil(steps / self.season).astype(int)
        idx = pos[:, None] + steps[None, :] - back[None, :]
        return known[np.clip(idx, 0, None)]
