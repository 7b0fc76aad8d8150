"""Forecast quantiles at every step of a long horizon, from a backtest's own errors.

A plan 90 days ahead needs the spread of a 90-day-ahead error, which is wider than a 1-day one;
but a backtest has few windows, so each step alone has few errors (one per window). Errors at
neighbouring steps are alike, so the quantile of step k pools the signed errors (on a scale that
grows with the level, log by default) of steps ``k - pool .. k + pool``, with the finite-sample
conformal ranks of ``residual_quantiles``.

``add_quantiles`` is honest about time: each window's quantiles come only from errors whose
truth was known at its cutoff (earlier windows), as ``add_intervals`` does. ``step_quantiles``
uses every window, for forecasts made after the backtest.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.forecast.intervals import Scale, _back, _forward, residual_quantiles, signed_residuals


def pooled_quantiles(resid: np.ndarray, steps: np.ndarray, horizon: int, levels: np.ndarray,
                     pool: int, min_count: int | None = None) -> np.ndarray | None:
    """``horizon × len(levels)`` quantiles of the signed errors ``resid`` (one per row, at step
    ``steps``), each step from the errors within ``pool`` steps of it. A step with fewer than
    ``min_count`` such errors gets NaN; without ``min_count``, a step with none borrows the nearest
    earlier step's (a forecast after the backtest must have a quantile at every step). None when
    there is no finite error at all."""
    ok = np.isfinite(resid)
    resid, steps = resid[ok], steps[ok]
    if not resid.size:
        return None
    order = np.argsort(steps, kind="stable")
    resid, steps = resid[order], steps[order]
    out = np.empty((horizon, len(levels)))
    previous: np.ndarray | None = None
    for k in range(1, horizon + 1):
        lo, hi = np.searchsorted(steps, k - pool, "left"), np.searchsorted(steps, k + pool, "right")
        if min_count is not None:
            # Errors at shorter steps are smaller: borrowing them would make long-range quantiles too narrow.
            out[k - 1] = residual_quantiles(resid[lo:hi], levels) if hi - lo >= min_count else np.nan
            continue
        found = residual_quantiles(resid[lo:hi], levels) if hi > lo else None
        if found is None:
            found = previous if previous is not None else residual_quantiles(resid, levels)
        out[k - 1] = previous = found
    return out


def _apply(point: np.ndarray, shift: np.ndarray, scale: Scale) -> np.ndarray:
    if scale == "relative":
        return np.maximum(point * (1.0 + shift), 0.0)
    if scale == "absolute":
        return point + shift
    return np.maximum(_back(_forward(np.maximum(point, 0.0), scale) + shift, scale), 0.0)


def add_quantiles(cv: pd.DataFrame, model: str, levels: Mapping[str, float], *, scale: Scale = "log",
                  pool: int = 0, min_scores: int = 20) -> pd.DataFrame:
    """A column ``<model>_<name>`` per level: the level's quantile forecast for every row of the
    backtest frame ``cv`` (``series_id, cutoff, ds, step, y, <model>``), each window's from the
    errors of that series known at its cutoff. A step with fewer than ``min_scores`` known errors
    within ``pool`` steps of it gets NaN (no honest quantile yet)."""
    names, qs = list(levels), np.array(list(levels.values()), dtype=float)
    out = cv.copy()
    values = np.full((len(cv), len(qs)), np.nan)
    horizon = int(cv["step"].max())
    for _, rows in cv.groupby("series_id", sort=False).groups.items():
        part = cv.loc[rows]
        resid = signed_residuals(part["y"].to_numpy(), part[model].to_numpy(), scale)
        steps, known_at = part["step"].to_numpy(), pd.DatetimeIndex(part["ds"])
        for cutoff, window in part.groupby("cutoff").groups.items():
            earlier = np.asarray(known_at <= cutoff) & np.isfinite(resid)
            if earlier.sum() < min_scores:
                continue
            grid = pooled_quantiles(resid[earlier], steps[earlier], horizon, qs, pool, min_count=min_scores)
            if grid is None:
                continue
            where = cv.index.get_indexer(window)
            shift = grid[cv["step"].to_numpy()[where] - 1]
            values[where] = _apply(cv[model].to_numpy()[where][:, None], shift, scale)
    for j, name in enumerate(names):
        out[f"{model}_{name}"] = values[:, j]
    return out


def step_quantiles(cv: pd.DataFrame, model: str, levels: Mapping[str, float], *, horizon: int,
                   scale: Scale = "log", pool: int = 0) -> dict[str, np.ndarray]:
    """Per series, the ``horizon × len(levels)`` signed-error quantiles from every window of ``cv``
    (for forecasts made after the backtest); series without errors are left out."""
    qs = np.array(list(levels.values()), dtype=float)
    grids: dict[str, np.ndarray] = {}
    for series_id, part in cv.groupby("series_id", sort=False):
        resid = signed_residuals(part["y"].to_numpy(), part[model].to_numpy(), scale)
        grid = pooled_quantiles(resid, part["step"].to_numpy(), horizon, qs, pool)
        if grid is not None:
            grids[str(series_id)] = grid
    return grids


def apply_quantiles(point: np.ndarray, grid: np.ndarray, scale: Scale = "log") -> np.ndarray:
    """Quantile forecasts (``horizon × len(levels)``) from a point path of ``horizon`` steps and a grid of
    ``step_quantiles``."""
    return _apply(np.asarray(point, dtype=float)[:, None], grid[: len(point)], scale)
