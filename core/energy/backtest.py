"""Backtest next-hour forecasting on real metered data from a CSV.

Each device is resampled to hourly mean load (irregular and duplicate timestamps averaged,
missing hours left missing), a global LightGBM is trained on the first 80% of each device's
time span, and next-hour forecasts are scored on the rest beside same-hour-yesterday.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from core.energy.config import EnergyConfig, energy_config
from core.energy.features import MIN_HISTORY, build_panel, target_cells
from core.energy.health import score_window
from core.energy.models import LightGBMForecaster
from core.errors import InputError
from core.io import detect_time_column, parse_timestamps, require_numeric

TRAIN_FRACTION = 0.8


def metered_readings(frame: pd.DataFrame, *, time_col: str | None = None, value_col: str | None = None,
                     device_col: str | None = None, timezone: str = "UTC",
                     file: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Validate and resample a metered CSV: hourly (device_id, ts_utc, value), a devices table, and
    notes on what was skipped."""
    if frame.empty:
        raise InputError("has no data rows", file=file)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"'{timezone}' is not an IANA time zone") from None
    time_col = time_col or detect_time_column(frame)
    if time_col is None or time_col not in frame.columns:
        raise InputError(f"no time column found (columns: {', '.join(map(str, frame.columns))}); use --time-col",
                         file=file)
    if device_col is not None and device_col not in frame.columns:
        raise InputError(f"has no column '{device_col}'", file=file)
    if value_col is None:
        candidates = [c for c in frame.columns if c not in (time_col, device_col)]
        numeric = []
        for c in candidates:
            try:
                require_numeric(frame, c, file=file)
                numeric.append(c)
            except InputError:
                continue
        if len(numeric) != 1:
            raise InputError(f"cannot tell which column is the load (numeric: {', '.join(map(str, numeric)) or 'none'});"
                             " use --value-col", file=file)
        value_col = numeric[0]
    values = require_numeric(frame, value_col, file=file)
    negative = np.flatnonzero((values < 0).to_numpy())
    if negative.size:
        raise InputError(f"load cannot be negative ({values.iloc[negative[0]]})", file=file, column=str(value_col),
                         row=int(negative[0]) + 2)
    stamps = parse_timestamps(frame[time_col], column=str(time_col), file=file)
    stamps = pd.DatetimeIndex(stamps)
    if stamps.tz is None:  # wall-clock times of the data's own zone
        stamps = stamps.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    names = frame[device_col].astype(str) if device_col else pd.Series("meter", index=frame.index)
    long = pd.DataFrame({"name": names.to_numpy(), "ts_utc": stamps.tz_convert("UTC").floor("h"),
                         "value": values.to_numpy()})
    complete = long.notna().all(axis=1)
    long = long[complete]
    if long.empty:
        raise InputError("no rows with both a time and a load", file=file)
    notes = []
    if not complete.all():
        first = int(np.flatnonzero(~complete.to_numpy())[0]) + 2
        notes.append(f"{int((~complete).sum())} row(s) without a time or a load were skipped (first: row {first}); "
                     "their hours stay missing")
    hourly = long.groupby(["name", "ts_utc"], as_index=False)["value"].mean()
    names_sorted = sorted(hourly["name"].unique())
    ids = {n: i + 1 for i, n in enumerate(names_sorted)}
    hourly["device_id"] = hourly["name"].map(ids)
    devices = pd.DataFrame({"device_id": [ids[n] for n in names_sorted], "name": names_sorted,
                            "timezone": timezone, "profile": "unknown",
                            "base_load": hourly.groupby("name")["value"].mean().reindex(names_sorted).to_numpy()})
    return hourly[["device_id", "ts_utc", "value"]], devices, notes


def backtest(readings: pd.DataFrame, devices: pd.DataFrame, config: EnergyConfig | None = None) -> dict[str, Any]:
    """Train on each device's first 80% of time, score next-hour forecasts on the rest."""
    config = config or energy_config()
    panel = build_panel(readings, devices)
    d, h = target_cells(panel)
    first = np.array([np.flatnonzero(~np.isnan(row)).min() if (~np.isnan(row)).any() else 0 for row in panel.values])
    last = np.array([np.flatnonzero(~np.isnan(row)).max() if (~np.isnan(row)).any() else 0 for row in panel.values])
    cut = first + np.floor((last - first + 1) * TRAIN_FRACTION).astype(int)
    train = h < cut[d]
    if train.sum() < 100 or (~train).sum() == 0:
        raise InputError(f"not enough hourly history: each device needs well over {MIN_HISTORY} hours "
                         "(a week of lags) before its last 20%")
    td, th = d[train], h[train]
    if len(td) > config.max_train_rows:
        pick = np.sort(np.random.default_rng(0).choice(len(td), config.max_train_rows, replace=False))
        td, th = td[pick], th[pick]
    model = LightGBMForecaster()
    model.fit(panel, td, th)
    vd, vh = d[~train], h[~train]
    pred = model.predict_point(panel, vd, vh)
    actual, base = panel.values[vd, vh], panel.values[vd, vh - 24]
    per_device = []
    for row, device in enumerate(devices.itertuples(index=False)):
        mine = vd == row
        m = score_window(actual[mine], pred[mine], base[mine], config)
        per_device.append({"device": device.name, "test_start": str(panel.hours[cut[row]]) if cut[row] < len(panel.hours) else None,
                           **m.__dict__})
    overall = score_window(actual, pred, base, config)
    return {"model": "lightgbm", "baseline": "same hour yesterday", "devices": len(devices),
            "hours": int(np.isfinite(panel.values).sum()), "train_targets": int(train.sum()),
            "test_targets": int((~train).sum()), "overall": overall.__dict__, "per_device": per_device}
