"""The controllers behind core.traffic.autoscale: sizing, and the step-by-step fleet simulation.

Split out only for length; the model (boot delay, paid booting, immediate scale-in, HPA rule) is
described in core/traffic/autoscale.py, which is the public entry point.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from core.traffic.autoscale import ScalingParams

HOLD = "hold"


# ---------------------------------------------------------------------------------------------- sizing


def required_servers(demand: np.ndarray | pd.Series | float, params: ScalingParams) -> np.ndarray:
    """Cost-minimising servers for each demand, in [min, max]; NaN demand (no demand) -> min_servers.

    Minimises ``n * price_per_interval + penalty * max(0, d - n * capacity)``: the k-th server is added
    only if it would serve more than ``price_per_interval / penalty`` requests (8.3 with the defaults).
    """
    d = np.atleast_1d(np.asarray(demand, dtype=float))
    p = params.price_per_interval
    threshold = p / params.penalty_per_dropped if params.penalty_per_dropped > 0 else np.inf
    if threshold >= params.capacity_per_server:
        n = np.zeros_like(d)  # a whole server costs more than the requests it could save: run the minimum
    else:
        # k-th server saves penalty * min(capacity, d - (k-1) capacity) > p  <=>  k <= ceil((d - threshold) / capacity).
        # The epsilon keeps float noise above an exact multiple of capacity from buying a server for nothing.
        n = np.ceil(np.maximum(np.nan_to_num(d) - threshold, 0.0) / params.capacity_per_server - 1e-9)
    n = np.where(np.isnan(d), params.min_servers, n)
    return np.clip(n, params.min_servers, params.max_servers).astype(int)


def start_servers(load: np.ndarray, params: ScalingParams) -> int:
    """The fleet every policy starts with: ``initial_servers``, else the oracle's size for the first interval."""
    if params.initial_servers is not None:
        return int(params.initial_servers)
    return int(required_servers(load[:1], params)[0])


# ---------------------------------------------------------------------------------------------- controllers


def simulate(load: np.ndarray, predicted: np.ndarray | None, params: ScalingParams, reactive: bool,
             start: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Step the fleet through the window; returns (provisioned, serving, actions).

    ``predicted[t]`` = servers the predictive part wants serving at t (known at t - boot_delay).
    With ``reactive`` the HPA rule runs too; with both, scale-out orders the max of the two desires
    and scale-in goes only down to the max of what both still want (a combined controller).
    """
    n_steps, boot, cap = len(load), params.boot_delay, params.capacity_per_server
    lo, hi = params.min_servers, params.max_servers
    serving = start
    arrivals = np.zeros(n_steps + boot + 1, dtype=int)  # servers that start serving at t
    booting = 0
    provisioned_out = np.zeros(n_steps, dtype=int)
    serving_out = np.zeros(n_steps, dtype=int)
    actions: list[str] = []
    if predicted is not None:
        # Orders for the first boot_delay intervals were placed before the window (the policy was running).
        level = start
        for t in range(1, min(boot, n_steps)):
            extra = max(0, int(predicted[t]) - level)
            arrivals[t] += extra
            booting += extra
            level += extra
    recs: list[int] = []
    window = max(1, params.scale_in_window)
    last_action = -10**9
    for t in range(n_steps):
        serving += arrivals[t]
        booting -= arrivals[t]
        current = serving + booting
        target_out, floor = lo, lo
        reactive_wants_in = False
        if predicted is not None:
            if t + boot < n_steps:
                target_out = max(target_out, int(predicted[t + boot]))
            # Keep what is needed now or by a server ordered now; a release + re-order would cost the boot again.
            floor = max(floor, int(predicted[t:t + boot + 1].max()))
        if reactive:
            rec = current
            observed = load[t - 1] if t > 0 else np.nan
            if not np.isnan(observed):
                # Utilisation over provisioned servers, booting ones counted idle (as HPA treats unready pods on
                # scale-up): it stops re-ordering the same servers every interval while they boot.
                ratio = observed / (current * cap) / params.target_utilisation
                if abs(ratio - 1.0) > params.tolerance:
                    rec = int(min(hi, max(lo, math.ceil(current * ratio - 1e-9))))
            recs.append(rec)
            cooling = t - last_action < params.cooldown
            if not cooling:
                target_out = max(target_out, rec)
            stabilised = max(recs[-window:])
            reactive_wants_in = not cooling and stabilised < current
            floor = max(floor, stabilised) if reactive_wants_in or predicted is None else max(floor, current)
        action = HOLD
        if target_out > current:
            extra = target_out - current
            if boot == 0:
                serving += extra
            else:
                arrivals[t + boot] += extra
                booting += extra
            action = f"scale out +{extra}"
            last_action = t
        elif floor < current and (predicted is not None or reactive_wants_in):
            cut = current - floor
            # Cancel the latest orders first: they cost the same and serve nobody yet.
            remaining = cut
            for arrive in range(t + boot, t, -1):
                take = min(remaining, int(arrivals[arrive]))
                arrivals[arrive] -= take
                booting -= take
                remaining -= take
            serving -= remaining
            action = f"scale in −{cut}"
            last_action = t
        provisioned_out[t] = serving + booting
        serving_out[t] = serving
        actions.append(action)
    return provisioned_out, serving_out, actions


def predictive_servers(forecast: np.ndarray, params: ScalingParams, start: int) -> np.ndarray:
    """Sizing of the forecast; a NaN forecast holds the previous level (the start level if the first is NaN)."""
    sized = pd.Series(np.where(np.isnan(forecast), np.nan, required_servers(forecast, params)), dtype=float)
    return sized.ffill().fillna(start).to_numpy().astype(int)


def _fleet_sizes(demand: np.ndarray, params: ScalingParams, start: int) -> np.ndarray:
    """Fleet sizes worth considering: more servers than the peak needs (or than the start) only cost."""
    peak = float(demand.max()) if demand.size else 0.0
    top = max(start, math.ceil(peak / params.capacity_per_server - 1e-9), params.min_servers)
    return np.arange(params.min_servers, min(params.max_servers, top) + 1, dtype=float)


def optimal_path(load: np.ndarray, params: ScalingParams, start: int) -> tuple[np.ndarray, float]:
    """The cheapest serving-fleet path from ``start`` and its total cost (dynamic programming).

    Same cost model as the replay: serving servers paid each interval, a server that starts serving
    at t paid while booting since ``max(0, t - boot_delay)``, removal at once, NaN load = no demand.
    It needs the whole window at once, so only the oracle (perfect foresight) can follow it; being
    the exact optimum it is a true lower bound on every policy's cost.
    """
    demand = np.nan_to_num(np.asarray(load, dtype=float))
    p, pen, cap = params.price_per_interval, params.penalty_per_dropped, params.capacity_per_server
    n = _fleet_sizes(demand, params, start)
    steps = len(demand)
    costs = np.empty((steps, len(n)))
    # cost[n] of the cheapest path ending with n serving; at t = 0 only a scale-in from `start` is possible.
    cost = np.where(n <= start, 0.0, np.inf) + p * n + pen * np.maximum(demand[0] - n * cap, 0.0)
    costs[0] = cost
    for t in range(1, steps):
        boot_cost = min(params.boot_delay, t) * p  # per added server
        # min over the previous size m of cost[m] + boot_cost * max(0, n - m), split into m >= n and m <= n.
        from_above = np.minimum.accumulate(cost[::-1])[::-1]
        from_below = np.minimum.accumulate(cost - boot_cost * n) + boot_cost * n
        cost = np.minimum(from_above, from_below) + p * n + pen * np.maximum(demand[t] - n * cap, 0.0)
        costs[t] = cost
    path = np.empty(steps, dtype=int)
    j = int(np.argmin(cost))
    path[-1] = j
    for t in range(steps - 1, 0, -1):
        boot_cost = min(params.boot_delay, t) * p
        via = costs[t - 1] + boot_cost * np.maximum(n[j] - n, 0.0)
        best = via.min()
        # Among equally cheap predecessors keep the fleet unchanged, else change it the least.
        ties = np.flatnonzero(via <= best + 1e-9 * max(1.0, abs(best)))
        j = int(ties[np.argmin(np.abs(ties - j))])
        path[t - 1] = j
    return n[path].astype(int), float(cost.min())


def follow_path(serving: np.ndarray, params: ScalingParams, start: int) -> tuple[np.ndarray, list[str]]:
    """Provisioned fleet and actions that make ``serving`` happen: each increase is ordered ``boot_delay``
    intervals before it serves (orders due before the window were placed before it), each decrease is at once."""
    boot, steps = params.boot_delay, len(serving)
    increase = np.maximum(np.diff(serving, prepend=serving[0]), 0)
    booting = np.zeros(steps, dtype=int)
    for s in np.flatnonzero(increase).tolist():
        booting[max(0, s - boot):s] += increase[s]
    ordered = np.zeros(steps, dtype=int)
    for s in np.flatnonzero(increase).tolist():
        if s - boot >= 0:
            ordered[s - boot] += increase[s]
    released = np.maximum(np.diff(serving, prepend=start) * -1, 0)
    actions = []
    for t in range(steps):
        parts = [f"scale in −{released[t]}"] if released[t] else []
        parts += [f"scale out +{ordered[t]}"] if ordered[t] else []
        actions.append(", ".join(parts) or HOLD)
    return serving + booting, actions


def optimal_cost(load: np.ndarray, params: ScalingParams, start: int) -> float:
    """Exact minimum total cost of any fleet path from ``start`` (see ``optimal_path``)."""
    return optimal_path(load, params, start)[1]
