"""A capacity plan from the backtest's choice: quantile paths over the planning horizon, the plan
table, the N−1 check and the breach rate of past plans.

The quantiles of a step k days ahead come from the choice's own errors k days ahead, so the plan
first backtests the choice at the planning horizon (calibration windows, each made by models fitted
before the first of them). The same windows replay the plan rule: each window's plan quantile
comes only from errors known at its cutoff, and the share of days real demand exceeded it is the
breach rate of past plans. Then the chosen models are fitted on all the data and forecast ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.demand import config
from core.demand.backtest import Progress, common_grid, forecast_part
from core.demand.capacity import PlanSettings, n_minus_one, plan_table, replay_breaches
from core.demand.choice import CHOSEN, forecast_of
from core.demand.data import DemandData
from core.demand.evaluation import DemandBacktest
from core.demand.models import MEAN_OF
from core.errors import InputError
from core.forecast.horizon_quantiles import add_quantiles, apply_quantiles, step_quantiles

CALIBRATION_WINDOWS = 8
# The forecast ahead comes from models fitted on all the data, so each calibration window's models are fitted
# on the data up to its cutoff too: with one fit before the first window, later windows' models are staler than
# the earlier windows whose errors set their quantiles, and the replay under-covers.
CALIBRATION_REFIT_EVERY = 1


@dataclass(frozen=True)
class DemandPlan:
    paths: pd.DataFrame  # series_id, region, metric, ds, p50, p95, plan, lo, hi
    table: pd.DataFrame  # capacity.PLAN_COLUMNS
    n_minus_one: pd.DataFrame
    breaches: pd.DataFrame  # capacity.BREACH_COLUMNS
    coverage: float  # of the 95 % interval on the calibration windows
    settings: PlanSettings
    horizon_days: int
    notes: tuple[str, ...]

    def download(self) -> pd.DataFrame:
        """The plan as one CSV: the plan table (recommendations included)."""
        return self.table


def plan_levels(quantile: float) -> dict[str, float]:
    return {"p50": 0.5, "p95": 0.95, "plan": quantile, "lo": (1 - config.INTERVAL_LEVEL) / 2,
            "hi": 1 - (1 - config.INTERVAL_LEVEL) / 2}


def horizon_steps(data: DemandData, days: int) -> int:
    steps = int(round(pd.Timedelta(days=days) / data.step))
    if steps < 1:
        raise InputError("the planning horizon must be at least one step of the data")
    return steps


def calibration_cutoffs(data: DemandData, horizon: int) -> pd.DatetimeIndex:
    """Up to ``CALIBRATION_WINDOWS`` origins a quarter of the horizon apart, the last window ending at
    the end of the data, none with less than half the data behind it."""
    grid = common_grid(data)
    step = max(1, horizon // 4)
    last = len(grid) - 1 - horizon
    positions = [p for p in (last - step * j for j in range(CALIBRATION_WINDOWS - 1, -1, -1)) if p >= len(grid) // 2]
    if not positions:
        days = (grid[-1] - grid[0]).days
        raise InputError(f"a {horizon}-step plan needs more history: the data spans {days} days; plan at most "
                         f"a third of it ahead")
    return pd.DatetimeIndex(grid[positions])


def _needed(backtest: DemandBacktest) -> tuple[str, ...]:
    names = {m for models in backtest.choice.models.values() for m in models}
    for combined, members in MEAN_OF.items():
        if combined in names:
            names |= set(members)
    return tuple(m for m in config.ALL_MODELS if m in names or m == config.BASELINE)


def _with_meta(frame: pd.DataFrame, backtest: DemandBacktest) -> pd.DataFrame:
    return frame.merge(backtest.series_meta, on="series_id", how="left")


@dataclass(frozen=True)
class PlanForecast:
    """The slow part of a plan, independent of the service level, headroom, lead time and capacity: the
    choice backtested at the planning horizon (``calibration``) and forecast ahead (``ahead``), both with
    ``series_id, cutoff, ds, step, y`` and a ``chosen`` column."""

    calibration: pd.DataFrame
    ahead: pd.DataFrame
    horizon: int
    horizon_days: int
    strategy: str

    @property
    def pool(self) -> int:
        return max(1, self.horizon // 8)


def forecast_plan(data: DemandData, backtest: DemandBacktest, horizon_days: int, *, progress: Progress | None = None,
                  n_jobs: int = config.N_JOBS) -> PlanForecast:
    """Backtest the choice at the planning horizon, then fit it on all the data and forecast ahead."""
    report = progress or (lambda _f, _m: None)
    horizon = horizon_steps(data, horizon_days)
    models = _needed(backtest)
    cutoffs = calibration_cutoffs(data, horizon)
    calib = forecast_part(data, models, cutoffs, horizon, n_jobs=n_jobs, label="calibrating the plan",
                          progress=lambda f, m: report(0.6 * f, m), refit_every=CALIBRATION_REFIT_EVERY)
    calib[CHOSEN] = forecast_of(calib, backtest.choice)
    last = pd.DatetimeIndex([common_grid(data)[-1]])
    ahead = forecast_part(data, models, last, horizon, extra=horizon, n_jobs=n_jobs, label="forecasting ahead",
                          progress=lambda f, m: report(0.6 + 0.4 * f, m))
    ahead[CHOSEN] = forecast_of(ahead, backtest.choice)
    return PlanForecast(calib, ahead, horizon, horizon_days, backtest.strategy)


def make_plan(data: DemandData, backtest: DemandBacktest, forecast: PlanForecast, settings: PlanSettings, *,
              capacity: pd.DataFrame | None = None) -> DemandPlan:
    """The plan for a service level, headroom, lead time and capacity from a ``forecast_plan`` (seconds)."""
    levels = plan_levels(settings.quantile)
    replayed = add_quantiles(forecast.calibration, CHOSEN, levels, pool=forecast.pool,
                             min_scores=config.MIN_INTERVAL_SCORES)
    breaches = replay_breaches(replayed.assign(planned=replayed[f"{CHOSEN}_plan"])[
        ["series_id", "cutoff", "ds", "y", "planned"]])
    framed = replayed[f"{CHOSEN}_lo"].notna() & replayed["y"].notna()
    inside = (replayed[f"{CHOSEN}_lo"] <= replayed["y"]) & (replayed["y"] <= replayed[f"{CHOSEN}_hi"])
    coverage = float(inside[framed].mean()) if framed.any() else np.nan
    grids = step_quantiles(forecast.calibration, CHOSEN, levels, horizon=forecast.horizon, pool=forecast.pool,
                           min_scores=config.MIN_INTERVAL_SCORES)
    parts = []
    for sid, rows in forecast.ahead.groupby("series_id", sort=False):
        point = rows[CHOSEN].to_numpy(dtype=float)
        q = apply_quantiles(point, grids[str(sid)]) if str(sid) in grids else np.full((len(point), len(levels)), np.nan)
        parts.append(pd.DataFrame({"series_id": sid, "ds": rows["ds"].to_numpy(), "point": point,
                                   **{name: q[:, j] for j, name in enumerate(levels)}}))
    paths = _with_meta(pd.concat(parts, ignore_index=True), backtest)
    recent = data.panel[data.panel["ds"] > data.panel["ds"].max() - pd.Timedelta(days=7)]
    last_use = recent.groupby(["region", "metric"], as_index=False)["y"].mean().rename(columns={"y": "current"})
    capacity = data.capacity if capacity is None else capacity
    notes = []
    if capacity.empty:
        notes.append("no capacity table: forecasts are shown, but risk and orders need installed capacity")
    table = plan_table(paths, capacity, last_use, settings)
    return DemandPlan(paths=paths, table=table, n_minus_one=n_minus_one(paths, capacity), breaches=breaches,
                      coverage=coverage, settings=settings, horizon_days=forecast.horizon_days, notes=tuple(notes))
