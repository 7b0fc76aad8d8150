"""Rolling-origin backtests: every model forecasts from the same origins, over the same windows.

One call with the knobs users know (after statsforecast's ``cross_validation``): ``horizon``
steps from each of ``n_windows`` origins ``step`` steps apart, the last one ending at the end of
the data. ``refit_every`` says how often a model is fit again on everything before the origin
(1: before every window; k: every k windows; 0: once, before the first). Between refits a model
still sees the newest data when it forecasts (the Forecaster contract), it just keeps its
parameters. The result is one long frame every metric reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.intervals import Scale, bounds, conformal_quantile, scores
from core.forecast.protocol import Forecaster, Seasons
from core.forecast.seasons import infer_step, season_lengths
from core.ml.metrics import mae, rmse, seasonal_naive_scale, smape

ModelFactory = Callable[[], Forecaster]


def origins(y: pd.Series, *, horizon: int, n_windows: int, step: int = 1) -> pd.DatetimeIndex:
    """The forecast origins (the last time each window's model may read), oldest first."""
    if horizon < 1 or n_windows < 1 or step < 1:
        raise InputError("horizon, n_windows and step must be at least 1")
    last = len(y) - horizon - 1
    first = last - step * (n_windows - 1)
    if first < 1:
        raise InputError(f"{len(y)} intervals are too few for {n_windows} windows of {horizon} step(s), "
                         f"{step} apart, with any history before them")
    return pd.DatetimeIndex(y.index[np.arange(first, last + 1, step)])


def explicit_origins(y: pd.Series, cutoffs: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    """``cutoffs`` checked: timestamps of ``y``, sorted, with history before the first and ``horizon``
    steps after the last."""
    cuts = pd.DatetimeIndex(cutoffs).sort_values()
    pos = y.index.get_indexer(cuts)
    if len(cuts) == 0:
        raise InputError("no forecast origins")
    if (pos < 0).any():
        raise InputError(f"origin {cuts[np.argmax(pos < 0)]} is not a time of the series")
    if pos[0] < 1 or pos[-1] + horizon >= len(y):
        raise InputError(f"origins from {cuts[0]} to {cuts[-1]} leave no history before them or fewer than "
                         f"{horizon} steps after them")
    return cuts


def cross_validation(y: pd.Series, models: Mapping[str, ModelFactory], *, horizon: int, n_windows: int = 1,
                     step: int = 1, refit_every: int = 1, seasons: Seasons | None = None,
                     series_id: str = "series", cutoffs: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Forecasts of every model from identical origins: columns ``series_id, cutoff, ds, step, y``
    and one column per model. ``attrs["fits"]`` counts the fits of each model.

    ``cutoffs`` gives the origins explicitly (timestamps of ``y``, each with ``horizon`` steps after
    it) instead of ``n_windows`` and ``step``: a protocol that fits before a test start and scores
    from it on needs origins anchored there, not at the end of the data."""
    if refit_every < 0:
        raise InputError("refit_every must be 0 (fit once) or a number of windows")
    cuts = origins(y, horizon=horizon, n_windows=n_windows, step=step) if cutoffs is None else \
        explicit_origins(y, cutoffs, horizon)
    seasons = seasons or Seasons(season_lengths(infer_step(y.index), len(y)))
    positions = y.index.get_indexer(cuts)
    target_pos = positions[:, None] + np.arange(1, horizon + 1)[None, :]
    frame = pd.DataFrame({
        "series_id": series_id,
        "cutoff": np.repeat(cuts, horizon),
        "ds": y.index[target_pos.ravel()],
        "step": np.tile(np.arange(1, horizon + 1), len(cuts)),
        "y": y.to_numpy(dtype=float)[target_pos.ravel()],
    })
    fits: dict[str, int] = {}
    for name, factory in models.items():
        frame[name] = _forecast_windows(y, factory, cuts, horizon, refit_every, seasons, fits, name).ravel()
    frame.attrs["fits"] = fits
    return frame


def _refit_groups(n: int, refit_every: int) -> list[range]:
    """Consecutive windows that share one fit."""
    size = n if refit_every == 0 else refit_every
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def _forecast_windows(y: pd.Series, factory: ModelFactory, cuts: pd.DatetimeIndex, horizon: int, refit_every: int,
                      seasons: Seasons, fits: dict[str, int], name: str) -> np.ndarray:
    out = np.empty((len(cuts), horizon))
    for group in _refit_groups(len(cuts), refit_every):
        first, last = cuts[group.start], cuts[group.stop - 1]
        model = factory().fit(y.loc[:first], seasons)  # everything before (and at) the window's origin
        fits[name] = fits.get(name, 0) + 1
        # The model reads y only up to each origin; the slice keeps later truth out of reach anyway.
        out[group.start : group.stop] = model.forecast(y.loc[:last], cuts[group.start : group.stop], horizon)
    return out


def add_intervals(cv: pd.DataFrame, models: list[str], *, level: float = 0.8, scale: Scale = "log",
                  min_scores: int = 8) -> pd.DataFrame:
    """``<model>_lo`` / ``<model>_hi`` columns: split-conformal intervals per horizon step, each window's
    from the scores of forecasts whose truth was known at its cutoff (earlier windows only), so the
    coverage a backtest reports is honest. Windows with fewer than ``min_scores`` such scores get NaN."""
    out = cv.copy()
    for model in models:
        lo, hi = np.full(len(cv), np.nan), np.full(len(cv), np.nan)
        for _, rows in cv.groupby(["series_id", "step"], sort=False).groups.items():
            part = cv.loc[rows]
            s = scores(part["y"].to_numpy(), part[model].to_numpy(), scale)
            known_at = pd.DatetimeIndex(part["ds"])
            for cutoff, window in part.groupby("cutoff").groups.items():
                earlier = s[np.asarray(known_at <= cutoff) & np.isfinite(s)]
                if len(earlier) < min_scores:
                    continue
                width = conformal_quantile(earlier, level)
                where = cv.index.get_indexer(window)
                lo[where], hi[where] = bounds(cv.loc[window, model].to_numpy(), np.full(len(window), width), scale)
        out[f"{model}_lo"], out[f"{model}_hi"] = lo, hi
    return out


def score(cv: pd.DataFrame, y: pd.Series, models: list[str] | None = None, *, season: int) -> pd.DataFrame:
    """MAE, RMSE, sMAPE and MASE per model over every window (MASE scaled by the seasonal naive's
    in-sample error on the history before the first origin), and, where ``add_intervals`` set them,
    interval coverage and mean width over the windows that have an interval."""
    names = models or [c for c in cv.columns if c not in ("series_id", "cutoff", "ds", "step", "y")
                       and not c.endswith(("_lo", "_hi"))]
    history = y.loc[: cv["cutoff"].min()]
    scale = seasonal_naive_scale(history.to_numpy(dtype=float), season)  # NaNs kept: lags stay aligned
    rows = []
    for name in names:
        known = cv["y"].notna() & cv[name].notna()
        truth, pred = cv.loc[known, "y"], cv.loc[known, name]
        error = mae(truth, pred)
        row = {"model": name, "mae": error, "rmse": rmse(truth, pred), "smape": smape(truth, pred),
               "mase": error / scale if scale > 0 else np.nan, "n": int(known.sum())}
        if f"{name}_lo" in cv.columns:
            framed = known & cv[f"{name}_lo"].notna()
            lo, hi, t = cv.loc[framed, f"{name}_lo"], cv.loc[framed, f"{name}_hi"], cv.loc[framed, "y"]
            row["coverage"] = float(((lo <= t) & (t <= hi)).mean()) if framed.any() else np.nan
            row["width"] = float((hi - lo).mean()) if framed.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows).sort_values("mase", kind="stable").reset_index(drop=True)
