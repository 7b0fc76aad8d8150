"""Hourly panels, calendar features and per-device windows.

A ``HourlyPanel`` holds one complete hourly UTC grid per device (missing hours stay NaN); it is the
core's ``WidePanel`` (``core.forecast.global_forecaster``) with each device's time zone and profile.
Every feature for target hour ``i`` of device ``d`` is read from row ``d`` at columns < ``i``,
so features come only from the past and a window can never mix two devices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.energy.config import PROFILES
from core.energy.generator import as_utc, holiday_flags
from core.forecast.global_forecaster import hide_from

LAGS = np.array([1, 2, 3, 4, 5, 6, 12, 23, 24, 25, 48, 72, 96, 120, 144, 168])
LEVEL_HOURS = 168  # the scale each tabular row is divided by: mean of the past week
MIN_HISTORY = 168  # every model is scored on the same targets: those with a full week behind them
CALENDAR_NAMES = ("hour_sin", "hour_cos", "dow_sin", "dow_cos", "holiday")


@dataclass
class HourlyPanel:
    hours: pd.DatetimeIndex  # complete hourly grid, UTC
    devices: pd.DataFrame  # one row per panel row: device_id, timezone, profile, base_load
    values: np.ndarray  # (n_devices, n_hours); NaN = no reading
    _calendar: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_devices(self) -> int:
        return int(self.values.shape[0])

    @property
    def grid(self) -> pd.DatetimeIndex:
        """The hourly grid (``core.forecast.global_forecaster.WidePanel``)."""
        return self.hours

    @property
    def series_ids(self) -> pd.Index:
        """The device id of each row."""
        return pd.Index(self.devices["device_id"])

    def hidden_from(self, cuts: np.ndarray) -> HourlyPanel:
        """The same panel with each device's readings from its cut (a column) on hidden: what a model
        may see while it fits when those hours are held out."""
        return HourlyPanel(self.hours, self.devices, hide_from(self.values, cuts), self.calendar())

    def index_of(self, ts: pd.Timestamp) -> int:
        return int((as_utc(ts) - self.hours[0]) // pd.Timedelta(hours=1))

    def calendar(self) -> np.ndarray:
        """(n_devices, n_hours, 5): local hour and weekday sin/cos, local public holiday."""
        if self._calendar is None:
            out = np.zeros((self.n_devices, len(self.hours), len(CALENDAR_NAMES)))
            for tz, rows in self.devices.groupby("timezone").indices.items():
                local = self.hours.tz_convert(str(tz))
                hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
                dow = local.dayofweek.to_numpy()
                cal = np.column_stack([np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
                                       np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7),
                                       holiday_flags(local, str(tz))])
                out[rows] = cal
            self._calendar = out
        return self._calendar


def build_panel(readings: pd.DataFrame, devices: pd.DataFrame, start: object | None = None,
                end: object | None = None) -> HourlyPanel:
    """Pivot long readings (device_id, ts_utc, value) onto a complete hourly grid [start, end)."""
    devices = devices.reset_index(drop=True)
    ts = pd.to_datetime(readings["ts_utc"], utc=True) if len(readings) else pd.DatetimeIndex([], tz="UTC")
    lo = as_utc(start).floor("h") if start is not None else (pd.Timestamp(ts.min()).floor("h") if len(ts) else None)
    hi = as_utc(end) if end is not None else (pd.Timestamp(ts.max()).floor("h") + pd.Timedelta(hours=1) if len(ts) else None)
    if lo is None or hi is None or hi <= lo:
        return HourlyPanel(pd.DatetimeIndex([], tz="UTC"), devices, np.zeros((len(devices), 0)))
    hours = pd.date_range(lo, hi, freq="h", inclusive="left")
    values = np.full((len(devices), len(hours)), np.nan)
    if len(readings):
        row_of = {int(d): i for i, d in enumerate(devices["device_id"])}
        rows = readings["device_id"].map(row_of).to_numpy()
        cols = ((pd.DatetimeIndex(ts).floor("h") - lo) // pd.Timedelta(hours=1)).to_numpy()
        keep = ~pd.isna(rows) & (cols >= 0) & (cols < len(hours))
        values[rows[keep].astype(int), cols[keep].astype(int)] = readings["value"].to_numpy(dtype=float)[keep]
    return HourlyPanel(hours, devices, values)


def rolling_mean_before(values: np.ndarray, window: int) -> np.ndarray:
    """out[:, i] = mean of the non-missing values in columns [i - window, i); NaN if fewer
    than half are present or i < window. O(n) via cumulative sums."""
    filled = np.where(np.isnan(values), 0.0, values)
    present = (~np.isnan(values)).astype(float)
    csum = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(filled, axis=1)], axis=1)
    ccount = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(present, axis=1)], axis=1)
    out = np.full(values.shape, np.nan)
    if values.shape[1] > window:
        total = csum[:, window:-1] - csum[:, :-window - 1]
        count = ccount[:, window:-1] - ccount[:, :-window - 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, window:] = np.where(count >= window / 2, total / np.maximum(count, 1), np.nan)
    return out


def target_cells(panel: HourlyPanel, *, min_history: int = MIN_HISTORY, require_target: bool = True,
                 start: object | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(device rows, hour columns) of the targets with ``min_history`` hours of grid behind them."""
    first = max(min_history, panel.index_of(start) if start is not None else 0)
    mask = np.zeros(panel.values.shape, dtype=bool)
    mask[:, first:] = True
    if require_target:
        mask &= ~np.isnan(panel.values)
    d, h = np.nonzero(mask)
    return d, h


def levels(panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The past-week mean load of each target: the scale models work in."""
    return rolling_mean_before(panel.values, LEVEL_HOURS)[d, h]


def tabular_features(panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Lags and rolling means divided by the past-week level, plus local calendar and profile."""
    if len(d) and h.min() < LAGS.max():
        raise ValueError(f"targets need {LAGS.max()} hours of history in the panel")
    level = rolling_mean_before(panel.values, LEVEL_HOURS)[d, h]
    roll24 = rolling_mean_before(panel.values, 24)[d, h]
    lags = panel.values[d[:, None], h[:, None] - LAGS[None, :]]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = lags / level[:, None]
        roll = roll24 / level
    cal = panel.calendar()[d, h]
    local_hour = np.round(np.arctan2(cal[:, 0], cal[:, 1]) / (2 * np.pi) * 24) % 24
    local_dow = np.round(np.arctan2(cal[:, 2], cal[:, 3]) / (2 * np.pi) * 7) % 7
    profile = panel.devices["profile"].map({p: i for i, p in enumerate(PROFILES)}).fillna(-1).to_numpy()[d]
    X = np.column_stack([scaled, roll, cal, local_hour, local_dow, profile])
    names = [f"lag_{k}" for k in LAGS] + ["roll24", *CALENDAR_NAMES, "local_hour", "local_dow", "profile"]
    return X, names


def sequence_windows(panel: HourlyPanel, d: np.ndarray, h: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """For each target (d, h): the device's own ``length`` readings before h and their local
    calendar, shapes (n, length) and (n, length, 5). Rows index one device only."""
    if len(d) and h.min() < length:
        raise ValueError(f"targets need {length} hours of history in the panel")
    cols = h[:, None] - length + np.arange(length)[None, :]
    return panel.values[d[:, None], cols], panel.calendar()[d[:, None], cols]


def device_features(panel: HourlyPanel, d: np.ndarray) -> np.ndarray:
    """Static device features: profile one-hot and log base load."""
    prof = panel.devices["profile"].to_numpy()[d]
    onehot = np.column_stack([(prof == p).astype(float) for p in PROFILES])
    base = np.log1p(panel.devices["base_load"].to_numpy(dtype=float)[d])
    return np.column_stack([onehot, base])
