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


# The exact SLO-constrained search keeps a cost per (interval, overloads so far, fleet size) for the way back:
# up to this many numbers (8 bytes each). NASA's 9-day test window at 5 minutes needs about 2 million.
EXACT_STATE_BUDGET = 4_000_000
_PENALTY_SEARCH_STEPS = 24  # dynamic programs the overload-penalty search may run on a longer window


def max_overloads(load: np.ndarray, params: ScalingParams) -> int:
    """Overloaded intervals the SLO allows: floor(P% of the intervals with demand)."""
    with_demand = int((~np.isnan(np.asarray(load, dtype=float))).sum())
    return math.floor(params.slo_overload_pct / 100.0 * with_demand + 1e-9)


def unavoidable_overloads(load: np.ndarray, params: ScalingParams, start: int) -> int:
    """Intervals no fleet path can serve: demand above max servers, or above the start fleet in the first one."""
    demand = np.nan_to_num(np.asarray(load, dtype=float))
    if not demand.size:
        return 0
    cap = params.capacity_per_server
    over_max = demand > params.max_servers * cap + 1e-9
    return int(over_max.sum()) + int(not over_max[0] and demand[0] > start * cap + 1e-9)


def optimal_path(load: np.ndarray, params: ScalingParams, start: int) -> tuple[np.ndarray, float]:
    """The cheapest serving-fleet path from ``start`` that meets the SLO, and its total cost.

    Same cost model as the replay: serving servers paid each interval, a server that starts serving
    at t paid while booting since ``max(0, t - boot_delay)``, removal at once, NaN load = no demand.
    The SLO allows ``max_overloads`` overloaded intervals (more if even max servers cannot serve some).
    Dynamic programming over fleet sizes, and over overloads so far when the SLO binds: exact while the
    states fit ``EXACT_STATE_BUDGET``; on a longer window a per-overload penalty is searched instead
    (a Lagrangian relaxation: the cheapest path found that meets the SLO, not always the exact optimum).
    It needs the whole window at once, so only the oracle (perfect foresight) can follow it.
    """
    demand = np.asarray(load, dtype=float)
    budget = max(max_overloads(demand, params), unavoidable_overloads(demand, params, start))
    sizes = _fleet_sizes(np.nan_to_num(demand), params, start)
    path, cost, overloads = _cheapest_path(demand, params, start, sizes)
    if overloads <= budget:
        return path, cost  # the SLO does not bind
    if len(demand) * (budget + 1) * len(sizes) <= EXACT_STATE_BUDGET:
        return _cheapest_path_within(demand, params, start, sizes, budget)
    return _cheapest_path_by_penalty(demand, params, start, sizes, budget)


def _stage(demand: np.ndarray, params: ScalingParams, sizes: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Cost of serving interval t with each fleet size, and whether that size overloads it."""
    d = demand[t]
    if np.isnan(d):
        return params.price_per_interval * sizes, np.zeros(len(sizes), dtype=bool)
    drop = np.maximum(d - sizes * params.capacity_per_server, 0.0)
    return params.price_per_interval * sizes + params.penalty_per_dropped * drop, drop > 1e-9


def _transition(cost: np.ndarray, sizes: np.ndarray, boot_cost: float) -> np.ndarray:
    """min over the previous size m of cost[..., m] + boot_cost * max(0, n - m), for every size n (last axis)."""
    from_above = np.minimum.accumulate(cost[..., ::-1], axis=-1)[..., ::-1]
    from_below = np.minimum.accumulate(cost - boot_cost * sizes, axis=-1) + boot_cost * sizes
    return np.minimum(from_above, from_below)


def _previous(costs_before: np.ndarray, sizes: np.ndarray, j: int, boot_cost: float) -> int:
    """The size before ``sizes[j]`` on a cheapest path; among ties the fleet kept, else changed the least."""
    via = costs_before + boot_cost * np.maximum(sizes[j] - sizes, 0.0)
    best = via.min()
    ties = np.flatnonzero(via <= best + 1e-9 * max(1.0, abs(best)))
    return int(ties[np.argmin(np.abs(ties - j))])


def _cheapest_path(demand: np.ndarray, params: ScalingParams, start: int, sizes: np.ndarray,
                   overload_penalty: float = 0.0) -> tuple[np.ndarray, float, int]:
    """The cheapest path with ``overload_penalty`` added per overloaded interval: (path, its cost without
    that penalty, its overloaded intervals)."""
    steps = len(demand)
    costs = np.empty((steps, len(sizes)))
    stage, over = _stage(demand, params, sizes, 0)
    # At t = 0 only a scale-in from `start` is possible.
    cost = np.where(sizes <= start, 0.0, np.inf) + stage + overload_penalty * over
    costs[0] = cost
    for t in range(1, steps):
        stage, over = _stage(demand, params, sizes, t)
        cost = _transition(cost, sizes, min(params.boot_delay, t) * params.price_per_interval) + stage \
            + overload_penalty * over
        costs[t] = cost
    index = np.empty(steps, dtype=int)
    index[-1] = int(np.argmin(cost))
    for t in range(steps - 1, 0, -1):
        index[t - 1] = _previous(costs[t - 1], sizes, index[t], min(params.boot_delay, t) * params.price_per_interval)
    path = sizes[index].astype(int)
    return path, path_cost(demand, params, start, path), _overloads(demand, params, path)


def _cheapest_path_within(demand: np.ndarray, params: ScalingParams, start: int, sizes: np.ndarray,
                          budget: int) -> tuple[np.ndarray, float]:
    """The exact cheapest path with at most ``budget`` overloaded intervals: costs per (overloads so far, size)."""
    steps, layers = len(demand), budget + 1
    costs = np.empty((steps, layers, len(sizes)))
    overloaded = np.empty((steps, len(sizes)), dtype=bool)
    stage, over = _stage(demand, params, sizes, 0)
    first = np.where(sizes <= start, 0.0, np.inf) + stage
    cost = np.full((layers, len(sizes)), np.inf)
    cost[0] = np.where(over, np.inf, first)
    if layers > 1:
        cost[1] = np.where(over, first, np.inf)
    costs[0], overloaded[0] = cost, over
    for t in range(1, steps):
        stage, over = _stage(demand, params, sizes, t)
        moved = _transition(cost, sizes, min(params.boot_delay, t) * params.price_per_interval)
        # An overloaded interval uses one more of the allowed overloads.
        shifted = np.vstack([np.full((1, len(sizes)), np.inf), moved[:-1]])
        cost = np.where(over[None, :], shifted, moved) + stage[None, :]
        costs[t], overloaded[t] = cost, over
    k, j = np.unravel_index(int(np.argmin(cost)), cost.shape)
    total = float(cost[k, j])
    index = np.empty(steps, dtype=int)
    index[-1] = j
    for t in range(steps - 1, 0, -1):
        k -= int(overloaded[t, index[t]])
        index[t - 1] = _previous(costs[t - 1, k], sizes, index[t], min(params.boot_delay, t) * params.price_per_interval)
    return sizes[index].astype(int), total


def _cheapest_path_by_penalty(demand: np.ndarray, params: ScalingParams, start: int, sizes: np.ndarray,
                              budget: int) -> tuple[np.ndarray, float]:
    """A path with at most ``budget`` overloads: bisect (geometrically) a penalty per overloaded interval
    between none and one above the cost of running every server all window (which makes overloads the
    first thing to avoid); keep the cheapest path found that meets the budget."""
    low, high = 1e-6, params.price_per_interval * len(sizes) * len(demand) * (1 + params.boot_delay) + 1.0
    path, cost, overloads = _cheapest_path(demand, params, start, sizes, high)
    best = (path, cost)
    for _ in range(_PENALTY_SEARCH_STEPS):
        mid = math.sqrt(low * high)
        path, cost, overloads = _cheapest_path(demand, params, start, sizes, mid)
        if overloads <= budget:
            high = mid
            best = min(best, (path, cost), key=lambda found: found[1])
        else:
            low = mid
        if high / low < 1.01:
            break
    return best


def _overloads(demand: np.ndarray, params: ScalingParams, serving: np.ndarray) -> int:
    has = ~np.isnan(demand)
    return int((has & (np.nan_to_num(demand) > serving * params.capacity_per_server + 1e-9)).sum())


def path_cost(demand: np.ndarray, params: ScalingParams, start: int, serving: np.ndarray) -> float:
    """Total cost of a serving path as the replay prices it: serving and booting servers, and the drops."""
    p = params.price_per_interval
    rises = np.maximum(np.diff(serving.astype(float)), 0.0)
    boot = sum(r * min(params.boot_delay, t) for t, r in enumerate(rises, start=1) if r)
    drops = np.maximum(np.nan_to_num(demand) - serving * params.capacity_per_server, 0.0)
    return float(p * (serving.sum() + boot) + params.penalty_per_dropped * drops.sum())


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
