"""Replay autoscaling policies on a test window and price them (servers + dropped requests).

Model, in one place so the page, CLI and bench agree:

* Time is a regular grid of intervals. ``load[t]`` is the demand of interval t (requests).
  NaN load means the interval has no recorded demand (outage / missing data): no drops and no
  overload are counted there, but provisioned servers are still paid for.
* ``serving[t] * capacity_per_server`` requests can be served in interval t; the rest is dropped.
* A server ordered at decision time t serves from ``t + boot_delay``. Booting servers are paid
  (clouds bill from launch), so ``servers`` (what you pay for) = serving + booting.
  Removing a server takes effect at once.
* Every policy starts the window with the same fleet: ``params.initial_servers`` or, if unset,
  what the oracle would serve in the first interval. Static is the exception: it is a fixed fleet.

Sizing rule (``required_servers``): for a demand d, the n in [min, max] minimising
``n * price_per_interval + penalty * max(0, d - n * capacity)``; with the default prices a server is
added only if it would serve more than 8.3 requests. The predictive policy sizes its forecast with
it, interval by interval. Pure ``ceil(d / capacity)`` would be beaten by any policy that lets slivers
of demand drop when a server costs more than their penalty.

Boot cost and scale-in: because booting is paid, releasing a server and re-ordering it soon after
costs ``boot_delay`` server-intervals. Predictive therefore keeps a server while the forecasts
already issued (up to ``boot_delay`` ahead) say it is needed again, else releases it at once.

Oracle: perfect foresight under the same constraints (start fleet, boot delay, paid booting, min/max).
It follows the exact cheapest fleet path over the whole window (``optimal_path``, dynamic programming
over fleet sizes), so its cost is a true lower bound on every policy's. It may drop small excesses a
server would cost more to serve (under ``(1 + boot_delay) * price_per_interval / penalty`` requests
for a one-interval spike), and counts those intervals as overloaded.

Missing values: a NaN forecast makes the predictive part hold its previous level; a NaN load gives
the reactive rule no utilisation to read, so it holds (and the hold counts in its scale-in window).

Anti-oscillation (the reference system's flaw was hysteresis thresholds collapsing to one value):
the reactive policy has a dead band (``tolerance``, validated >= 0) *and* scale-in only to the
maximum recommendation of the stabilisation window, so scale-out and scale-in thresholds never meet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.traffic.autoscale_policies import (
    HOLD,
    follow_path,
    optimal_cost,
    optimal_path,
    predictive_servers,
    required_servers,
    simulate,
    start_servers,
)

POLICIES: tuple[str, ...] = ("static", "reactive", "predictive", "predictive+reactive", "oracle")
SUMMARY_KEYS: tuple[str, ...] = ("cost_total", "cost_servers", "cost_penalty", "server_hours", "overloaded_pct",
                                 "dropped_pct", "overprovisioned_server_hours", "scaling_actions")


@dataclass(frozen=True)
class ScalingParams:
    capacity_per_server: float = 50.0  # requests one server serves per interval
    min_servers: int = 1
    max_servers: int = 200
    boot_delay: int = 2  # intervals between ordering a server and it serving
    scale_in_window: int = 6  # HPA stabilisation window for scale-in, in intervals
    cooldown: int = 0  # min intervals between two scaling actions of the reactive policy
    target_utilisation: float = 0.7
    tolerance: float = 0.1  # HPA: no action while |ratio - 1| <= tolerance
    price_per_server_hour: float = 0.10
    penalty_per_dropped: float = 0.001
    interval_minutes: float = 5.0
    static_servers: int | None = None  # fixed fleet of the static policy; None = sized for the window's peak
    initial_servers: int | None = None  # fleet at the window start; None = the oracle's first-interval size

    @property
    def price_per_interval(self) -> float:
        return self.price_per_server_hour * self.interval_minutes / 60.0

    def validate(self) -> None:
        """Raise InputError naming the first nonsensical parameter."""
        checks = [
            (self.capacity_per_server > 0, f"capacity per server must be > 0 (got {self.capacity_per_server})"),
            (self.min_servers >= 1, f"min servers must be at least 1 (got {self.min_servers})"),
            (self.max_servers >= self.min_servers,
             f"max servers ({self.max_servers}) must be >= min servers ({self.min_servers})"),
            (self.boot_delay >= 0, f"boot delay must be >= 0 intervals (got {self.boot_delay})"),
            (self.scale_in_window >= 0, f"scale-in window must be >= 0 intervals (got {self.scale_in_window})"),
            (self.cooldown >= 0, f"cooldown must be >= 0 intervals (got {self.cooldown})"),
            (0 < self.target_utilisation <= 1,
             f"target utilisation must be in (0, 1] (got {self.target_utilisation})"),
            (0 <= self.tolerance < 1, f"tolerance must be in [0, 1) (got {self.tolerance})"),
            (self.price_per_server_hour >= 0, f"price per server-hour must be >= 0 (got {self.price_per_server_hour})"),
            (self.penalty_per_dropped >= 0, f"penalty per dropped request must be >= 0 (got {self.penalty_per_dropped})"),
            (self.interval_minutes > 0, f"interval must be > 0 minutes (got {self.interval_minutes})"),
        ]
        for name in ("static_servers", "initial_servers"):
            value = getattr(self, name)
            if value is not None:
                checks.append((self.min_servers <= value <= self.max_servers,
                               f"{name.replace('_', ' ')} ({value}) must be between min ({self.min_servers}) "
                               f"and max ({self.max_servers}) servers"))
        for ok, message in checks:
            if not ok:
                raise InputError(message)


@dataclass
class PolicyRun:
    """One policy replayed: per-interval series on the load's index, and ``summary`` (keys SUMMARY_KEYS)."""

    policy: str
    servers: pd.Series  # provisioned (serving + booting): what is paid for
    serving: pd.Series  # capacity = serving * capacity_per_server
    dropped: pd.Series
    actions: pd.Series  # "scale out +k" (serves after the boot delay), "scale in −k" (at once) or "hold"
    summary: dict[str, float] = field(default_factory=dict)


@dataclass
class ReplayResult:
    load: pd.Series
    forecast: pd.Series
    params: ScalingParams
    runs: dict[str, PolicyRun]

    def summary_table(self) -> pd.DataFrame:
        """One row per policy (index ``policy``): the summary plus savings vs reactive and cost / oracle cost."""
        table = pd.DataFrame({name: run.summary for name, run in self.runs.items()}).T[list(SUMMARY_KEYS)]
        table.index.name = "policy"
        table = table.astype(float)
        reactive = table["cost_total"].get("reactive", np.nan)
        oracle = table["cost_total"].get("oracle", np.nan)
        table["savings_vs_reactive_pct"] = 100.0 * (reactive - table["cost_total"]) / reactive if reactive else np.nan
        table["cost_vs_oracle"] = table["cost_total"] / oracle if oracle else np.nan
        return table

    def decisions_table(self) -> pd.DataFrame:
        """Per interval: timestamp, load, forecast, provisioned servers and the action of each policy."""
        out = pd.DataFrame({"timestamp": self.load.index, "load": self.load.to_numpy(),
                            "forecast": self.forecast.to_numpy()})
        for name, run in self.runs.items():
            out[f"servers_{name}"] = run.servers.to_numpy()
        for name, run in self.runs.items():
            out[f"action_{name}"] = run.actions.to_numpy()
        return out


@dataclass
class Recommendation:
    servers_now: int
    peak_servers: int
    order_at: pd.Timestamp
    schedule: pd.DataFrame  # timestamp, forecast, servers
    reason: str


# ---------------------------------------------------------------------------------------------- replay


def _check_inputs(load: pd.Series, forecast: pd.Series | None, params: ScalingParams) -> None:
    params.validate()
    if len(load) == 0:
        raise InputError("the test window has no intervals to replay")
    if forecast is not None and not forecast.index.equals(load.index):
        raise InputError("the forecast must have the same timestamps as the load of the test window")


def _summarise(run: PolicyRun, load: pd.Series, params: ScalingParams) -> dict[str, float]:
    hours = params.interval_minutes / 60.0
    demand = load.to_numpy(dtype=float)
    has_demand = ~np.isnan(demand)
    capacity = run.serving.to_numpy() * params.capacity_per_server
    server_hours = float(run.servers.sum() * hours)
    dropped = float(run.dropped.sum())
    total = float(np.nansum(demand))
    needed = np.where(has_demand, np.ceil(np.nan_to_num(demand) / params.capacity_per_server - 1e-9), 0)
    overloaded = has_demand & (np.nan_to_num(demand) > capacity + 1e-9)
    cost_servers = server_hours * params.price_per_server_hour
    cost_penalty = dropped * params.penalty_per_dropped
    return {
        "cost_total": cost_servers + cost_penalty,
        "cost_servers": cost_servers,
        "cost_penalty": cost_penalty,
        "server_hours": server_hours,
        # Percentages are over intervals / requests with recorded demand; NaN intervals count for neither.
        "overloaded_pct": 100.0 * overloaded.sum() / has_demand.sum() if has_demand.any() else 0.0,
        "dropped_pct": 100.0 * dropped / total if total > 0 else 0.0,
        "overprovisioned_server_hours": float(np.maximum(run.serving.to_numpy() - needed, 0).sum() * hours),
        "scaling_actions": float((run.actions != HOLD).sum()),
    }


def replay(load: pd.Series, forecast: pd.Series | None, params: ScalingParams, policy: str) -> PolicyRun:
    """Replay one policy on ``load``; ``forecast[t]`` is the forecast of load[t] issued boot_delay intervals before."""
    if policy not in POLICIES:
        raise InputError(f"unknown policy '{policy}'; choose one of {', '.join(POLICIES)}")
    if policy in ("predictive", "predictive+reactive") and forecast is None:
        raise InputError(f"the {policy} policy needs a forecast")
    _check_inputs(load, forecast, params)
    demand = load.to_numpy(dtype=float)
    start = start_servers(demand, params)
    if policy == "static":
        peak = np.nanmax(demand) if (~np.isnan(demand)).any() else 0.0
        # Sized for the window's peak: hindsight, as static provisioning uses last period's peak in practice.
        fixed = params.static_servers if params.static_servers is not None else int(np.clip(
            math.ceil(peak / params.capacity_per_server - 1e-9), params.min_servers, params.max_servers))
        provisioned = serving = np.full(len(demand), fixed, dtype=int)
        actions = [HOLD] * len(demand)
    elif policy == "oracle":
        serving, _ = optimal_path(demand, params, start)
        provisioned, actions = follow_path(serving, params, start)
    else:
        if policy == "reactive":
            predicted: np.ndarray | None = None
        else:
            predicted = predictive_servers(np.asarray(forecast, dtype=float), params, start)
        provisioned, serving, actions = simulate(demand, predicted, params, policy in ("reactive",
                                                                                        "predictive+reactive"), start)
    index = load.index
    dropped = np.where(np.isnan(demand), 0.0, np.maximum(np.nan_to_num(demand) - serving * params.capacity_per_server,
                                                         0.0))
    run = PolicyRun(policy=policy, servers=pd.Series(provisioned, index=index, name="servers"),
                    serving=pd.Series(serving, index=index, name="serving"),
                    dropped=pd.Series(dropped, index=index, name="dropped"),
                    actions=pd.Series(actions, index=index, name="action", dtype=object))
    run.summary = _summarise(run, load, params)
    return run


def replay_all(load: pd.Series, forecast: pd.Series, params: ScalingParams) -> ReplayResult:
    """Replay every policy in POLICIES on the same window, forecast and start fleet."""
    _check_inputs(load, forecast, params)
    runs = {policy: replay(load, forecast, params, policy) for policy in POLICIES}
    return ReplayResult(load=load, forecast=forecast, params=params, runs=runs)


def quantile_frontier(load: pd.Series, forecasts_by_quantile: Mapping[float, pd.Series],
                      params: ScalingParams) -> pd.DataFrame:
    """Predictive policy replayed per forecast quantile: quantile, cost_total, overloaded_pct, dropped_pct, server_hours."""
    rows = []
    for q in sorted(forecasts_by_quantile):
        s = replay(load, forecasts_by_quantile[q], params, "predictive").summary
        rows.append({"quantile": float(q), **{k: s[k] for k in ("cost_total", "overloaded_pct", "dropped_pct",
                                                                "server_hours")}})
    return pd.DataFrame(rows, columns=["quantile", "cost_total", "overloaded_pct", "dropped_pct", "server_hours"])


def exact_optimum_cost(load: pd.Series, params: ScalingParams) -> float:
    """The exact minimum cost of any fleet path from the common start (not a policy: it sees the whole window)."""
    _check_inputs(load, None, params)
    demand = load.to_numpy(dtype=float)
    return optimal_cost(demand, params, start_servers(demand, params))


def cost_optimal_quantile(frontier: pd.DataFrame, max_overloaded_pct: float | None = None) -> float:
    """The frontier's cheapest quantile (lowest on ties).

    With ``max_overloaded_pct`` (e.g. the reactive policy's), only quantiles overloading no more
    often than that compete; if none does, the least-overloaded quantile is returned.
    """
    if frontier.empty:
        raise InputError("the frontier is empty: no quantile forecasts were replayed")
    candidates = frontier
    if max_overloaded_pct is not None:
        candidates = frontier[frontier["overloaded_pct"] <= max_overloaded_pct + 1e-9]
        if candidates.empty:
            least = frontier[frontier["overloaded_pct"] == frontier["overloaded_pct"].min()]
            return float(least.loc[least["cost_total"].idxmin(), "quantile"])
    return float(candidates.loc[candidates["cost_total"].idxmin(), "quantile"])


# ---------------------------------------------------------------------------------------------- next hour


def _quantile_label(column: str) -> str:
    if column.startswith("q"):
        try:
            return f"q{100 * float(column[1:]):g}"
        except ValueError:
            return column
    return "point forecast" if column == "y_pred" else column


def next_hour_recommendation(forward: pd.DataFrame, current_servers: int | None, params: ScalingParams,
                             quantile_col: str) -> Recommendation:
    """Servers for the next hour of ``forward[quantile_col]``, when to order them given the boot delay, and why."""
    params.validate()
    if quantile_col not in forward.columns:
        raise InputError(f"the forward forecast has no column '{quantile_col}'", column=quantile_col)
    if forward.empty:
        raise InputError("the forward forecast is empty")
    step = pd.Timedelta(minutes=params.interval_minutes)
    first = forward.index[0]
    hour = forward[forward.index < first + pd.Timedelta(hours=1)]
    values = hour[quantile_col].to_numpy(dtype=float)
    if np.isnan(values).all():
        raise InputError(f"the forward forecast '{quantile_col}' has no values for the next hour",
                         column=quantile_col)
    servers = required_servers(values, params)
    schedule = pd.DataFrame({"timestamp": hour.index, "forecast": values, "servers": servers})
    peak_i = int(np.nanargmax(values))
    peak_servers, peak_at = int(servers.max()), hour.index[peak_i]
    servers_now = int(servers[0])
    # Order so the servers serve when first needed above the current fleet (the peak if the fleet is unknown).
    need = np.flatnonzero(servers > current_servers) if current_servers is not None else np.array([peak_i])
    boot_text = f"servers boot in {params.boot_delay} intervals ({params.boot_delay * params.interval_minutes:g} min)"
    need_at = hour.index[need[0]] if len(need) else peak_at
    order_at = max(need_at - params.boot_delay * step, first)
    unit = f"req/{params.interval_minutes:g}min"
    head = (f"Peak forecast {values[peak_i]:.0f} {unit} at {peak_at:%H:%M} ({_quantile_label(quantile_col)}) needs "
            f"{peak_servers} servers at {params.capacity_per_server:g} req/server")
    late = need_at - params.boot_delay * step < first  # too soon to have them in time: say so
    when = f"by {order_at:%H:%M}" + (f" (now; they serve from {order_at + params.boot_delay * step:%H:%M})"
                                     if late else "")
    if current_servers is None:
        tail = f"; {boot_text}, so have {peak_servers} provisioned {when}."
    elif peak_servers > current_servers:
        tail = f"; {boot_text}, so order {peak_servers - current_servers} more {when}."
    elif peak_servers < current_servers:
        tail = (f"; you run {current_servers}, so you can release {current_servers - peak_servers} now "
                f"(a release takes effect at once; {boot_text} if load surprises you).")
    else:
        tail = f"; you run {current_servers}, so hold ({boot_text}, no order is needed)."
    return Recommendation(servers_now=servers_now, peak_servers=peak_servers, order_at=order_at, schedule=schedule,
                          reason=head + tail)
