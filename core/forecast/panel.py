"""Panels: many series in one long frame ``series_id, ds, y`` (plus exogenous columns)."""

from __future__ import annotations

from collections.abc import Mapping

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


def _one_series(task: tuple[object, pd.Series, Mapping[str, ModelFactory], dict[str, int]]) -> pd.DataFrame:
    series_id, y, models, options = task
    seasons = Seasons(season_lengths(infer_step(y.index), len(y)))
    return cross_validation(y, models, seasons=seasons, series_id=str(series_id), **options)


def cross_validation_panel(panel: pd.DataFrame, models: Mapping[str, ModelFactory], *, horizon: int, n_windows: int,
                           step: int = 1, refit_every: int = 1, n_jobs: int = 1,
                           scheduler: str | None = None) -> pd.DataFrame:
    """``cross_validation`` of every series (each on its own seasons), in parallel: one task per
    series on local processes or the configured Dask cluster; rows in series order."""
    panel = validate_panel(panel)
    options = {"horizon": horizon, "n_windows": n_windows, "step": step, "refit_every": refit_every}
    tasks = [(sid, series_of(panel, sid), dict(models), options) for sid in panel["series_id"].unique()]
    frames = run_tasks(_one_series, tasks, n_jobs=n_jobs, scheduler=scheduler)
    fits: dict[str, int] = {}
    for frame in frames:
        for name, count in frame.attrs.get("fits", {}).items():
            fits[name] = fits.get(name, 0) + count
    out = pd.concat(frames, ignore_index=True)
    out.attrs["fits"] = fits
    return out
