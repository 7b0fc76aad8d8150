"""Forecast quantiles at every step of a long horizon, from a backtest's own errors.

A plan 90 days ahead needs the spread of a 90-day-ahead error, which is wider than a 1-day one;
but a backtest has few windows, so each step alone has few errors (one per window). Errors at
neighbouring steps are alike, so the quantile of step k pools the signed errors (on a scale that
grows with the level, log by default) of steps ``k - pool .. k + pool``, with the finite-sample
conformal ranks of ``residual_quantiles``.

``add_quantiles`` is honest about time: each window's quantiles come only from errors whose
truth was known at its cutoff (earlier windows), as ``add_intervals`` does. ``step_quantiles``
uses every window, for forecasts made after the backtest.

Errors are not exchangeable: the days of one window share its bias, and later windows can be
harder than earlier ones, so a quantile of past errors is hit more often than its level says. Both
functions therefore **recalibrate the levels** (quantile recalibration): each row's realised error
gets its rank among the errors its own quantiles were made from (a PIT value); the level asked for
becomes the level at which those honest past quantiles were actually reached, pooled over every
series (``recalibrated_levels``). A window uses only the ranks of rows known at its cutoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from core.forecast.intervals import Scale, _back, _forward, conformal_rank, signed_residuals


@lru_cache(maxsize=4096)
def _t_factor(q: float, n: int) -> float:
    from scipy import stats  # ~1 s to import: only when a tail needs it, not for every importer of this module

    return float(stats.t.ppf(q, n - 1) * np.sqrt(1.0 + 1.0 / n))


def tail_quantiles(resid: np.ndarray, levels: np.ndarray) -> np.ndarray | None:
    """``residual_quantiles`` (finite-sample conformal ranks), except where there are too few errors for
    a level's rank (a 2.5 % quantile needs 39): there the normal prediction bound
    ``mean ± t·sd·√(1 + 1/n)`` (exact for normal errors), never inside the sample's extreme. Capping at
    the extreme instead makes every interval from a few dozen errors too narrow. None without errors."""
    r = np.sort(resid[np.isfinite(resid)])
    n = r.size
    if not n:
        return None
    out = np.empty(len(levels))
    spread: tuple[float, float] | None = None
    for j, q in enumerate(levels):
        upper = q >= 0.5
        rank = conformal_rank(n, q if upper else 1.0 - q)
        if rank is not None:
            out[j] = r[rank - 1] if upper else r[n - rank]
            continue
        out[j] = r[-1] if upper else r[0]
        if n >= 3:
            if spread is None:
                mean = float(r.mean())
                spread = mean, float(np.sqrt(((r - mean) ** 2).sum() / (n - 1)))
            bound = spread[0] + _t_factor(float(q), n) * spread[1]
            out[j] = max(bound, out[j]) if upper else min(bound, out[j])
    return out


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
            out[k - 1] = tail_quantiles(resid[lo:hi], levels) if hi - lo >= min_count else np.nan
            continue
        found = tail_quantiles(resid[lo:hi], levels) if hi > lo else None
        if found is None:
            found = previous if previous is not None else tail_quantiles(resid, levels)
        out[k - 1] = previous = found
    return out


def _apply(point: np.ndarray, shift: np.ndarray, scale: Scale) -> np.ndarray:
    if scale == "relative":
        return np.maximum(point * (1.0 + shift), 0.0)
    if scale == "absolute":
        return point + shift
    return np.maximum(_back(_forward(np.maximum(point, 0.0), scale) + shift, scale), 0.0)


# Ranks needed (pooled over series) before levels are recalibrated; fewer keep the nominal levels.
MIN_RECALIBRATION_RANKS = 50


def recalibrated_levels(ranks: np.ndarray, levels: np.ndarray, min_ranks: int = MIN_RECALIBRATION_RANKS) -> np.ndarray:
    """The levels at which past honest quantiles were reached as often as ``levels`` ask: the empirical
    quantiles of the ranks (PIT values in (0, 1)), never less extreme than asked (the median stays).
    Nominal levels while fewer than ``min_ranks`` are known."""
    known = ranks[np.isfinite(ranks)]
    if known.size < min_ranks:
        return levels
    found = np.quantile(known, levels)
    # Only ever widen: the conformal levels are already right for exchangeable errors, and a few dozen
    # ranks that happen to fall centrally must not narrow an interval below them.
    return np.where(levels > 0.5, np.maximum(found, levels), np.where(levels < 0.5, np.minimum(found, levels), levels))


@dataclass(frozen=True)
class _Window:
    rows: np.ndarray  # positions in the frame
    resid: np.ndarray  # the calibration errors known at the cutoff
    steps: np.ndarray  # their steps


def _windows(cv: pd.DataFrame, resid: np.ndarray, min_scores: int) -> dict[tuple[str, pd.Timestamp], _Window]:
    """Per (series, cutoff), the rows of the window and the errors of that series known at its cutoff
    (windows with fewer than ``min_scores`` known errors are left out)."""
    out: dict[tuple[str, pd.Timestamp], _Window] = {}
    steps, known_at = cv["step"].to_numpy(), pd.DatetimeIndex(cv["ds"])
    for sid, rows in cv.groupby("series_id", sort=False).indices.items():
        for cutoff, at in cv.iloc[rows].groupby("cutoff").indices.items():
            earlier = rows[np.asarray(known_at[rows] <= cutoff) & np.isfinite(resid[rows])]
            if earlier.size >= min_scores:
                out[(str(sid), pd.Timestamp(cutoff))] = _Window(rows[at], resid[earlier], steps[earlier])
    return out


def _ranks(window: _Window, resid: np.ndarray, steps: np.ndarray, pool: int, min_scores: int) -> np.ndarray:
    """Each row's realised error ranked among the window's calibration errors within ``pool`` steps (mid-rank
    PIT in (0, 1)); NaN where fewer than ``min_scores`` errors are near or the truth is missing."""
    out = np.full(window.rows.size, np.nan)
    for j, row in enumerate(window.rows):
        k = steps[row]
        near = window.resid[(window.steps >= k - pool) & (window.steps <= k + pool)]
        if near.size >= min_scores and np.isfinite(resid[row]):
            below, ties = (near < resid[row]).sum(), (near == resid[row]).sum()
            out[j] = (below + 0.5 * ties + 0.5) / (near.size + 1)
    return out


def honest_ranks(cv: pd.DataFrame, model: str, *, scale: Scale = "log", pool: int = 0,
                 min_scores: int = 20) -> np.ndarray:
    """Per row of the backtest frame, the rank (PIT) of its realised error among the errors its honest
    quantiles come from (its series, known at its cutoff, within ``pool`` steps)."""
    resid = signed_residuals(cv["y"].to_numpy(), cv[model].to_numpy(), scale)
    steps = cv["step"].to_numpy()
    ranks = np.full(len(cv), np.nan)
    for window in _windows(cv, resid, min_scores).values():
        ranks[window.rows] = _ranks(window, resid, steps, pool, min_scores)
    return ranks


def add_quantiles(cv: pd.DataFrame, model: str, levels: Mapping[str, float], *, scale: Scale = "log",
                  pool: int = 0, min_scores: int = 20, recalibrate: bool = True) -> pd.DataFrame:
    """A column ``<model>_<name>`` per level: the level's quantile forecast for every row of the
    backtest frame ``cv`` (``series_id, cutoff, ds, step, y, <model>``), each window's from the
    errors of that series known at its cutoff, at levels recalibrated on the ranks known at its cutoff
    (all series). A step with fewer than ``min_scores`` known errors within ``pool`` steps of it gets
    NaN (no honest quantile yet)."""
    names, qs = list(levels), np.array(list(levels.values()), dtype=float)
    resid = signed_residuals(cv["y"].to_numpy(), cv[model].to_numpy(), scale)
    steps, point, known_at = cv["step"].to_numpy(), cv[model].to_numpy(dtype=float), pd.DatetimeIndex(cv["ds"])
    windows = _windows(cv, resid, min_scores)
    ranks = np.full(len(cv), np.nan)
    if recalibrate:
        for window in windows.values():
            ranks[window.rows] = _ranks(window, resid, steps, pool, min_scores)
    horizon = int(steps.max())
    values = np.full((len(cv), len(qs)), np.nan)
    for (_sid, cutoff), window in windows.items():
        asked = recalibrated_levels(ranks[np.asarray(known_at <= cutoff)], qs) if recalibrate else qs
        grid = pooled_quantiles(window.resid, window.steps, horizon, asked, pool, min_count=min_scores)
        if grid is None:
            continue
        values[window.rows] = _apply(point[window.rows][:, None], grid[steps[window.rows] - 1], scale)
    out = cv.copy()
    for j, name in enumerate(names):
        out[f"{model}_{name}"] = values[:, j]
    return out


def step_quantiles(cv: pd.DataFrame, model: str, levels: Mapping[str, float], *, horizon: int,
                   scale: Scale = "log", pool: int = 0, min_scores: int = 20,
                   recalibrate: bool = True) -> dict[str, np.ndarray]:
    """Per series, the ``horizon × len(levels)`` signed-error quantiles from every window of ``cv``
    (for forecasts made after the backtest), at levels recalibrated on every honest rank of ``cv``;
    series without errors are left out."""
    qs = np.array(list(levels.values()), dtype=float)
    if recalibrate:
        qs = recalibrated_levels(honest_ranks(cv, model, scale=scale, pool=pool, min_scores=min_scores), qs)
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
