"""Replay autoscaling policies on a test window and price them (servers + dropped requests).

Model, in one place so the page, CLI and bench agree:

* Time is a regular grid of intervals. ``load[t]`` is the demand of interval t (requests).
  NaN load means the interval has no recorded demand (outage / missing data): no drops and no
  overload are counted there, but provisioned servers are still paid for.
* Parameters are given in units that do not depend on the granularity (``ScalingParams``: capacity in
  requests per second per server, boot delay, scale-in window and cooldown in minutes); the replay
  uses them per interval: ``capacity_per_server`` = req/s × interval seconds, ``boot_delay`` etc. =
  minutes rounded up to whole intervals.
* ``serving[t] * capacity_per_server`` requests can be served in interval t; the rest is dropped.
* A server ordered at decision time t serves from ``t + boot_delay``. Booting servers are paid
  (clouds bill from launch), so ``servers`` (what you pay for) = serving + booting.
  Removing a server takes effect at once.
* Every policy starts the window with the same fleet: ``params.initial_servers`` or, if unset,
  what the oracle would serve in the first interval. Static is the exception: it is a fixed fleet.

Sizing rule (``required_servers``): for a demand d, the n in [min, max] minimising
``n * price_per_interval + penalty * max(0, d - n * capacity)``; with the default prices a server is
added only if it would serve more than 100 requests an hour (8.3 per 5-minute interval). The predictive policy sizes its forecast with
it, interval by interval. Pure ``ceil(d / capacity)`` would be beaten by any policy that lets slivers
of demand drop when a server costs more than their penalty.

Boot cost and scale-in: because booting is paid, releasing a server and re-ordering it soon after
costs ``boot_delay`` server-intervals. Predictive therefore keeps a server while the forecasts
already issued (up to ``boot_delay`` ahead) say it is needed again, else releases it at once.

Oracle: perfect foresight under the same constraints (start fleet, boot delay, paid booting, min/max)
and the same SLO. It follows the cheapest fleet path over the whole window that overloads at most
floor(``slo_overload_pct`` % of the intervals with demand) intervals (``optimal_path``: dynamic
programming over fleet sizes and overloads so far, exact up to ``EXACT_STATE_BUDGET`` states, else a
tuned penalty per overloaded interval), so its cost is a lower bound on every policy that meets the
SLO. Within the SLO it may drop small excesses a server would cost more to serve (under
``(1 + boot_delay) * price_per_interval / penalty`` requests for a one-interval spike).

Ranking: ``summary_table`` ranks (savings vs reactive, cost / oracle) only policies that meet the SLO
and whose run is fair (``policy_problem``: not dropping most requests, not sitting at min or max
servers the whole window).

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


def whole_intervals(minutes: float, interval_minutes: float) -> int:
    """A duration in whole intervals, rounded up: a server that boots in 10 minutes is not serving
    during the first hour-long interval after its order (conservative for overloads)."""
    return max(0, math.ceil(minutes / interval_minutes - 1e-9))


@dataclass(frozen=True)
class ScalingParams:
    """The scaling scenario in units that do not depend on the granularity: capacity in requests per
    second per server and durations in minutes. ``interval_minutes`` (the series' step, set by
    ``service.priced_for``) turns them into the per-interval figures the replay uses.

    The defaults are the issue's NASA scenario: 50 requests per 5-minute interval per server (1/6 req/s)
    and a 10-minute boot (2 intervals at 5 minutes); NASA's busiest 5 minutes (~5 req/s) need 30 servers.
    """

    capacity_rps: float = 50 / 300  # requests per second one server serves
    min_servers: int = 1
    max_servers: int = 200
    boot_minutes: float = 10.0  # between ordering a server and it serving
    scale_in_minutes: float = 30.0  # HPA stabilisation window for scale-in
    cooldown_minutes: float = 0.0  # between two scaling actions of the reactive policy
    target_utilisation: float = 0.7
    tolerance: float = 0.1  # HPA: no action while |ratio - 1| <= tolerance
    price_per_server_hour: float = 0.10
    penalty_per_dropped: float = 0.001
    slo_overload_pct: float = 1.0  # the SLO: at most this share of intervals (with demand) overloaded
    interval_minutes: float = 5.0
    static_servers: int | None = None  # fixed fleet of the static policy; None = sized for the window's peak
    initial_servers: int | None = None  # fleet at the window start; None = the oracle's first-interval size

    @property
    def capacity_per_server(self) -> float:
        """Requests one server serves per interval."""
        return self.capacity_rps * 60.0 * self.interval_minutes

    @property
    def boot_delay(self) -> int:
        """Intervals between ordering a server and it serving (the boot, rounded up)."""
        return whole_intervals(self.boot_minutes, self.interval_minutes)

    @property
    def scale_in_window(self) -> int:
        return whole_intervals(self.scale_in_minutes, self.interval_minutes)

    @property
    def cooldown(self) -> int:
        return whole_intervals(self.cooldown_minutes, self.interval_minutes)

    @property
    def price_per_interval(self) -> float:
        return self.price_per_server_hour * self.interval_minutes / 60.0

    def describe_units(self) -> str:
        """The per-second and per-minute settings in this granularity's intervals, for the form and the CLI."""
        interval = interval_label(self.interval_minutes)
        boot = self.boot_delay
        return (f"{self.capacity_rps:.4g} req/s per server = {_count(self.capacity_per_server)} requests per {interval} "
                f"interval; a {self.boot_minutes:g}-minute boot = {boot} interval{'s' if boot != 1 else ''} "
                f"({boot * self.interval_minutes:g} min, rounded up to whole intervals)")

    def validate(self) -> None:
        """Raise InputError naming the first nonsensical parameter."""
        checks = [
            (self.capacity_rps > 0, f"capacity per server must be > 0 req/s (got {self.capacity_rps})"),
            (self.min_servers >= 1, f"min servers must be at least 1 (got {self.min_servers})"),
            (self.max_servers >= self.min_servers,
             f"max servers ({self.max_servers}) must be >= min servers ({self.min_servers})"),
            (self.boot_minutes >= 0, f"boot delay must be >= 0 minutes (got {self.boot_minutes})"),
            (self.scale_in_minutes >= 0, f"scale-in window must be >= 0 minutes (got {self.scale_in_minutes})"),
            (self.cooldown_minutes >= 0, f"cooldown must be >= 0 minutes (got {self.cooldown_minutes})"),
            (0 < self.target_utilisation <= 1,
             f"target utilisation must be in (0, 1] (got {self.target_utilisation})"),
            (0 <= self.tolerance < 1, f"tolerance must be in [0, 1) (got {self.tolerance})"),
            (self.price_per_server_hour >= 0, f"price per server-hour must be >= 0 (got {self.price_per_server_hour})"),
            (self.penalty_per_dropped >= 0, f"penalty per dropped request must be >= 0 (got {self.penalty_per_dropped})"),
            (0 <= self.slo_overload_pct <= 100,
             f"the SLO must be a share of intervals between 0 and 100% (got {self.slo_overload_pct})"),
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


def interval_label(minutes: float) -> str:
    """'5-minute', '1-hour'."""
    return f"{minutes / 60:g}-hour" if minutes >= 60 and minutes % 60 == 0 else f"{minutes:g}-minute"


def servers_text(n: int) -> str:
    """'1 server', '4 servers'."""
    return f"{n:,} server{'s' if n != 1 else ''}"


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
        """One row per policy (index ``policy``): the summary, savings vs reactive, cost / oracle cost,
        ``meets_slo`` and ``problem`` (why a run says nothing about its policy, "" if it is fair). Only
        policies that meet the SLO and have no problem get savings and a cost ratio (the oracle is the
        cheapest path that meets the SLO); none do when the reactive run has a problem, or the oracle one
        misses the SLO (when even max servers cannot meet it)."""
        table = pd.DataFrame({name: run.summary for name, run in self.runs.items()}).T[list(SUMMARY_KEYS)]
        table.index.name = "policy"
        table = table.astype(float)
        problems = pd.Series({name: policy_problem(run, self.params) for name, run in self.runs.items()}, dtype=object)
        meets = table["overloaded_pct"] <= self.params.slo_overload_pct + 1e-9
        # Ranked: no problem and within the SLO (a policy that breaks it is cheaper for that reason alone).
        ranked = (problems == "") & meets
        fair = problems == ""
        reactive = table["cost_total"].get("reactive", np.nan) if fair.get("reactive", False) else np.nan
        oracle = table["cost_total"].get("oracle", np.nan) if ranked.get("oracle", False) else np.nan
        table["savings_vs_reactive_pct"] = (100.0 * (reactive - table["cost_total"]) / reactive).where(ranked) \
            if reactive else np.nan
        table["cost_vs_oracle"] = (table["cost_total"] / oracle).where(ranked) if oracle else np.nan
        table["meets_slo"] = meets
        table["problem"] = problems
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
    schedule: pd.DataFrame  # timestamp, point forecast, q<level> provisioned for, servers
    reason: str
    action: str = "provision"  # "order", "release", "hold", or "provision" (the fleet is not known)


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


MOST_DROPPED_PCT = 50.0  # a policy dropping more than this share of the requests is not serving the load


def policy_problem(run: PolicyRun, params: ScalingParams) -> str:
    """Why this run says nothing about the policy (it drops most requests, or its fleet sat at a bound the
    whole window), or "" when it is a fair entry in a ranking."""
    parts = []
    serving = run.serving.to_numpy()
    if run.summary.get("dropped_pct", 0.0) > MOST_DROPPED_PCT:
        reason = ""
        if params.price_per_interval >= params.penalty_per_dropped * params.capacity_per_server:
            reason = (f": a server costs ${params.price_per_interval:.4g} per interval, more than the penalties of the "
                      f"{params.capacity_per_server:,.4g} requests it could serve, so dropping is cheaper; check the "
                      "capacity and the prices")
        parts.append(f"drops {run.summary['dropped_pct']:.0f}% of requests{reason}")
    if len(serving) and (serving == params.max_servers).all():
        parts.append(f"the fleet sat at max servers ({params.max_servers}) the whole window")
    elif len(serving) and (serving == params.min_servers).all():
        parts.append(f"the fleet sat at min servers ({params.min_servers}) the whole window")
    return "; ".join(parts)


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


def replay_all(load: pd.Series, forecast: pd.Series, params: ScalingParams, *,
               oracle: PolicyRun | None = None) -> ReplayResult:
    """Replay every policy in POLICIES on the same window, forecast and start fleet. ``oracle``: that run
    already made for this load and these parameters (it reads no forecast), reused as is."""
    _check_inputs(load, forecast, params)
    runs = {policy: oracle if policy == "oracle" and oracle is not None else replay(load, forecast, params, policy)
            for policy in POLICIES}
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


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.4g}"


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
    first = forward.index[0]  # the interval that starts now, when the data ends
    hour = forward[forward.index < first + pd.Timedelta(hours=1)]
    values = hour[quantile_col].to_numpy(dtype=float)
    if np.isnan(values).all():
        raise InputError(f"the forward forecast '{quantile_col}' has no values for the next hour",
                         column=quantile_col)
    servers = required_servers(values, params)
    point = hour["y_pred"].to_numpy(dtype=float) if "y_pred" in hour.columns else np.full(len(hour), np.nan)
    schedule = pd.DataFrame({"timestamp": hour.index, "point forecast": point,
                             f"{_quantile_label(quantile_col)} provisioned for": values, "servers": servers})
    peak_i = int(np.nanargmax(values))
    peak_servers, peak_at = int(servers.max()), hour.index[peak_i]
    servers_now = int(servers[0])
    # Order so the servers serve when first needed above the current fleet (the peak if the fleet is unknown).
    # Real time, not whole intervals: a 10-minute boot is ordered 10 minutes ahead even at 1-hour granularity.
    need = np.flatnonzero(servers > current_servers) if current_servers is not None else np.array([peak_i])
    boot = pd.Timedelta(minutes=params.boot_minutes)
    boot_text = f"a {params.boot_minutes:g}-minute boot"
    need_at = hour.index[need[0]] if len(need) else peak_at
    late = need_at - boot < first  # too soon to have them in time: say so
    order_at = first if late else need_at - boot
    interval = interval_label(params.interval_minutes)
    rate = values[peak_i] / (60.0 * params.interval_minutes)
    head = (f"Peak forecast: {values[peak_i]:,.0f} requests in the {interval} interval from {peak_at:%H:%M} "
            f"({rate:.2f} req/s, {_quantile_label(quantile_col)}) needs {servers_text(peak_servers)} at "
            f"{params.capacity_rps:.4g} req/s each ({_count(params.capacity_per_server)} requests per {interval} "
            "interval)")
    when = f"now (with {boot_text} they serve from about {first + boot:%H:%M})" if late \
        else f"by {order_at:%H:%M} ({boot_text} before they are needed at {need_at:%H:%M})"
    if current_servers is None:
        action, tail = "provision", f"; with {boot_text}, have {peak_servers} provisioned {when}."
    elif peak_servers > current_servers:
        action = "order"
        tail = f"; you run {servers_text(current_servers)}, so order {peak_servers - current_servers} more {when}."
    elif peak_servers < current_servers:
        action, order_at = "release", first
        tail = (f"; you run {servers_text(current_servers)}, so you can release {current_servers - peak_servers} now "
                f"(a release takes effect at once; re-ordering takes {boot_text} if load surprises you).")
    else:
        action = "hold"
        tail = f"; you run {servers_text(current_servers)}, so hold (no order is needed; {boot_text} if load surprises you)."
    return Recommendation(servers_now=servers_now, peak_servers=peak_servers, order_at=order_at, schedule=schedule,
                          reason=head + tail, action=action)
