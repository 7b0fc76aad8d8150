"""The demand backtest: every model forecasts every series from the same origins, in two parts.

- **Selection** windows end at the test start: the models are fitted once before the first of
  them, and the choice (per series, global, ensemble) is made on their errors only.
- **Evaluation** windows start at the test start, one every ``horizon`` steps to the end of the
  data: the models are fitted once on everything before the test start and condition on newer
  data without a refit (the Forecaster contract), and every model and the choice are scored there.

Local models (seasonal naive, ETS, Theta, ARIMA, MSTL, Prophet) run per series and model on
local processes (or Dask); global models (LightGBM/XGBoost, LSTM) fit once across series. All
series share one time grid, so their windows are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.demand import config
from core.demand.data import DemandData
from core.demand.models import add_means, demand_calendar_panel, global_factories, local_factories
from core.errors import InputError
from core.forecast.panel import cross_validation_panel
from core.forecast.seasons import primary_season

Progress = Callable[[float, str], None]
KEYS = ["series_id", "cutoff", "ds", "step"]


@dataclass(frozen=True)
class Windows:
    """The forecast origins (the last time a model may read) of the two parts."""

    selection: pd.DatetimeIndex
    evaluation: pd.DatetimeIndex
    horizon: int
    step: pd.Timedelta

    @property
    def test_start(self) -> pd.Timestamp:
        """The first time scored: one step after the first evaluation origin."""
        return pd.Timestamp(self.evaluation[0]) + self.step


def default_horizon(data: DemandData) -> int:
    label = data.freq_label
    if label in config.DEFAULT_HORIZON:
        return config.DEFAULT_HORIZON[label]
    return max(7, int(pd.Timedelta(days=1) / data.step)) if data.step < pd.Timedelta(days=1) else 7


def common_grid(data: DemandData, extra: int = 0) -> pd.DatetimeIndex:
    """One grid over every series (plus ``extra`` future steps)."""
    ds = data.panel["ds"]
    return pd.date_range(ds.min(), ds.max() + extra * data.step, freq=data.step)


def on_grid(data: DemandData, grid: pd.DatetimeIndex) -> pd.DataFrame:
    """The panel ``series_id, ds, y`` with every series on ``grid`` (NaN where it has no value)."""
    parts = []
    for sid, rows in data.panel.groupby("series_id", sort=False):
        y = pd.Series(rows["y"].to_numpy(dtype=float), index=pd.DatetimeIndex(rows["ds"])).reindex(grid)
        parts.append(pd.DataFrame({"series_id": sid, "ds": grid, "y": y.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def window_count(data: DemandData, horizon: int, rule: tuple[int, int]) -> int:
    """The larger of ``rule``'s count of windows and the windows its days span."""
    windows, days = rule
    return max(windows, int(np.ceil(pd.Timedelta(days=days) / (horizon * data.step))))


def plan_windows(data: DemandData, horizon: int, test_start: pd.Timestamp | None = None,
                 select_windows: int | None = None) -> Windows:
    """Evaluation origins from the test start (default: the last ``DEFAULT_EVAL_WINDOWS`` windows), one
    every ``horizon`` steps while a whole window fits; selection origins before them, their targets
    ending where the evaluation begins, as many as the history allows (at least one season before the
    first). Refuses data too short for one window of each."""
    if horizon < 1:
        raise InputError("the horizon must be at least 1 step")
    grid = common_grid(data)
    last = len(grid) - 1
    if test_start is None:
        first_eval = last - horizon * window_count(data, horizon, config.DEFAULT_EVAL_WINDOWS)
        first_eval = max(first_eval, last - horizon * max(1, (last // horizon) // 3))
    else:
        start = pd.Timestamp(test_start)
        if start.tzinfo is None and grid.tz is not None:
            start = start.tz_localize(grid.tz)
        first_eval = int(grid.searchsorted(start, "left")) - 1
        if first_eval + horizon > last:
            raise InputError(f"test start {start.date()} leaves less than one {horizon}-step window before the end of "
                             f"the data ({grid[-1].date()})")
    evaluation = np.arange(first_eval, last - horizon + 1, horizon)[: window_count(data, horizon, config.MAX_EVAL_WINDOWS)]
    season = primary_season(data.step)
    earliest = max(2 * season, 14)
    select_windows = select_windows or window_count(data, horizon, config.SELECT_WINDOWS)
    selection = np.array([first_eval - horizon * j for j in range(select_windows, 0, -1)])
    selection = selection[selection >= earliest]
    if len(evaluation) == 0 or len(selection) == 0:
        need = earliest + 2 * horizon
        raise InputError(f"{len(grid)} time steps are too few to choose and score models on {horizon}-step "
                         f"windows: at least {need} are needed (or a shorter horizon / a later test start)")
    return Windows(pd.DatetimeIndex(grid[selection]), pd.DatetimeIndex(grid[evaluation]), horizon, data.step)


def forecast_part(data: DemandData, models: tuple[str, ...], cutoffs: pd.DatetimeIndex, horizon: int, *,
                  extra: int = 0, n_jobs: int = config.N_JOBS, progress: Progress | None = None,
                  label: str = "", refit_every: int = 0) -> pd.DataFrame:
    """Every model's forecasts from ``cutoffs``, each model fitted once on the data up to the first
    (``refit_every`` k: again every k cutoffs, on the data up to that cutoff):
    ``series_id, cutoff, ds, step, y`` and a column per model (``stats_mean`` added)."""
    report = progress or (lambda _f, _m: None)
    grid = common_grid(data, extra)
    panel = on_grid(data, grid)
    locals_ = local_factories(data, models)
    local_names = list(locals_(data.series_ids[0]))
    globals_ = global_factories(models, horizon) if set(models) & set(config.GLOBAL_MODELS) else {}
    total_local = len(data.series_ids) * len(local_names)
    share = total_local / (total_local + 4 * len(globals_)) if total_local else 0.0

    def on_done(done: int, total: int) -> None:
        report(share * done / max(total, 1), f"{label}: {done}/{total} series × model fits")

    frame = cross_validation_panel(panel, locals_, horizon=horizon, cutoffs=cutoffs, refit_every=refit_every,
                                   n_jobs=n_jobs, on_done=on_done)
    if globals_:
        from core.forecast.global_backtest import global_cross_validation
    for i, (name, factory) in enumerate(globals_.items()):
        report(share + (1 - share) * i / len(globals_), f"{label}: fitting the global {name} model")
        cv = global_cross_validation(demand_calendar_panel(data, panel), {name: factory}, cutoffs=cutoffs,
                                     horizon=horizon, refit_every=refit_every)
        frame = frame.merge(cv[[*KEYS, name]], on=KEYS, how="left")
    report(1.0, f"{label}: done")
    return add_means(frame)


def run_parts(data: DemandData, models: tuple[str, ...], windows: Windows, *, n_jobs: int = config.N_JOBS,
              progress: Progress | None = None) -> pd.DataFrame:
    """The selection and evaluation parts in one frame, with a ``part`` column."""
    report = progress or (lambda _f, _m: None)
    parts = []
    for i, (name, cutoffs) in enumerate((("selection", windows.selection), ("evaluation", windows.evaluation))):
        def sub(fraction: float, message: str, i: int = i) -> None:
            report((i + fraction) / 2, message)

        frame = forecast_part(data, models, cutoffs, windows.horizon, n_jobs=n_jobs, progress=sub, label=name)
        parts.append(frame.assign(part=name))
    return pd.concat(parts, ignore_index=True)


def series_scales(data: DemandData, before: pd.Timestamp) -> dict[str, float]:
    """Each series' MASE scale: the in-sample seasonal-naive MAE on its history before ``before``."""
    season = primary_season(data.step)
    out = {}
    for sid, rows in data.panel.groupby("series_id", sort=False):
        y = rows.loc[rows["ds"] <= before, "y"].to_numpy(dtype=float)
        diffs = np.abs(y[season:] - y[:-season]) if len(y) > season else np.array([])
        diffs = diffs[np.isfinite(diffs)]
        out[str(sid)] = float(diffs.mean()) if diffs.size and diffs.mean() > 0 else np.nan
    return out
