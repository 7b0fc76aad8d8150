"""Glue from backtested forecasts to the autoscaling replay (shared by the page, CLI and bench)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from core.traffic.autoscale import ReplayResult, ScalingParams, cost_optimal_quantile, quantile_frontier, replay_all
from core.traffic.backtest import ENSEMBLE, BacktestResult

FRONTIER_QUANTILES: tuple[float, ...] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99)


def newsvendor_quantile(params: ScalingParams) -> float:
    """The quantile that balances a dropped request against idle capacity, known before any replay.

    Provisioning one request of capacity costs price_per_interval / capacity; missing one
    costs the penalty. The cost-minimising quantile is penalty / (penalty + that).
    """
    unit_capacity = params.price_per_server_hour * params.interval_minutes / 60.0 / params.capacity_per_server
    return float(min(0.99, max(0.5, params.penalty_per_dropped / (params.penalty_per_dropped + unit_capacity))))


@dataclass
class ScalingStudy:
    """Every policy replayed at one quantile, the cost vs overload frontier across quantiles, and
    the tables derived from them (each built once, on first use; shared, so never modified)."""

    replay: ReplayResult
    frontier: pd.DataFrame
    quantile: float
    best_quantile: float
    model: str

    @cached_property
    def policies(self) -> pd.DataFrame:
        """One row per policy: costs, server-hours, overloads, savings vs reactive, cost / oracle."""
        return self.replay.summary_table()

    @cached_property
    def decisions(self) -> pd.DataFrame:
        return self.replay.decisions_table()

    @property
    def reactive_overloaded_pct(self) -> float:
        return float(self.policies.loc["reactive", "overloaded_pct"])

    @cached_property
    def safe_quantile(self) -> float:
        """The cheapest quantile that overloads no more often than the reactive policy."""
        return float(cost_optimal_quantile(self.frontier, max_overloaded_pct=self.reactive_overloaded_pct))

    @property
    def current_servers(self) -> int:
        """The fleet at the end of the window: the predictive policy's last one in the replay."""
        return int(self.replay.runs["predictive"].servers.iloc[-1])


def forecast_model(result: BacktestResult) -> str:
    return ENSEMBLE if ENSEMBLE in result.paths else next(m for m in result.paths if m not in ("naive",))


def scaling_study(result: BacktestResult, params: ScalingParams, *, quantile: float | None = None,
                  quantiles: Sequence[float] = FRONTIER_QUANTILES) -> ScalingStudy:
    """Replay every policy on the backtest's test window with forecasts issued ``boot_delay`` steps ahead.

    ``quantile`` defaults to the newsvendor quantile (chosen from prices alone, not from the
    test window); the frontier across ``quantiles`` shows what each choice would have cost.
    """
    params.validate()
    lead = max(1, params.boot_delay)
    model = forecast_model(result)
    load = result.series.y[result.series.y.index >= result.test_start]
    forecasts = {q: result.step_forecast(model, lead, q).reindex(load.index) for q in quantiles}
    frontier = quantile_frontier(load, forecasts, params)
    chosen = quantile if quantile is not None else newsvendor_quantile(params)
    replay = replay_all(load, result.step_forecast(model, lead, chosen).reindex(load.index), params)
    return ScalingStudy(replay=replay, frontier=frontier, quantile=chosen,
                        best_quantile=float(cost_optimal_quantile(frontier)), model=model)
