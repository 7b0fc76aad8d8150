"""One feature pipeline for every lag-based model (traffic's GBMs today), built only from the past.

Lags, rolling and exponentially weighted statistics, the same time one season (a day of steps)
and a profile of the last week of seasons, time of day and weekday in the series' local time,
and the level relative to the usual level at that time: all parameterised by ``season``.

A feature row for target time t is computed from a *window*: the values up to and
including the forecast origin t-1 (never y[t]). Training slides the window over the
history; multi-step forecasts are recursive: the one-step model's prediction is
written into the window and the next step reads it. The same function serves both,
so serving can never drift from training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.forecast.calendar import holiday_flags

SHORT_LAGS = 12
ROLL_WINDOWS = (3, 6, 12, 36)
EWM_SPANS = (2, 3, 6, 12)
EWM_WINDOW = 36
PROFILE_DAYS = 7
CHUNK_BYTES = 128 * 2**20  # the most window rows copied at once, in bytes


def window_length(season: int) -> int:
    """How many past values a feature row needs: a week and one interval."""
    return PROFILE_DAYS * season + 2


def _nanmean(a: np.ndarray) -> np.ndarray:
    counts = np.sum(~np.isnan(a), axis=1)
    sums = np.nansum(a, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _nanstd(a: np.ndarray) -> np.ndarray:
    mean = _nanmean(a)
    counts = np.sum(~np.isnan(a), axis=1)
    var = np.nansum((a - mean[:, None]) ** 2, axis=1) / np.maximum(counts - 1, 1)
    return np.where(counts > 1, np.sqrt(var), np.nan)


def _ewm(a: np.ndarray, span: int) -> np.ndarray:
    """Exponentially weighted mean over a finite window, newest value last, NaNs skipped."""
    alpha = 2.0 / (span + 1.0)
    weights = (1 - alpha) ** np.arange(a.shape[1])[::-1]
    present = ~np.isnan(a)
    num = np.sum(np.where(present, a, 0.0) * weights, axis=1)
    den = np.sum(present * weights, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


MAX_FINE = 12


def fine_matrix(native: pd.Series, targets: pd.DatetimeIndex, per_bin: int) -> np.ndarray:
    """The last native (finer) values before each target, scaled to the target's interval.

    When the file is finer than the chosen granularity (5-minute data forecast at 15 m),
    the newest 5-minute counts before t say more about the current level than the
    15-minute sum. Column j-1 is the j-th newest; only times strictly before t are read.
    """
    count = min(per_bin, MAX_FINE)
    native_step = native.index[1] - native.index[0]
    out = np.full((len(targets), count), np.nan)
    for j in range(1, count + 1):
        out[:, j - 1] = native.reindex(targets - j * native_step).to_numpy(dtype=float) * per_bin
    return out


def window_features(windows: np.ndarray, targets: pd.DatetimeIndex, season: int,
                    fine: np.ndarray | None = None, country: str | None = None) -> pd.DataFrame:
    """Features for each target time from its window (shape n × window_length, last column = origin), and
    the target's public-holiday flag when the series' ``country`` is known (the calendar is known ahead).

    Column -j of a window is y[t - j]. Seasonal lags (y[t - day], the 7-day profile) come
    from the same window, so in a recursive forecast beyond a day they read predictions.
    """
    w = windows
    f: dict[str, np.ndarray] = {}
    for lag in range(1, SHORT_LAGS + 1):
        f[f"lag_{lag}"] = w[:, -lag]
    for size in ROLL_WINDOWS:
        f[f"mean_{size}"] = _nanmean(w[:, -size:])
        f[f"std_{size}"] = _nanstd(w[:, -size:])
    recent = w[:, -EWM_WINDOW:]
    for span in EWM_SPANS:
        f[f"ewm_{span}"] = _ewm(recent, span)
    f["median_6"] = np.nanmedian(np.where(np.isnan(w[:, -6:]).all(axis=1, keepdims=True), 0.0, w[:, -6:]), axis=1)
    same_time = np.stack([w[:, -k * season] for k in range(1, PROFILE_DAYS + 1)], axis=1)
    before = np.stack([w[:, -k * season - 1] for k in range(1, PROFILE_DAYS + 1)], axis=1)
    f["lag_day"] = w[:, -season]
    f["lag_day_next"] = w[:, -season + 1] if season > 1 else w[:, -season]
    f["lag_week"] = w[:, -PROFILE_DAYS * season]
    f["profile_7d"] = _nanmean(same_time)
    f["profile_7d_median"] = np.nanmedian(np.where(np.isnan(same_time).all(axis=1, keepdims=True), 0.0, same_time),
                                          axis=1)
    # How the series usually moves from t-1 to t at this time of day, and how today's
    # level compares with the usual level at this hour: both scale-free.
    f["profile_step_ratio"] = f["profile_7d"] / (_nanmean(before) + 1.0)
    usual_level = _nanmean(np.stack([_nanmean(w[:, -k * season - 6:-k * season]) for k in range(1, PROFILE_DAYS + 1)],
                                    axis=1))
    f["level_ratio"] = f["ewm_6"] / (usual_level + 1.0)
    if fine is not None:
        for j in range(fine.shape[1]):
            f[f"fine_{j + 1}"] = fine[:, j]
        f["fine_mean"] = _nanmean(fine)
    minutes = (targets.hour * 60 + targets.minute).to_numpy()
    f["tod_sin"] = np.sin(2 * np.pi * minutes / 1440)
    f["tod_cos"] = np.cos(2 * np.pi * minutes / 1440)
    f["minute_of_day"] = minutes.astype(float)
    f["weekday"] = targets.day_of_week.to_numpy().astype(float)
    if country:
        f["holiday"] = holiday_flags(targets, country)
    return pd.DataFrame(f, index=targets)


def training_windows(y: pd.Series, season: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Sliding windows ending at t-1 for every t after the first; a zero-copy view."""
    length = window_length(season)
    # Padding in front lets short uploads train too: early rows simply lack seasonal lags.
    values = np.concatenate([np.full(length, np.nan), y.to_numpy(dtype=float)])
    if len(y) < 2:
        return np.empty((0, length)), y.index[:0]
    views = np.lib.stride_tricks.sliding_window_view(values[:-1], length)
    return views[1:], y.index[1:]


def _row_chunks(n: int, length: int) -> list[slice]:
    """Row ranges whose window copies stay within ``CHUNK_BYTES``: at 1-minute data a window is
    a week of minutes (80 KB a row), so copying every row's window at once would need gigabytes."""
    rows = max(256, CHUNK_BYTES // (8 * length))
    return [slice(start, min(start + rows, n)) for start in range(0, n, rows)]


def training_matrix(y: pd.Series, season: int, usable: pd.Series | None = None, native: pd.Series | None = None,
                    per_bin: int = 1, country: str | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """(X, target) for every interval whose own value is known (and complete) and whose window exists."""
    windows, targets = training_windows(y, season)
    target = y.reindex(targets)
    keep = target.notna().to_numpy().copy()
    if usable is not None:
        keep &= usable.reindex(targets, fill_value=False).to_numpy(dtype=bool)
    # Rows whose recent past is entirely missing (just after an outage) teach nothing.
    keep &= ~np.isnan(windows[:, -SHORT_LAGS:]).all(axis=1)
    rows = np.flatnonzero(keep)
    kept = targets[keep]
    fine = fine_matrix(native, kept, per_bin) if native is not None and per_bin > 1 else None
    # ``windows`` is a zero-copy view; each chunk copies only its own rows.
    parts = [window_features(windows[rows[c]], kept[c], season, None if fine is None else fine[c], country)
             for c in _row_chunks(len(rows), windows.shape[1])]
    X = pd.concat(parts) if parts else window_features(windows[rows], kept, season, fine, country)
    return X, target[keep]


def origin_windows(y: pd.Series, origins: pd.DatetimeIndex, season: int) -> np.ndarray:
    """A copy of the window ending at each origin (inclusive), padded with NaN before the data."""
    length = window_length(season)
    values = np.concatenate([np.full(length, np.nan), y.to_numpy(dtype=float)])
    pos = y.index.get_indexer(origins)
    if (pos < 0).any():
        raise ValueError("origins must be timestamps of the series")
    idx = (pos + length + 1)[:, None] + np.arange(-length, 0)[None, :]
    return values[idx]


def recursive_forecast(predict_one, y: pd.Series, origins: pd.DatetimeIndex, horizon: int, season: int,
                       step: pd.Timedelta, native: pd.Series | None = None, per_bin: int = 1,
                       country: str | None = None) -> np.ndarray:
    """Forecast ``horizon`` steps from each origin with a one-step model; returns n_origins × horizon.

    ``predict_one(X) -> ndarray`` maps a feature frame to one-step forecasts. Beyond the
    first step the finer values are unknown; the previous step's forecast stands in for them.
    Origins are handled in chunks so the window copies stay within ``CHUNK_BYTES``.
    """
    chunks = _row_chunks(len(origins), window_length(season))
    if len(chunks) > 1:
        return np.concatenate([recursive_forecast(predict_one, y, origins[c], horizon, season, step, native, per_bin,
                                                  country) for c in chunks])
    windows = origin_windows(y, origins, season)
    fine = fine_matrix(native, origins + step, per_bin) if native is not None and per_bin > 1 else None
    out = np.empty((len(origins), horizon))
    for k in range(1, horizon + 1):
        targets = origins + k * step
        X = window_features(windows, targets, season, fine, country)
        pred = np.maximum(np.asarray(predict_one(X), dtype=float), 0.0)
        out[:, k - 1] = pred
        windows[:, :-1] = windows[:, 1:]  # shift in place: the window slides by the forecast
        windows[:, -1] = pred
        if fine is not None:
            fine = np.repeat(pred[:, None], fine.shape[1], axis=1)
    return out
