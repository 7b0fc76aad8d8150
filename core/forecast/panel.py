"""Panels: many series in one long frame ``series_id, ds, y`` (plus exogenous columns)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from core.errors import InputError
from core.forecast.backtest import ModelFactory, cross_validation
from core.forecast.parallel import run_tasks
from core.forecast.protocol import Seasons
from core.forecast.seasons import infer_step, season_lengths

PANEL_COLUMNS = ("series_id", "ds", "y")


def validate_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel sorted by series and time; refuses missing columns, non-time ``ds``, non-numeric
    ``y`` and a timestamp repeated within a series."""
    missing = [c for c in PANEL_COLUMNS if c not in panel.columns]
    if missing:
        raise InputError(f"a panel needs columns {', '.join(PANEL_COLUMNS)}; missing {', '.join(missing)}")
    if not pd.api.types.is_datetime64_any_dtype(panel["ds"]):
        raise InputError("panel column 'ds' must hold timestamps")
    if not pd.api.types.is_numeric_dtype(panel["y"]):
        raise InputError("panel column 'y' must be numeric")
    repeated = panel.duplicated(["series_id", "ds"])
    if repeated.any():
        first = panel.loc[repeated].iloc[0]
        raise InputError(f"series '{first['series_id']}' has timestamp {first['ds']} more than once")
    return panel.sort_values(["series_id", "ds"], kind="stable").reset_index(drop=True)


def series_of(panel: pd.DataFrame, series_id: object) -> pd.Series:
    """One series on its regular grid: intervals with no row stay missing (NaN), never zero."""
    rows = panel[panel["series_id"] == series_id]
    y = pd.Series(rows["y"].to_numpy(dtype=float), index=pd.DatetimeIndex(rows["ds"]), name=str(series_id))
    step = infer_step(y.index)
    grid = pd.date_range(y.index[0], y.index[-1], freq=step)
    return y.reindex(grid)


def _one_series(task: tuple[object, pd.Series, Mapping[str, ModelFactory], dict[str, Any]]) -> pd.DataFrame:
    series_id, y, models, options = task
    seasons = Seasons(season_lengths(infer_step(y.index), len(y)))
    return cross_validation(y, models, seasons=seasons, series_id=str(series_id), **options)


Models = Mapping[str, ModelFactory] | Callable[[str], Mapping[str, ModelFactory]]


def cross_validation_panel(panel: pd.DataFrame, models: Models, *, horizon: int,
                           n_windows: int = 1, step: int = 1, refit_every: int = 1, n_jobs: int = 1,
                           scheduler: str | None = None, cutoffs: pd.DatetimeIndex | None = None,
                           on_done: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """``cross_validation`` of every series (each on its own seasons), in parallel: one task per
    series and model on local processes or the configured Dask cluster; rows in series order.
    ``models`` maps names to factories, or is a function of the series id that does (a model that
    needs a series' own settings, such as its country's holidays); every series gets the same names.
    ``cutoffs``: explicit origins shared by every series; ``on_done(done, total)`` reports progress."""
    panel = validate_panel(panel)
    options: dict[str, Any] = {"horizon": horizon, "n_windows": n_windows, "step": step,
                               "refit_every": refit_every, "cutoffs": cutoffs}
    ids = list(panel["series_id"].unique())
    series = {sid: series_of(panel, sid) for sid in ids}
    # One task per (series, model): a slow model on one series does not hold up the others' workers.
    per_series = {sid: dict(models(str(sid)) if callable(models) else models) for sid in ids}
    tasks = [(sid, series[sid], {name: factory}, options) for sid in ids for name, factory in per_series[sid].items()]
    parts = run_tasks(_one_series, tasks, n_jobs=n_jobs, scheduler=scheduler, on_done=on_done)
    frames, start = [], 0
    for sid in ids:
        own = parts[start : start + len(per_series[sid])]
        start += len(own)
        frame = own[0].copy()
        for extra in own[1:]:
            name = next(c for c in extra.columns if c not in frame.columns)
            frame[name] = extra[name].to_numpy()
        frame.attrs["fits"] = {k: v for p in own for k, v in p.attrs.get("fits", {}).items()}
        frames.append(frame)
    fits: dict[str, int] = {}
    for frame in frames:
        for name, count in frame.attrs.get("fits", {}).items():
            fits[name] = fits.get(name, 0) + count
    out = pd.concat(frames, ignore_index=True)
    out.attrs["fits"] = fits
    return out
