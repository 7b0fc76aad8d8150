"""Statistical models (statsforecast) behind the Forecaster protocol: ETS, Theta, ARIMA, MSTL with every
season of the series, and the mean of ETS, Theta and ARIMA.

Each model is fitted once on a history. Forecasting from an origin applies the fitted parameters to the
series up to that origin (statsforecast's ``forward``: states are filtered again, parameters kept), so a
model conditions on newer data without a refit and reads nothing after the origin.

Missing values: statsforecast takes no NaN. A missing interval reads as the last known value (forward
fill) and the missing values before the first known one are dropped; nothing is ever back-filled, so no
value after an origin reaches its forecast. Forecasts are clipped at 0 when the fit history has no
negative value. A history that is constant forecasts its last known value (there is nothing to fit),
and one too short for the library's smallest model forecasts the last known value too.

statsforecast is imported on first use: it pulls numba and statsmodels (2-4 s).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.protocol import Forecaster, Seasons, origin_positions

# statsforecast's ETS keeps at most 24 seasonal states; longer seasons fit without a season.
ETS_MAX_SEASON = 24
# AutoARIMA's seasonal search grows with the period: m=24 fits 75 days of hourly data in ~8 s, m=168
# takes ~30 s and ~1.7 s per origin. Longer seasons fit a non-seasonal ARIMA (MSTL models them instead).
ARIMA_MAX_SEASON = 52
# AutoTheta's four variants without the dynamic optimised one (DOTM): its optimiser took 18 s on
# 75 days of hourly data where the other three took 0.6 s together.
THETA_VARIANTS = ("STM", "OTM", "DSTM")
# STL evaluates its loess smoothers every `jump` points and interpolates between them. R's stl (which R's
# mstl uses) jumps a tenth of each window; statsmodels defaults to every point, which made decomposing three
# years of daily data with a yearly season take 0.9 s per origin. These jumps (one set for every season, as
# statsforecast passes them) backtest ~6x faster at nearly the same MASE on PJM daily load since 2013
# (horizon 28, 13 origins; jumps vs exact: AEP 0.929 vs 0.916, DAYTON 0.867 vs 0.866 with the ARIMA trend).
MSTL_STL_JUMPS = {"trend_jump": 8, "low_pass_jump": 8, "seasonal_jump": 2}


def _library() -> ModuleType:
    # statsforecast compiles its models with numba on first use (~3 s per process, paid again by every
    # worker); a disk cache makes that once per machine. Set before the first import reads them.
    os.environ.setdefault("NIXTLA_NUMBA_CACHE", "1")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "headroom-numba"))
    from statsforecast import models

    return models


@contextmanager
def _quiet() -> Iterator[None]:
    """The optimisers' convergence notes ("possible convergence problem") are noise here: the backtest
    scores are what tell a poor fit."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def known_history(y: pd.Series) -> np.ndarray:
    """The values statsforecast fits: missing intervals read as the last known value, the missing ones
    before the first known value dropped. Never back-filled."""
    filled = y.ffill().to_numpy(dtype=float)
    return filled[np.argmax(~np.isnan(filled)):] if np.isfinite(filled).any() else filled[:0]


def covered(periods: tuple[int, ...], n_obs: int) -> tuple[int, ...]:
    """The seasons a history of ``n_obs`` values covers at least twice (the rule of ``season_lengths``)."""
    return tuple(p for p in periods if p > 1 and n_obs >= 2 * p)


def _season(seasons: Seasons, n_obs: int, cap: int) -> int:
    """The primary season if the history covers it twice and the model can hold it, else 1 (non-seasonal)."""
    primary = seasons.primary
    return primary if primary in covered(seasons.periods, n_obs) and primary <= cap else 1


class _NoFit(Exception):
    """No variant of a model fits this history: the forecaster falls back to the last known value."""


@dataclass
class _StatsForecaster(ABC):
    """Fit one statsforecast model on the known history; ``forward`` it on the history up to each origin."""

    name: str = "stats"
    fitted: Any = None  # the fitted statsforecast model; None after fit means "last known value"
    clip: bool = False
    is_fitted: bool = False

    @abstractmethod
    def _model(self, seasons: Seasons, n_obs: int) -> Any:
        """The unfitted statsforecast model for a history of ``n_obs`` values with these seasons."""

    def fit(self, y: pd.Series, seasons: Seasons) -> _StatsForecaster:
        values = known_history(y)
        if values.size == 0:
            raise InputError(f"{self.name}: the history has no known value to fit")
        self.clip = bool(values.min() >= 0)
        self.fitted = None
        if np.ptp(values) > 0:
            model = self._model(seasons, values.size)
            try:
                with _quiet():
                    self.fitted = model.fit(values)
            # statsforecast raises NotImplementedError for "tiny datasets" (too short for its smallest model).
            except (NotImplementedError, _NoFit):
                self.fitted = None
        self.is_fitted = True
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        if not self.is_fitted:
            raise ValueError(f"{self.name} is not fitted yet: call fit first")
        pos = origin_positions(y, origins)
        filled = y.ffill().to_numpy(dtype=float)
        known = np.isfinite(filled)
        first = int(np.argmax(known)) if known.any() else len(y)
        out = np.full((len(pos), horizon), np.nan)
        for row, p in enumerate(pos):
            if p < first:  # nothing known yet at this origin
                continue
            history = filled[first : p + 1]  # up to the origin, inclusive: never later
            if self.fitted is None:
                out[row] = history[-1]
                continue
            with _quiet():
                out[row] = self.fitted.forward(y=history, h=horizon)["mean"]
        return np.maximum(out, 0.0) if self.clip else out


@dataclass
class ETSModel(_StatsForecaster):
    """AutoETS (error, trend and season chosen by AICc) with the series' primary season: a week for daily
    data, a day for hourly. Non-seasonal when the history covers the season less than twice or it is longer
    than ``ETS_MAX_SEASON``."""

    name: str = "ets"

    def _model(self, seasons: Seasons, n_obs: int) -> Any:
        return _library().AutoETS(season_length=_season(seasons, n_obs, ETS_MAX_SEASON))


@dataclass
class ThetaModel(_StatsForecaster):
    """The theta method with classical seasonal decomposition at the primary season (when the history covers
    it twice and an autocorrelation test finds it). Of the standard, optimised and dynamic standard variants
    the one with the lowest in-sample MSE is kept (AutoTheta's rule, without the slow dynamic optimised one)."""

    name: str = "theta"

    def _model(self, seasons: Seasons, n_obs: int) -> Any:
        return _BestTheta(_season(seasons, n_obs, n_obs))


class _BestTheta:
    """AutoTheta's choice by in-sample MSE over ``THETA_VARIANTS``, exposing ``fit`` and ``forward``."""

    def __init__(self, season_length: int) -> None:
        self.season_length = season_length
        self.chosen: Any = None

    def fit(self, y: np.ndarray) -> _BestTheta:
        sf = _library()
        fits = []
        for variant in THETA_VARIANTS:
            try:
                fits.append(sf.AutoTheta(season_length=self.season_length, model=variant).fit(y))
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                continue
        if not fits:
            raise _NoFit("no theta variant fits this history")
        self.chosen = min(fits, key=lambda m: float(np.nan_to_num(m.model_["mse"], nan=np.inf)))
        return self

    def forward(self, y: np.ndarray, h: int) -> dict[str, np.ndarray]:
        result: dict[str, np.ndarray] = self.chosen.forward(y=y, h=h)
        return result


@dataclass
class ARIMAModel(_StatsForecaster):
    """AutoARIMA with an approximate, stepwise order search (CSS during the search, so three years of daily
    data fit in about a second) and the primary season when the history covers it twice and it is at most
    ``ARIMA_MAX_SEASON``; non-seasonal otherwise."""

    name: str = "arima"

    def _model(self, seasons: Seasons, n_obs: int) -> Any:
        season = _season(seasons, n_obs, ARIMA_MAX_SEASON)
        return _library().AutoARIMA(season_length=season, seasonal=season > 1, approximation=True, stepwise=True)


@dataclass
class MSTLModel(_StatsForecaster):
    """MSTL: the series is decomposed into every season it covers twice (a week and a year for daily data, a
    day and a week for hourly), each seasonal part is carried forward from its last cycle, and the rest is
    forecast by a non-seasonal ``trend`` model: approximate AutoARIMA (default: on PJM daily load it scored
    MASE 0.93 / 0.87 where an ETS trend scored 1.15 / 1.10; the remainder is autocorrelated) or AutoETS.
    Without any covered season it is the trend model alone. Each origin decomposes the history up to it again."""

    name: str = "mstl"
    trend: Literal["ets", "arima"] = "arima"

    def _model(self, seasons: Seasons, n_obs: int) -> Any:
        sf = _library()
        if self.trend == "ets":
            trend = sf.AutoETS(model="ZZN")
        elif self.trend == "arima":
            trend = sf.AutoARIMA(seasonal=False, approximation=True, stepwise=True)
        else:
            raise InputError(f"mstl: unknown trend model '{self.trend}' (ets or arima)")
        periods = covered(seasons.periods, n_obs)
        if not periods:
            return trend
        return sf.MSTL(season_length=list(periods), trend_forecaster=trend, stl_kwargs=dict(MSTL_STL_JUMPS))


def _members() -> list[Forecaster]:
    return [ETSModel(), ThetaModel(), ARIMAModel()]


@dataclass
class StatsMean:
    """The mean of the ETS, Theta and ARIMA forecasts (each fitted on the same history)."""

    name: str = "stats_mean"
    members: list[Forecaster] = field(default_factory=_members)

    def fit(self, y: pd.Series, seasons: Seasons) -> StatsMean:
        self.members = [m.fit(y, seasons) for m in self.members]
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        return np.mean([m.forecast(y, origins, horizon) for m in self.members], axis=0)


STATS_MODELS: dict[str, type[Forecaster]] = {
    "ets": ETSModel, "theta": ThetaModel, "arima": ARIMAModel, "mstl": MSTLModel, "stats_mean": StatsMean,
}
