"""GlobalLSTM: one small recurrent network for every series of a panel, forecasting all steps at once.

Each window is a (series, origin) pair. The network reads three inputs, all built from the calendar and from
values up to the origin only, on the scale ``direct_gbm`` uses (so the two models see a series alike: the
signed log of launch-free values, relative to the anchor at the origin, in units of the series' typical
seasonal change; the scale is per window and read from the past, nothing is fit on a whole series):

- the last ``lookback`` values (NaN read as 0, with a mask channel) and their calendar (day of week and of
  year, holiday, hour for sub-daily grids), through an LSTM;
- each target step's calendar (the same, plus nearness to a holiday and the launch factor relative to the
  origin's), the trend the anchor carries, the usual value at that time of the season and, on daily grids,
  last years' seasonal change to that date;
- the series' group and its change scale.

The decoder is shared by every step (a Dense layer over [context, that step's calendar]), so a holiday at step
k lowers step k whatever k is, plus a linear head from the context that gives each step its own offset
(the "forking" multi-horizon decoder of MQ-RNN). Loss: Huber on the known targets only; the epochs stop
early on a time-ordered validation tail. TensorFlow is imported lazily (``core.ml.lazy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.calendar_panel import CalendarPanel, signed_exp, take
from core.forecast.direct_gbm import (
    PanelLayout,
    PreparedPanel,
    anchors,
    origin_pairs,
    panel_layout,
    prepare_panel,
    seasonal_columns,
    target_calendar,
    year_columns,
)
from core.forecast.global_forecaster import PanelOrigins
from core.forecast.protocol import Seasons
from core.forecast.seasons import DAY
from core.ml.lazy import import_keras

LOOKBACK_SPAN = {"daily": pd.Timedelta(days=56), "sub_daily": pd.Timedelta(days=7)}  # the default lookback's cap
# Training windows are capped so an epoch reads about this many time steps (windows x lookback): on 2 cores an
# epoch then takes ~3 s, daily (56 steps back: 26k windows) or hourly (168 back: 8.9k windows) alike.
WINDOW_STEPS = 1_500_000
MIN_WINDOWS = 50  # fewer training windows cannot be split into a fit and a validation part worth the name
VALID_SHARE = 0.15  # the latest windows (by origin time) early stopping is measured on
CLIP = 10.0  # inputs beyond this many change scales are clipped: one outlier must not saturate the cell
HOLIDAY_SPAN = 4.0  # days to / from a holiday are divided by this (calendar_panel caps them at 4)


def default_lookback(layout: PanelLayout, seasons: Seasons, step: pd.Timedelta) -> int:
    """Twice the longest season, at most 56 days of daily data or a week of sub-daily data, at least 8 steps."""
    span = LOOKBACK_SPAN["sub_daily" if step < DAY else "daily"]
    longest = max(seasons.periods, default=layout.season)
    return int(max(8, min(2 * longest, span // step)))


def _cyclic(name: str, values: np.ndarray, period: float) -> dict[str, np.ndarray]:
    angle = 2 * np.pi * values / period
    return {f"{name}_sin": np.sin(angle), f"{name}_cos": np.cos(angle)}


def _calendar_channels(calendar: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Day of week, day of year and hour as points on a circle (Monday follows Sunday), and the holiday flag."""
    out = {**_cyclic("dow", calendar["dow"], 7.0), "doy_sin": calendar["doy_sin"], "doy_cos": calendar["doy_cos"],
           "is_holiday": calendar["is_holiday"]}
    if "hour" in calendar:
        out.update(_cyclic("hour", calendar["hour"], 24.0))
    return out


def _clean(values: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)


def _past_block(prep: PreparedPanel, rows: np.ndarray, origins: np.ndarray, lookback: int, level: np.ndarray,
                scale: np.ndarray) -> np.ndarray:
    """``(windows, lookback, channels)``: the values up to each origin (inclusive) and their calendar."""
    positions = origins[:, None] + np.arange(1 - lookback, 1)[None, :]
    grid_rows = np.broadcast_to(rows[:, None], positions.shape)
    z = take(prep.scaled.z, grid_rows, positions)
    channels = [_clean((z - level[:, None]) / scale[:, None]), (~np.isnan(z)).astype(float)]
    calendar = {k: take(v, grid_rows, positions) for k, v in prep.grid_calendar.items()}
    channels += [np.nan_to_num(c) for c in _calendar_channels(calendar).values()]
    return np.stack(channels, axis=-1).astype(np.float32)


def _future_block(panel: CalendarPanel, prep: PreparedPanel, layout: PanelLayout, rows: np.ndarray,
                  origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(``(windows, horizon, channels)`` of what is known about each target step, and the log anchor, change
    scale and launch factor of each step, each ``(windows, horizon)``)."""
    steps = np.tile(np.arange(1, horizon + 1), len(rows))
    r, o = np.repeat(rows, horizon), np.repeat(origins, horizon)
    level, carried, scale = anchors(prep, layout, r, o, steps)
    calendar, factor = target_calendar(panel, prep, r, o, steps)
    channels = dict(_calendar_channels(calendar))
    channels["days_to_holiday"] = calendar["days_to_holiday"] / HOLIDAY_SPAN
    channels["days_from_holiday"] = calendar["days_from_holiday"] / HOLIDAY_SPAN
    channels["launch_ratio"] = _clean(calendar["launch_ratio"] / scale)
    channels["trend_to_target"] = _clean(carried / scale)
    relative = {**seasonal_columns(prep, layout, r, o, steps, level), **year_columns(prep, layout, r, o, steps, level)}
    for key in [f"same_{layout.season}_mean4", "year_shape_mean", "years_target_mean"]:
        if key in relative:
            channels[key] = _clean((relative[key] - carried) / scale)
            channels[f"{key}_known"] = np.isfinite(relative[key]).astype(float)
    block = np.stack(list(channels.values()), axis=-1).reshape(len(rows), horizon, -1).astype(np.float32)
    shape = (len(rows), horizon)
    return block, (level + carried).reshape(shape), scale.reshape(shape), factor.reshape(shape)


def _static_block(panel: CalendarPanel, groups: dict[str, int], rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The series' group (one-hot; an unknown group is all zeros) and the log of its change scale."""
    one_hot = np.zeros((len(rows), max(len(groups), 1)))
    codes = np.array([groups.get(g, -1) for g in panel.groups])[rows]
    one_hot[np.flatnonzero(codes >= 0), codes[codes >= 0]] = 1.0
    return np.hstack([one_hot, np.log(scale)[:, None] / 5.0]).astype(np.float32)


@dataclass(frozen=True)
class _Windows:
    """The network's three inputs for a set of windows and what turns its output back into values."""

    past: np.ndarray
    future: np.ndarray
    static: np.ndarray
    anchor: np.ndarray  # (windows, horizon), log scale
    scale: np.ndarray  # (windows, horizon)
    factor: np.ndarray  # (windows, horizon): the target's launch factor

    @property
    def inputs(self) -> list[np.ndarray]:
        return [self.past, self.future, self.static]


def _windows(panel: CalendarPanel, prep: PreparedPanel, layout: PanelLayout, groups: dict[str, int],
             rows: np.ndarray, origins: np.ndarray, lookback: int, horizon: int) -> _Windows:
    future, anchor, scale, factor = _future_block(panel, prep, layout, rows, origins, horizon)
    level = take(prep.scaled.level, rows, origins)
    past = _past_block(prep, rows, origins, lookback, level, scale[:, 0])
    return _Windows(past, future, _static_block(panel, groups, rows, scale[:, 0]), anchor, scale, factor)


def _masked_huber(keras: Any) -> Any:
    """Huber loss over the known targets of each window (a NaN target, missing or past the data, counts 0)."""
    ops = keras.ops

    def loss(y_true: Any, y_pred: Any) -> Any:
        known = ops.logical_not(ops.isnan(y_true))
        error = ops.where(known, y_true - y_pred, 0.0)
        absolute = ops.abs(error)
        quadratic = ops.minimum(absolute, 1.0)
        per_step = 0.5 * quadratic * quadratic + (absolute - quadratic)
        weight = ops.cast(known, "float32")
        return ops.sum(per_step * weight, axis=-1) / ops.maximum(ops.sum(weight, axis=-1), 1.0)

    return loss


def _network(keras: Any, lookback: int, past_channels: int, horizon: int, future_channels: int,
             static_channels: int, units: int) -> Any:
    layers = keras.layers
    past = keras.Input((lookback, past_channels))
    future = keras.Input((horizon, future_channels))
    static = keras.Input((static_channels,))
    context = layers.Dense(units, activation="relu")(layers.Concatenate()([layers.LSTM(units)(past), static]))
    per_step = layers.Concatenate()([layers.RepeatVector(horizon)(context), future])
    per_step = layers.Dense(units, activation="relu")(per_step)
    shared = layers.Reshape((horizon,))(layers.Dense(1)(per_step))
    out = layers.Add()([shared, layers.Dense(horizon)(context)])
    return keras.Model([past, future, static], out)


@dataclass
class GlobalLSTM:
    """A global, direct multi-horizon LSTM over a ``CalendarPanel``; see the module docstring.

    ``horizon`` is the longest horizon it will be asked for; ``lookback`` defaults to ``default_lookback``.
    At most ``max_windows`` training windows are drawn (evenly at random; by default as many as make an epoch
    read ``WINDOW_STEPS`` values). ``fit`` raises ``InputError`` when
    the panel gives fewer than ``MIN_WINDOWS`` windows (a caller skips the model for that run). A forecast
    reads each series only up to its origin; a series with nothing known by then forecasts NaN."""

    horizon: int = 28
    name: str = "lstm"
    lookback: int | None = None
    units: int = 32
    epochs: int = 15
    batch_size: int = 256
    max_windows: int | None = None  # None: WINDOW_STEPS // lookback
    patience: int = 3
    learning_rate: float = 4e-3  # PJM load, 3 evaluation years: MASE 0.835 at 2e-3, 0.826 at 4e-3
    seed: int = 7
    layout: PanelLayout | None = field(default=None, repr=False)
    groups: dict[str, int] = field(default_factory=dict)
    non_negative: bool = True
    network: Any = field(default=None, repr=False)  # a keras.Model (keras ships no type information)
    history: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise InputError("the horizon must be at least 1 step")

    def _training_windows(self, prep: PreparedPanel, layout: PanelLayout) -> tuple[np.ndarray, np.ndarray]:
        known = ~np.isnan(prep.scaled.z)
        rows, origins, _ = origin_pairs(known, prep.scaled.level, layout.season, self.horizon)
        cap = self.max_windows or max(MIN_WINDOWS, WINDOW_STEPS // (self.lookback or 1))
        if len(rows) > cap:
            pick = np.random.default_rng(self.seed).choice(len(rows), cap, replace=False)
            rows, origins = rows[pick], origins[pick]
        if len(rows) < MIN_WINDOWS:
            raise InputError(f"{self.name} needs at least {MIN_WINDOWS} training windows (a series and an origin "
                             f"with a season of history and a known value after it); this history gives {len(rows)}")
        order = np.lexsort((rows, origins))  # time-ordered, so the validation tail is the latest
        return rows[order], origins[order]

    def fit(self, panel: CalendarPanel, seasons: Seasons) -> GlobalLSTM:
        layout = panel_layout(panel, seasons)
        self.layout = layout
        self.lookback = self.lookback or default_lookback(layout, seasons, panel.step)
        self.groups = {g: code for code, g in enumerate(sorted(set(panel.groups)))}
        self.non_negative = bool((panel.values[~np.isnan(panel.values)] >= 0).all())
        prep = prepare_panel(panel, layout)
        rows, origins = self._training_windows(prep, layout)
        windows = _windows(panel, prep, layout, self.groups, rows, origins, self.lookback, self.horizon)
        targets = take(prep.scaled.z, rows[:, None], origins[:, None] + np.arange(1, self.horizon + 1)[None, :])
        targets = ((targets - windows.anchor) / windows.scale).astype(np.float32)
        cut = min(int(len(rows) * (1 - VALID_SHARE)), len(rows) - 1)
        keras = import_keras()
        keras.utils.set_random_seed(self.seed)
        net = _network(keras, self.lookback, windows.past.shape[-1], self.horizon, windows.future.shape[-1],
                       windows.static.shape[-1], self.units)
        net.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss=_masked_huber(keras))
        stop = keras.callbacks.EarlyStopping(patience=self.patience, restore_best_weights=True)
        fit = net.fit([x[:cut] for x in windows.inputs], targets[:cut],
                      validation_data=([x[cut:] for x in windows.inputs], targets[cut:]), epochs=self.epochs,
                      batch_size=self.batch_size, callbacks=[stop], verbose=0, shuffle=True)
        self.history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
        self.network = net
        return self

    def forecast(self, panel: CalendarPanel, origins: PanelOrigins, horizon: int) -> np.ndarray:
        if self.network is None or self.layout is None or self.lookback is None:
            raise ValueError(f"{self.name}: call fit first")
        if horizon > self.horizon:
            raise InputError(f"{self.name} was trained for at most {self.horizon} steps ahead, not {horizon}")
        if len(origins) == 0:
            return np.zeros((0, horizon))
        prep = prepare_panel(panel, self.layout)
        windows = _windows(panel, prep, self.layout, self.groups, origins.series, origins.at, self.lookback,
                           self.horizon)
        change = np.asarray(self.network.predict(windows.inputs, batch_size=1024, verbose=0), dtype=float)
        out = signed_exp(windows.anchor + change * windows.scale) * windows.factor
        if self.non_negative:
            out = np.maximum(out, 0.0)
        return out[:, :horizon]
