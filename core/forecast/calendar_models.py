"""Calendar models: Prophet (daily, weekly and, with two years of history, yearly shape on local wall-clock
time, optionally a country's public holidays; no lags) and a hybrid whose LSTM forecasts Prophet's residual
recursively from the residuals up to the origin.

Prophet reads only the calendar, so its forecast for a target time does not depend on the origin.
Both import their libraries lazily (TensorFlow costs ~5 s and ~700 MB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.forecast.calendar import holiday_flags
from core.forecast.protocol import Seasons, origin_positions
from core.forecast.seasons import DAY, YEAR_DAYS, infer_step
from core.ml.lazy import import_keras, import_prophet

if TYPE_CHECKING:
    from prophet import Prophet


def _usable(usable: pd.Series | None, y: pd.Series) -> np.ndarray:
    if usable is None:
        return np.ones(len(y), dtype=bool)
    return usable.reindex(y.index, fill_value=False).to_numpy(dtype=bool)


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
    """Prophet with multiplicative seasonality on local wall-clock time; no lags. Fit on at most the latest
    ``PROPHET_MAX_POINTS`` known intervals.

    Seasons: daily when the step is below a day (``daily=None``), weekly always, yearly when the fitted
    history spans at least two years (``yearly=None``); ``True``/``False`` force one on or off. With
    ``country`` (an ISO code such as ``US``), that country's public holidays (the ``holidays`` package, no
    network) are Prophet holidays, each with its own multiplicative effect."""

    name: str = "prophet"
    usable: pd.Series | None = None  # intervals that may be fitted (None: every known one)
    country: str | None = None
    yearly: bool | None = None
    daily: bool | None = None
    model: Prophet | None = None

    def fit(self, y: pd.Series, seasons: Seasons) -> ProphetModel:
        import logging

        logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
        Prophet = import_prophet()
        keep = _usable(self.usable, y) & y.notna().to_numpy()
        frame = pd.DataFrame({"ds": _naive_index(y.index[keep]), "y": y.to_numpy()[keep]}).tail(PROPHET_MAX_POINTS)
        daily = self.daily if self.daily is not None else (len(y) < 2 or infer_step(y.index) < DAY)
        span = frame["ds"].max() - frame["ds"].min() if len(frame) else pd.Timedelta(0)
        yearly = self.yearly if self.yearly is not None else span >= 2 * YEAR_DAYS * DAY
        model = Prophet(daily_seasonality=daily, weekly_seasonality=True, yearly_seasonality=yearly,
                        uncertainty_samples=0, seasonality_mode="multiplicative")
        if self.country:
            holiday_flags(y.index[:1], self.country)  # an unknown code raises InputError, naming it
            model.add_country_holidays(country_name=self.country.upper())
        model.fit(frame)
        self.model = model
        return self

    def at(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Prophet's value at each (local) time."""
        if self.model is None:
            raise ValueError(f"{self.name} is not fitted yet: call fit first")
        # Prophet returns its predictions sorted by time: predict each distinct time once, in order,
        # then map them back onto the times as asked (several origins interleave them).
        wanted = _naive_index(times)
        unique = wanted.unique().sort_values()
        yhat = self.model.predict(pd.DataFrame({"ds": unique}))["yhat"].to_numpy()
        return np.maximum(yhat[unique.get_indexer(wanted)], 0.0)

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        step = infer_step(y.index)
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
    usable: pd.Series | None = None
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

    def fit(self, y: pd.Series, seasons: Seasons) -> HybridProphetLSTM:
        self.prophet.usable = self.usable
        self.prophet.fit(y, seasons)
        raw = y.to_numpy(dtype=float) - self.prophet.at(y.index)
        self.scale = float(np.nanstd(raw)) or 1.0
        resid = raw / self.scale
        windows = np.lib.stride_tricks.sliding_window_view(resid[:-1], self.lookback)
        targets = resid[self.lookback:]
        ok = ~np.isnan(targets) & _usable(self.usable, y)[self.lookback:]
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
            raise ValueError(f"{self.name} is not fitted yet: call fit first")
        step = infer_step(y.index)
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
