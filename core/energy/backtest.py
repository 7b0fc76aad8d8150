"""Backtest next-hour forecasting on real metered data from a CSV.

Each device is resampled to hourly mean load (irregular and duplicate timestamps averaged,
missing hours left missing), a global LightGBM is trained on the first 80% of each device's
time span (the core's time-ordered holdout, per series), and next-hour forecasts are scored on
the rest beside same-hour-yesterday.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from core.energy.config import EnergyConfig, energy_config
from core.energy.features import MIN_HISTORY, build_panel
from core.energy.health import score_window
from core.energy.models import LightGBMForecaster, next_hour, time_split
from core.errors import InputError
from core.forecast.global_forecaster import panel_seasons
from core.io import detect_time_column, parse_timestamps, require_numeric

TRAIN_FRACTION = 0.8


# Names that say a column identifies the meter (matched as substrings, case-insensitive).
DEVICE_HINTS = ("device", "meter", "site", "building", "household", "customer", "sensor", "lclid", "station", "id",
                "name")


def _is_numeric(frame: pd.DataFrame, column: str) -> bool:
    try:
        require_numeric(frame, column)
    except InputError:
        return False
    return True


def detect_device_column(frame: pd.DataFrame, time_col: str) -> str | None:
    """The column naming the meter when a file holds several, else None.

    Only when timestamps repeat: then a column under which they stop repeating (at least halving
    the duplicates) names the meter. Text columns qualify; a numeric one only when its name says so
    (``meter_id``), since any measured column would also make rows unique. Averaging several meters'
    readings of the same hour into one series would be a wrong answer, not a lossy one."""
    duplicated = frame.duplicated([time_col]).mean()
    if duplicated == 0:
        return None

    def hinted(column: str) -> bool:
        return any(hint in str(column).lower() for hint in DEVICE_HINTS)

    best, best_share = None, duplicated / 2
    # Name-hinted columns first: on a tie the strict "<" keeps them.
    for column in sorted((c for c in frame.columns if c != time_col), key=lambda c: not hinted(c)):
        distinct = frame[column].nunique(dropna=True)
        if not 2 <= distinct <= max(2, len(frame) // 2) or (_is_numeric(frame, column) and not hinted(column)):
            continue
        share = frame.duplicated([time_col, column]).mean()
        if share < best_share:
            best, best_share = column, share
    return best


def _numeric_columns(frame: pd.DataFrame, exclude: tuple[str | None, ...]) -> list[str]:
    return [c for c in frame.columns if c not in exclude and _is_numeric(frame, c)]


def detect_value_column(frame: pd.DataFrame, exclude: tuple[str | None, ...]) -> str | None:
    """The one numeric column left, or None when there is none or several."""
    numeric = _numeric_columns(frame, exclude)
    return numeric[0] if len(numeric) == 1 else None


def guess_columns(frame: pd.DataFrame) -> tuple[str | None, str | None, str | None]:
    """(time, load, meter) columns as detected: the defaults the page offers and the CLI uses."""
    time_col = detect_time_column(frame)
    device_col = detect_device_column(frame, time_col) if time_col is not None else None
    return time_col, detect_value_column(frame, (time_col, device_col)), device_col


def _meter_names(ids: pd.Series) -> pd.Series:
    """Meter ids as text (missing stays missing); numeric ids read as floats (101.0) are written as
    the integers they are."""
    if pd.api.types.is_float_dtype(ids) and (ids.dropna() % 1 == 0).all():
        return ids.astype("Int64").astype(str).where(ids.notna())
    return ids.astype(str).where(ids.notna())


def metered_readings(frame: pd.DataFrame, *, time_col: str | None = None, value_col: str | None = None,
                     device_col: str | None = None, detect_device: bool = True, timezone: str = "UTC",
                     file: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Validate and resample a metered CSV: hourly (device_id, ts_utc, value), a devices table, and
    notes on what was skipped or assumed. Columns not given are detected (see ``guess_columns``);
    ``detect_device=False`` with no ``device_col`` reads the file as one meter."""
    if frame.empty:
        raise InputError("has no data rows", file=file)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"'{timezone}' is not an IANA time zone") from None
    notes = []
    time_col = time_col or detect_time_column(frame)
    if time_col is None or time_col not in frame.columns:
        raise InputError(f"no time column found (columns: {', '.join(map(str, frame.columns))}); use --time-col",
                         file=file)
    if device_col is not None and device_col not in frame.columns:
        raise InputError(f"has no column '{device_col}'", file=file)
    if device_col is None and detect_device:
        device_col = detect_device_column(frame, time_col)
        if device_col is not None:
            notes.append(f"timestamps repeat across the values of '{device_col}', so each is read as its own meter")
    if value_col is None:
        numeric = _numeric_columns(frame, (time_col, device_col))
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
    names = _meter_names(frame[device_col]) if device_col else pd.Series("meter", index=frame.index)
    exact = pd.DataFrame({"name": names.to_numpy(), "ts": stamps.tz_convert("UTC"), "value": values.to_numpy()})
    complete = exact.notna().all(axis=1)
    exact = exact[complete]
    if exact.empty:
        raise InputError("no rows with both a time and a load", file=file)
    if not complete.all():
        needed = "a time, a load or a meter" if device_col else "a time or a load"
        first = int(np.flatnonzero(~complete.to_numpy())[0]) + 2
        notes.append(f"{int((~complete).sum())} row(s) without {needed} were skipped (first: row {first}); "
                     "their hours stay missing")
    repeated = int(exact.duplicated(["name", "ts"]).sum())
    if repeated:
        notes.append(f"{repeated} reading(s) repeated a meter and timestamp already seen; each hour's load is the "
                     "mean of its readings")
    long = exact.assign(ts_utc=exact["ts"].dt.floor("h"))
    hourly = long.groupby(["name", "ts_utc"], as_index=False)["value"].mean()
    names_sorted = sorted(hourly["name"].unique())
    ids = {n: i + 1 for i, n in enumerate(names_sorted)}
    hourly["device_id"] = hourly["name"].map(ids)
    devices = pd.DataFrame({"device_id": [ids[n] for n in names_sorted], "name": names_sorted,
                            "timezone": timezone, "profile": "unknown",
                            "base_load": hourly.groupby("name")["value"].mean().reindex(names_sorted).to_numpy()})
    return hourly[["device_id", "ts_utc", "value"]], devices, notes


PREDICTION_COLUMNS = ["time", "meter", "actual", "forecast", "yesterday"]


def backtest(readings: pd.DataFrame, devices: pd.DataFrame,
             config: EnergyConfig | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train on each device's first 80% of time, score next-hour forecasts on the rest.

    Returns the JSON-ready report and the held-out predictions (time in the devices' zone, meter,
    actual, forecast, same hour yesterday), by meter and time."""
    config = config or energy_config()
    panel = build_panel(readings, devices)
    too_short = InputError(f"not enough hourly history: each device needs well over {MIN_HISTORY} hours "
                           "(a week of lags) before its last 20%")
    try:
        split = time_split(panel, 1 - TRAIN_FRACTION, per_device=True)  # each meter's own span: they may not overlap
    except InputError:
        raise too_short from None
    cut, (vd, vh) = split.cuts, split.validation
    if len(split.train[0]) < 100 or len(vd) == 0:
        raise too_short
    model = LightGBMForecaster(max_train_rows=config.max_train_rows)
    model.fit(panel.hidden_from(cut), panel_seasons(panel))
    pred = next_hour(model, panel, vd, vh)
    actual, base = panel.values[vd, vh], panel.values[vd, vh - 24]
    per_device = []
    for row, device in enumerate(devices.itertuples(index=False)):
        mine = vd == row
        m = score_window(actual[mine], pred[mine], base[mine], config)
        per_device.append({"device": device.name, "test_start": str(panel.hours[cut[row]]) if cut[row] < len(panel.hours) else None,
                           **m.__dict__})
    overall = score_window(actual, pred, base, config)
    timezone = str(devices["timezone"].iloc[0]) if len(devices) else "UTC"
    predictions = pd.DataFrame({"time": panel.hours[vh].tz_convert(timezone),
                                "meter": devices["name"].to_numpy()[vd], "actual": actual, "forecast": pred,
                                "yesterday": base}, columns=PREDICTION_COLUMNS)
    predictions = predictions.sort_values(["meter", "time"], kind="stable").reset_index(drop=True)
    report = {"model": "lightgbm", "baseline": "same hour yesterday", "devices": len(devices),
              "hours": int(np.isfinite(panel.values).sum()), "train_targets": int(len(split.train[0])),
              "test_targets": int(len(vd)), "overall": overall.__dict__, "per_device": per_device}
    return report, predictions
