"""Traffic forecasters behind one small interface.

Every model is fit on a history (NaN = missing) and then forecasts ``horizon`` steps
from any set of origins, reading actual values only up to each origin. Multi-step
forecasts of the lag models are *recursive*: their one-step prediction is fed back
as the newest value. Prophet reads only the calendar, so its forecast for a target
does not depend on the origin; the hybrid adds an LSTM that forecasts Prophet's
residual recursively from the residuals up to the origin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from core.forecast.features import recursive_forecast, training_matrix
from core.forecast.protocol import origin_positions
from core.ml.lazy import import_keras, import_prophet

if TYPE_CHECKING:  # the libraries themselves are imported lazily, when a model trains
    from lightgbm import LGBMRegressor
    from prophet import Prophet
    from xgboost import XGBRegressor

Progress = Callable[[str], None]
MODEL_NAMES = ("seasonal_naive", "naive", "lightgbm", "xgboost", "prophet", "hybrid")
BASELINES = ("seasonal_naive", "naive")
DEFAULT_MODELS = ("seasonal_naive", "naive", "lightgbm", "xgboost", "prophet", "hybrid")


class Forecaster(Protocol):
    name: str

    def fit(self, y: pd.Series, usable: pd.Series, season: int) -> Forecaster: ...

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        """n_origins × horizon point forecasts, using ``y`` only up to each origin."""
        ...


@dataclass
class SeasonalNaive:
    """y[t] = y[t - one day]; a missing value falls back to the last known one."""

    name: str = "seasonal_naive"
    season: int = 288

    def fit(self, y: pd.Series, usable: pd.Series, season: int) -> SeasonalNaive:
        self.season = season
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        filled = y.ffill().bfill().to_numpy(dtype=float)
        pos = origin_positions(y, origins)
        steps = np.arange(1, horizon + 1)
        back = self.season * np.ceil(steps / self.season).astype(int)
        idx = pos[:, None] + steps[None, :] - back[None, :]
        return filled[np.clip(idx, 0, None)]


@dataclass
class Naive:
    """The last known value, repeated (the random-walk reference)."""

    name: str = "naive"

    def fit(self, y: pd.Series, usable: pd.Series, season: int) -> Naive:
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        last = y.ffill().bfill().to_numpy(dtype=float)[origin_positions(y, origins)]
        return np.repeat(last[:, None], horizon, axis=1)


def level_offset(X: pd.DataFrame, floor: float = 0.5) -> np.ndarray:
    """Log of the local level (EWM of the last 3 intervals, else the last hour's mean, else the
    usual value at this time of day): the margin boosting starts from, per row."""
    base = X["ewm_3"].fillna(X["mean_12"]).fillna(X["profile_7d"]).fillna(0.0).to_numpy(dtype=float)
    # Floored, not shifted: a flat series then starts exactly at its level, and zeros stay finite.
    return np.log(np.maximum(base, floor))


def offset_floor(target: pd.Series) -> float:
    """The level floor for a series: half a request for counts, half the smallest positive value
    for series below one (rates, scaled data), so their level is not lifted to 0.5."""
    positive = target[target > 0]
    return float(min(0.5, 0.5 * positive.min())) if len(positive) else 0.5


@dataclass
class GradientBoosting(ABC):
    """LightGBM or XGBoost on the shared lag/rolling/calendar features, Poisson loss.

    Counts are non-negative and their spread grows with the level, which a Poisson
    (log-link) objective models directly. Boosting starts from each row's local level
    (``level_offset``), so the trees learn the log-ratio to it: split thresholds on raw counts
    no longer have to track the level itself, which left a step-shaped error on large or
    smooth series (2e6 requests per interval: RMSE 11.2k -> 6.7k; NASA 15m 108.0 -> 107.0).
    The tree count is chosen by early stopping on the last 15% of the fit window
    (time-ordered), then the model is refit on all of it. ``LightGBMModel`` and
    ``XGBoostModel`` supply the library calls.
    """

    name: str = "lightgbm"
    learning_rate: float = 0.05
    max_rounds: int = 1500
    n_jobs: int = 2
    season: int = 288
    rounds: int = 0
    native: pd.Series | None = None  # finer counts, when the data is finer than the forecast step
    per_bin: int = 1
    floor: float = 0.5  # see offset_floor
    all_zero: bool = False  # the history held no request at all: forecast zeros, fit no trees

    def fit(self, y: pd.Series, usable: pd.Series, season: int) -> GradientBoosting:
        self.season = season
        X, target = training_matrix(y, season, usable, self.native, self.per_bin)
        if len(X) < 20:
            raise ValueError(f"{self.name} needs at least 20 complete intervals to train, got {len(X)}")
        # A Poisson objective cannot fit labels that are all zero (LightGBM raises "sum of labels is zero").
        self.all_zero = not bool((target > 0).any())
        if self.all_zero:
            return self
        self.floor = offset_floor(target)
        cut = int(len(X) * 0.85)
        offset = level_offset(X, self.floor)
        # Early stopping needs some requests in its own training part too.
        best = self._best_rounds(X, target, offset, cut) if (target.iloc[:cut] > 0).any() else 100
        self.rounds = max(20, int(best * 1.1))
        self._fit_all(X, target, offset)
        return self

    @abstractmethod
    def _best_rounds(self, X: pd.DataFrame, target: pd.Series, offset: np.ndarray, cut: int) -> int:
        """Trees that minimise the error on rows ``cut:`` when trained on rows ``:cut`` (early stopping)."""

    @abstractmethod
    def _fit_all(self, X: pd.DataFrame, target: pd.Series, offset: np.ndarray) -> None:
        """Train ``self.rounds`` trees on every row."""

    @abstractmethod
    def _expected(self, X: pd.DataFrame, offset: np.ndarray) -> np.ndarray:
        """Expected counts of the fitted library model for rows ``X`` on top of ``offset``."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Expected counts for feature rows (the fitted margin on top of each row's level offset)."""
        if self.all_zero:
            return np.zeros(len(X))
        return self._expected(X, level_offset(X, self.floor))

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        step = pd.Timedelta(y.index.freq) if y.index.freq is not None else y.index[1] - y.index[0]
        return recursive_forecast(self.predict, y, origins, horizon, self.season, step, self.native, self.per_bin)


def _not_fitted(name: str) -> ValueError:
    return ValueError(f"{name} is not fitted yet: call fit first")


@dataclass
class LightGBMModel(GradientBoosting):
    name: str = "lightgbm"
    model: LGBMRegressor | None = None

    def _make(self, rounds: int) -> LGBMRegressor:
        import lightgbm as lgb

        return lgb.LGBMRegressor(objective="poisson", n_estimators=rounds, learning_rate=self.learning_rate,
                                 num_leaves=15, min_child_samples=50, subsample=0.8, subsample_freq=1,
                                 colsample_bytree=0.5, reg_lambda=5.0, n_jobs=self.n_jobs, verbose=-1)

    def _best_rounds(self, X: pd.DataFrame, target: pd.Series, offset: np.ndarray, cut: int) -> int:
        import lightgbm as lgb

        probe = self._make(self.max_rounds)
        probe.fit(X.iloc[:cut], target.iloc[:cut], init_score=offset[:cut], eval_X=(X.iloc[cut:],),
                  eval_y=(target.iloc[cut:],), eval_init_score=[offset[cut:]],
                  callbacks=[lgb.early_stopping(100, verbose=False)])
        return int(probe.best_iteration_ or self.max_rounds)

    def _fit_all(self, X: pd.DataFrame, target: pd.Series, offset: np.ndarray) -> None:
        model = self._make(self.rounds)
        model.fit(X, target, init_score=offset)
        self.model = model

    def _expected(self, X: pd.DataFrame, offset: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise _not_fitted(self.name)
        return np.exp(np.asarray(self.model.predict(X, raw_score=True)) + offset)


@dataclass
class XGBoostModel(GradientBoosting):
    name: str = "xgboost"
    model: XGBRegressor | None = None

    def _make(self, rounds: int) -> XGBRegressor:
        import xgboost as xgb

        return xgb.XGBRegressor(objective="count:poisson", n_estimators=rounds, learning_rate=self.learning_rate,
                                max_depth=5, subsample=0.8, colsample_bytree=0.5, min_child_weight=20,
                                n_jobs=self.n_jobs, max_delta_step=0.7)

    def _best_rounds(self, X: pd.DataFrame, target: pd.Series, offset: np.ndarray, cut: int) -> int:
        probe = self._make(self.max_rounds)
        probe.set_params(early_stopping_rounds=100)
        probe.fit(X.iloc[:cut], target.iloc[:cut], base_margin=offset[:cut],
                  eval_set=[(X.iloc[cut:], target.iloc[cut:])], base_margin_eval_set=[offset[cut:]], verbose=False)
        return int(probe.best_iteration) + 1

    def _fit_all(self, X: pd.DataFrame, target: pd.Series, offset: np.ndarray) -> None:
        model = self._make(self.rounds)
        model.fit(X, target, base_margin=offset)
        self.model = model

    def _expected(self, X: pd.DataFrame, offset: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise _not_fitted(self.name)
        return np.asarray(self.model.predict(X, base_margin=offset))


def _naive_index(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Prophet wants naive timestamps: keep the wall-clock (local) time, drop the zone."""
    return index.tz_localize(None) if index.tz is not None else index


# Prophet and the LSTM learn a shape, not a level: the latest points are enough, and their fit
# time grows with every point (a year of 1-minute data would take Prophet minutes and the LSTM
# most of an hour on 2 cores). NASA at 5 minutes (17k points) is well under both caps.
PROPHET_MAX_POINTS = 60_000
LSTM_MAX_SAMPLES = 100_000


@dataclass
class ProphetModel:
    """Prophet with daily and weekly seasonality on local wall-clock time; no lags.
    Fit on at most the latest ``PROPHET_MAX_POINTS`` known intervals."""

    name: str = "prophet"
    model: Prophet | None = None

    def fit(self, y: pd.Series, usable: pd.Series, season: int) -> ProphetModel:
        import logging

        logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
        Prophet = import_prophet()
        keep = usable.reindex(y.index, fill_value=False).to_numpy(dtype=bool) & y.notna().to_numpy()
        frame = pd.DataFrame({"ds": _naive_index(y.index[keep]), "y": y.to_numpy()[keep]}).tail(PROPHET_MAX_POINTS)
        model = Prophet(daily_seasonality=True, weekly_seasonality=True, yearly_seasonality=False,
                        uncertainty_samples=0, seasonality_mode="multiplicative")
        model.fit(frame)
        self.model = model
        return self

    def at(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Prophet's value at each (local) time."""
        if self.model is None:
            raise _not_fitted(self.name)
        frame = pd.DataFrame({"ds": _naive_index(times)})
        return np.maximum(self.model.predict(frame)["yhat"].to_numpy(), 0.0)

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        step = y.index[1] - y.index[0]
        # Column k-1 holds the targets origin + k steps; Prophet only needs their times.
        targets = [origins + k * step for k in range(1, horizon + 1)]
        flat = targets[0].append(targets[1:]) if horizon > 1 else targets[0]
        return self.at(flat).reshape(horizon, len(origins)).T


@dataclass
class HybridProphetLSTM:
    """Prophet for the calendar shape + an LSTM that forecasts Prophet's residual.

    The LSTM reads the last ``lookback`` residuals (scaled by a scaler fit on training
    residuals only) with the time of day, and predicts the next residual; multi-step is
    recursive. Training uses a time-ordered validation tail for early stopping, on at most the
    latest ``LSTM_MAX_SAMPLES`` windows.
    """

    name: str = "hybrid"
    lookback: int = 36
    units: int = 32
    epochs: int = 25
    batch_size: int = 256
    prophet: ProphetModel = field(default_factory=ProphetModel)
    network: Any = None  # a keras.Model (keras ships no type information)
    scale: float = 1.0
    history: dict[str, list[float]] = field(default_factory=dict)

    def _residuals(self, y: pd.Series) -> np.ndarray:
        return (y.to_numpy(dtype=float) - self.prophet.at(y.index)) / self.scale

    def _inputs(self, resid_windows: np.ndarray, targets: pd.DatetimeIndex) -> np.ndarray:
        # NaN residuals (outages) become 0 = "no deviation from Prophet's shape".
        r = np.nan_to_num(resid_windows, nan=0.0)
        minutes = (targets.hour * 60 + targets.minute).to_numpy()
        tod = np.stack([np.sin(2 * np.pi * minutes / 1440), np.cos(2 * np.pi * minutes / 1440)], axis=1)
        return np.concatenate([r[:, :, None], np.repeat(tod[:, None, :], r.shape[1], axis=1)], axis=2).astype(
            np.float32)

    def fit(self, y: pd.Series, usable: pd.Series, season: int) -> HybridProphetLSTM:
        self.prophet.fit(y, usable, season)
        raw = y.to_numpy(dtype=float) - self.prophet.at(y.index)
        self.scale = float(np.nanstd(raw)) or 1.0
        resid = raw / self.scale
        windows = np.lib.stride_tricks.sliding_window_view(resid[:-1], self.lookback)
        targets = resid[self.lookback:]
        ok = ~np.isnan(targets) & usable.reindex(y.index, fill_value=False).to_numpy(dtype=bool)[self.lookback:]
        ok &= ~np.isnan(windows).all(axis=1)
        ok[np.flatnonzero(ok)[:-LSTM_MAX_SAMPLES]] = False  # the latest samples only
        X = self._inputs(windows[ok], y.index[self.lookback:][ok])
        t = targets[ok].astype(np.float32)
        if len(t) < 50:
            raise ValueError(f"the hybrid model needs at least 50 complete intervals to train, got {len(t)}")
        keras = import_keras()
        keras.utils.set_random_seed(7)
        net = keras.Sequential([keras.Input(shape=(self.lookback, 3)), keras.layers.LSTM(self.units),
                                keras.layers.Dense(1)])
        net.compile(optimizer=keras.optimizers.Adam(2e-3), loss="huber")
        cut = int(len(t) * 0.85)
        stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
        fit = net.fit(X[:cut], t[:cut], validation_data=(X[cut:], t[cut:]), epochs=self.epochs,
                      batch_size=self.batch_size, callbacks=[stop], verbose=0, shuffle=True)
        self.history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
        self.network = net
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        if self.network is None:
            raise _not_fitted(self.name)
        step = y.index[1] - y.index[0]
        resid = np.concatenate([np.full(self.lookback, np.nan), self._residuals(y)])
        pos = origin_positions(y, origins) + self.lookback
        windows = resid[(pos + 1)[:, None] + np.arange(-self.lookback, 0)[None, :]]
        out = np.empty((len(origins), horizon))
        for k in range(1, horizon + 1):
            targets = origins + k * step
            nxt = np.asarray(self.network(self._inputs(windows, targets), training=False)).reshape(-1)
            out[:, k - 1] = np.maximum(self.prophet.at(targets) + nxt * self.scale, 0.0)
            windows = np.concatenate([windows[:, 1:], nxt[:, None]], axis=1)
        return out


def make_model(name: str, *, n_jobs: int = 2, native: pd.Series | None = None, per_bin: int = 1) -> Forecaster:
    """A fresh model by name; ``native``/``per_bin`` give lag models the finer-grained counts."""
    if name == "seasonal_naive":
        return SeasonalNaive()
    if name == "naive":
        return Naive()
    if name == "lightgbm":
        return LightGBMModel(n_jobs=n_jobs, native=native, per_bin=per_bin)
    if name == "xgboost":
        return XGBoostModel(n_jobs=n_jobs, native=native, per_bin=per_bin)
    if name == "prophet":
        return ProphetModel()
    if name == "hybrid":
        return HybridProphetLSTM()
    raise ValueError(f"unknown model '{name}' (choose from {', '.join(MODEL_NAMES)})")
