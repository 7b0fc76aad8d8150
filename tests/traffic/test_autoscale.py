"""Autoscaling replay on synthetic traces whose answers can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.traffic.autoscale import (
    POLICIES,
    SUMMARY_KEYS,
    ScalingParams,
    cost_optimal_quantile,
    exact_optimum_cost,
    next_hour_recommendation,
    quantile_frontier,
    replay,
    replay_all,
    required_servers,
)


def _series(values, start: str = "2024-03-04 00:00") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="5min", tz="UTC")
    return pd.Series(np.asarray(values, dtype=float), index=index)


def _wavy(seed: int, n: int = 300) -> pd.Series:
    """A daily-ish wave with noise, ramps and a burst: the kind of trace that makes policies disagree."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = 400 + 300 * np.sin(2 * np.pi * t / 144) + rng.normal(0, 40, n)
    level[120:130] += 500  # a burst nobody's reactive loop can see coming
    return _series(np.maximum(level, 0).round())


def _overloaded_at(run, load: pd.Series, params: ScalingParams) -> list[int]:
    return list(np.flatnonzero(load.to_numpy() > run.serving.to_numpy() * params.capacity_per_server))


def test_sizing_adds_a_server_only_when_it_saves_more_penalty_than_it_costs():
    params = ScalingParams(max_servers=10)  # a server-interval costs $0.10 / 12 = 8.33 dropped requests
    demand = [0, 1, 50, 58, 59, 100, 108, 109, 10_000, np.nan]
    assert list(required_servers(demand, params)) == [1, 1, 1, 1, 2, 2, 2, 3, 10, 1]
    dear = ScalingParams(max_servers=10, penalty_per_dropped=0.01)  # a drop costs more than a server-interval
    assert list(required_servers([50, 51, 100, 101], dear)) == [1, 2, 2, 3]  # = ceil(d / capacity)


def test_a_step_in_load_makes_reactive_overload_for_the_boot_delay_and_not_before():
    params = ScalingParams(initial_servers=3)  # 100 req on 3 servers: 0.95 of target, inside the tolerance
    load = _series([100] * 20 + [500] * 20)
    run = replay(load, None, params, "reactive")
    # The step at 20 is observed at 21 (HPA sees the interval that ended); servers ordered then serve at 23.
    assert _overloaded_at(run, load, params) == [20, 21, 22]
    assert run.actions.iloc[21] == "scale out +12"  # ceil(500 / (50 * 0.7)) = 15 servers
    assert (run.actions.iloc[:21] == "hold").all()
    assert run.serving.iloc[23] == 15 and run.servers.iloc[21] == 15  # booting servers are paid from the order
    oracle = replay(load, None, params, "oracle")
    assert _overloaded_at(oracle, load, params) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_drops_only_what_a_server_would_cost_more_to_serve(seed: int):
    load = _wavy(seed)
    params = ScalingParams(penalty_per_dropped=0.01)  # a drop costs more than a server-interval
    assert params.max_servers * params.capacity_per_server >= load.max()
    run = replay(load, None, params, "oracle")
    # A server bought for one interval is also paid while it boots: (1 + boot) intervals = 2.5 requests.
    assert run.dropped.max() <= (1 + params.boot_delay) * params.price_per_interval / params.penalty_per_dropped + 1e-9
    assert run.summary["dropped_pct"] < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_is_the_cheapest_policy_and_drops_only_small_excesses(seed: int):
    load = _wavy(seed)
    params = ScalingParams()
    rng = np.random.default_rng(seed + 10)
    for forecast in (load * rng.uniform(0.9, 1.3, len(load)), load * 0.97, load.shift(1).bfill()):
        table = replay_all(load, forecast, params).summary_table()
        assert (table["cost_total"] >= table.loc["oracle", "cost_total"] - 1e-9).all()
        assert table.loc["oracle", "cost_vs_oracle"] == pytest.approx(1.0)
        assert table.loc["reactive", "savings_vs_reactive_pct"] == pytest.approx(0.0)
    oracle = replay(load, None, params, "oracle")
    # It drops requests only when serving them would cost more than their penalty: a server for one
    # interval is paid for 1 + boot_delay intervals, 25 requests' worth.
    assert oracle.dropped.max() <= (1 + params.boot_delay) * params.price_per_interval / params.penalty_per_dropped + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_never_overloads_when_capacity_allows_and_drops_cost_more_than_a_booted_server(seed: int):
    load = _wavy(seed)
    # A dropped request costs more than a server for one interval plus its boot: never worth dropping.
    params = ScalingParams(penalty_per_dropped=0.05)
    assert params.max_servers * params.capacity_per_server >= load.max()
    run = replay(load, None, params, "oracle")
    assert run.summary["overloaded_pct"] == 0 and run.dropped.sum() == 0


def test_predictive_with_a_perfect_forecast_equals_the_oracle_when_servers_boot_at_once():
    # Without a boot delay no decision ties one interval to the next, so sizing each interval
    # for its own (perfectly forecast) load is the optimum the oracle plans.
    load = _wavy(3)
    params = ScalingParams(boot_delay=0)
    predictive = replay(load, load.copy(), params, "predictive")
    oracle = replay(load, None, params, "oracle")
    pd.testing.assert_series_equal(predictive.serving, oracle.serving)
    assert predictive.summary["cost_total"] == pytest.approx(oracle.summary["cost_total"])


def test_predictive_with_a_perfect_forecast_comes_within_a_few_percent_of_the_oracle():
    load = _wavy(3)
    params = ScalingParams()
    predictive = replay(load, load.copy(), params, "predictive").summary["cost_total"]
    oracle = replay(load, None, params, "oracle")
    # Predictive sizes each interval greedily; the oracle plans the whole window.
    assert oracle.summary["cost_total"] - 1e-9 <= predictive <= 1.03 * oracle.summary["cost_total"]
    # The oracle's fleet is consistent: what serves at t was ordered boot_delay intervals earlier.
    rises = np.flatnonzero(np.diff(oracle.serving.to_numpy()) > 0) + 1
    for t in rises[rises >= params.boot_delay]:
        assert "scale out" in oracle.actions.iloc[t - params.boot_delay]
        assert oracle.servers.iloc[t - params.boot_delay] > oracle.serving.iloc[t - params.boot_delay]


def test_predictive_orders_boot_delay_ahead_so_a_forecast_step_is_served():
    params = ScalingParams(initial_servers=2)
    load = _series([100] * 10 + [500] * 10)
    run = replay(load, load.copy(), params, "predictive")
    assert _overloaded_at(run, load, params) == []
    assert run.actions.iloc[8] == "scale out +8"  # ordered at 8 for interval 10
    assert list(run.servers.iloc[7:11]) == [2, 10, 10, 10] and list(run.serving.iloc[7:11]) == [2, 2, 2, 10]


def test_predictive_keeps_a_server_through_a_dip_shorter_than_the_boot_delay():
    params = ScalingParams(initial_servers=4)
    load = _series([200, 200, 50, 200, 200, 50, 50, 50, 50, 50])
    run = replay(load, load.copy(), params, "predictive")
    # Releasing at the one-interval dip would cost a re-boot of 2 intervals: it holds 4 until the lasting drop.
    assert list(run.serving) == [4, 4, 4, 4, 4, 1, 1, 1, 1, 1]
    assert run.summary["scaling_actions"] == 1


def test_predictive_plus_reactive_never_serves_fewer_than_either_alone():
    load = _wavy(4)
    params = ScalingParams()
    forecast = load.shift(3).bfill()  # a lagging forecast, so each part wins somewhere
    runs = replay_all(load, forecast, params).runs
    combined = runs["predictive+reactive"].serving
    assert (combined >= runs["predictive"].serving).all()
    assert (combined >= runs["reactive"].serving).all()


def test_the_combined_policy_serves_a_forecast_step_that_reactive_alone_misses():
    # With a 0.7 target the reactive part usually wants more servers than the forecast: the
    # combination then equals reactive. It differs where the forecast sees a rise coming.
    params = ScalingParams(initial_servers=3)
    load = _series([100] * 20 + [500] * 20)
    runs = replay_all(load, load.copy(), params).runs
    assert _overloaded_at(runs["reactive"], load, params) == [20, 21, 22]
    assert _overloaded_at(runs["predictive+reactive"], load, params) == []
    assert runs["predictive+reactive"].actions.iloc[18] == "scale out +7"  # ordered boot_delay ahead


def test_hpa_tolerance_no_action_within_ten_percent_of_target():
    params = ScalingParams(initial_servers=10)  # 350 req = exactly the 0.7 target on 10 servers
    for level in (320, 370):  # ratios 0.914 and 1.057
        run = replay(_series([level] * 30), None, params, "reactive")
        assert run.summary["scaling_actions"] == 0
    run = replay(_series([400] * 30), None, params, "reactive")  # ratio 1.143: act, once
    assert list(run.actions[run.actions != "hold"]) == ["scale out +2"]


def test_constant_load_does_not_oscillate():
    for start in (1, 2, 60):
        params = ScalingParams(initial_servers=start, tolerance=0.0)  # even with no dead band at all
        for policy in ("reactive", "predictive+reactive"):
            run = replay(_series([1000] * 200), _series([1000] * 200), params, policy)
            assert run.summary["scaling_actions"] <= 1, (start, policy)


def test_scale_in_waits_for_the_stabilisation_window():
    params = ScalingParams(initial_servers=10, scale_in_window=6)
    run = replay(_series([350] * 5 + [100] * 20), None, params, "reactive")
    # The drop at 5 is seen at 6 (recommendation 3); six low recommendations in a row first happen at 11.
    assert (run.actions.iloc[:11] == "hold").all()
    assert run.actions.iloc[11] == "scale in −7"
    assert run.serving.iloc[11] == 3 and run.summary["scaling_actions"] == 1


def test_cooldown_spaces_reactive_actions():
    load = _series([100] * 3 + [400] * 3 + [1000] * 10)
    fast = replay(load, None, ScalingParams(initial_servers=3, boot_delay=0, cooldown=0), "reactive")
    slow = replay(load, None, ScalingParams(initial_servers=3, boot_delay=0, cooldown=5), "reactive")
    acted = np.flatnonzero(slow.actions != "hold")
    assert len(acted) >= 2 and np.diff(acted).min() >= 5
    assert np.diff(np.flatnonzero(fast.actions != "hold")).min() < 5


def test_cost_arithmetic_by_hand():
    params = ScalingParams(static_servers=2)
    load = _series([50] * 11 + [150])  # 12 intervals of 5 min = 1 hour
    s = replay(load, None, params, "static").summary
    assert s["server_hours"] == pytest.approx(2.0)
    assert s["cost_servers"] == pytest.approx(0.20)
    assert s["cost_penalty"] == pytest.approx(50 * 0.001)  # 150 demand on 100 capacity
    assert s["cost_total"] == pytest.approx(0.25)
    assert s["overloaded_pct"] == pytest.approx(100 / 12)
    assert s["dropped_pct"] == pytest.approx(100 * 50 / 700)
    assert s["overprovisioned_server_hours"] == pytest.approx(11 * 5 / 60)  # one spare server for 11 intervals
    assert s["scaling_actions"] == 0 and set(s) == set(SUMMARY_KEYS)


def test_static_defaults_to_the_window_peak():
    run = replay(_series([10, 240, 30]), None, ScalingParams(), "static")
    assert list(run.servers) == [5, 5, 5]


def test_missing_load_counts_no_demand_but_servers_are_still_paid():
    params = ScalingParams(static_servers=1)
    load = _series([100, np.nan, 100, np.nan])
    run = replay(load, None, params, "static")
    assert list(run.dropped) == [50, 0, 50, 0]
    assert run.summary["overloaded_pct"] == 100.0  # 2 of the 2 intervals that had demand
    assert run.summary["server_hours"] == pytest.approx(4 * 5 / 60)
    for policy in POLICIES:  # no policy chokes on gaps or counts drops there
        r = replay(load, load, params, policy)
        assert r.dropped.iloc[[1, 3]].sum() == 0


def test_missing_forecast_holds_the_previous_level():
    params = ScalingParams(initial_servers=2, boot_delay=0)
    load = _series([100, 300, 300, 300])
    run = replay(load, _series([100, 300, np.nan, np.nan]), params, "predictive")
    assert list(run.serving) == [2, 6, 6, 6]


@pytest.mark.parametrize(("changes", "word"), [
    ({"capacity_per_server": 0}, "capacity"),
    ({"min_servers": 5, "max_servers": 2}, "max servers"),
    ({"boot_delay": -1}, "boot delay"),
    ({"target_utilisation": 1.5}, "target utilisation"),
    ({"tolerance": -0.1}, "tolerance"),
    ({"static_servers": 500}, "static servers"),
])
def test_nonsense_parameters_are_refused_with_a_message(changes: dict, word: str):
    with pytest.raises(InputError, match=word):
        ScalingParams(**changes).validate()


def test_replay_refuses_unknown_policy_missing_or_misaligned_forecast():
    load = _series([100] * 5)
    with pytest.raises(InputError, match="unknown policy"):
        replay(load, None, ScalingParams(), "magic")
    with pytest.raises(InputError, match="needs a forecast"):
        replay(load, None, ScalingParams(), "predictive")
    with pytest.raises(InputError, match="same timestamps"):
        replay(load, _series([100] * 5, start="2024-03-05"), ScalingParams(), "predictive")


def test_frontier_overload_falls_as_the_quantile_grows_and_the_optimum_is_the_argmin():
    load = _wavy(5)
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 40, len(load))
    z = {0.5: 0.0, 0.9: 1.28, 0.7: 0.52, 0.99: 2.33, 0.8: 0.84}  # unsorted on purpose
    forecasts = {q: load + noise + 40 * zq for q, zq in z.items()}
    frontier = quantile_frontier(load, forecasts, ScalingParams())
    assert list(frontier.columns) == ["quantile", "cost_total", "overloaded_pct", "dropped_pct", "server_hours"]
    assert list(frontier["quantile"]) == sorted(z)
    assert frontier["overloaded_pct"].is_monotonic_decreasing
    assert frontier["server_hours"].is_monotonic_increasing
    assert cost_optimal_quantile(frontier) == frontier.loc[frontier["cost_total"].idxmin(), "quantile"]


def test_cost_optimal_quantile_can_be_held_to_an_overload_budget():
    frontier = pd.DataFrame({"quantile": [0.5, 0.7, 0.9, 0.99], "cost_total": [10.0, 9.0, 11.0, 12.0],
                             "overloaded_pct": [20.0, 10.0, 2.0, 0.5], "dropped_pct": 0.0, "server_hours": 1.0})
    assert cost_optimal_quantile(frontier) == 0.7
    assert cost_optimal_quantile(frontier, max_overloaded_pct=2.0) == 0.9
    assert cost_optimal_quantile(frontier, max_overloaded_pct=0.1) == 0.99  # none qualifies: least overloaded


def test_decisions_table_has_one_row_per_interval_and_a_column_per_policy():
    load = _wavy(6, n=40)
    result = replay_all(load, load * 1.1, ScalingParams())
    table = result.decisions_table()
    assert len(table) == 40
    assert list(table.columns[:3]) == ["timestamp", "load", "forecast"]
    assert {f"servers_{p}" for p in POLICIES} | {f"action_{p}" for p in POLICIES} <= set(table.columns)
    assert list(result.summary_table().index) == list(POLICIES)


def test_next_hour_recommendation_sizes_the_peak_and_orders_a_boot_delay_ahead():
    index = pd.date_range("2024-03-04 14:25", periods=13, freq="5min", tz="UTC")
    forward = pd.DataFrame({"y_pred": 300.0, "q0.9": [400, 500, 812, 700, 600, 500, 400, 300, 300, 300, 300, 300,
                                                      9999]}, index=index)  # the 13th row is past the hour
    rec = next_hour_recommendation(forward, 14, ScalingParams(), "q0.9")
    assert rec.peak_servers == 17 and rec.servers_now == 8
    assert rec.order_at == pd.Timestamp("2024-03-04 14:25", tz="UTC")  # peak at 14:35 minus 2 x 5 min
    assert len(rec.schedule) == 12 and list(rec.schedule.columns) == ["timestamp", "forecast", "servers"]
    assert "812" in rec.reason and "q90" in rec.reason and "boot in 2 intervals (10 min)" in rec.reason
    assert "order 3 more by 14:25" in rec.reason
    hold = next_hour_recommendation(forward, 17, ScalingParams(), "q0.9")
    assert "hold" in hold.reason and "boot" in hold.reason


def test_exact_optimum_matches_brute_force_and_the_oracle_replays_it():
    import itertools

    boot = 2
    params = ScalingParams(boot_delay=boot)
    load = _series([60, 140, 45, 150, 30, 30, 30, 120])
    start = int(required_servers(load.iloc[:1], params)[0])  # every policy starts there
    demand = load.to_numpy()
    best = np.inf
    for path in itertools.product(range(1, 5), repeat=len(load) - 1):
        s = np.array([start, *path])
        rises = np.maximum(np.diff(s), 0)
        # A server added at t was paid while booting since max(0, t - boot): the window starts at 0.
        paid = s.sum() + sum(r * min(boot, t) for t, r in enumerate(rises, start=1))
        cost = paid * params.price_per_interval + params.penalty_per_dropped * np.maximum(demand - 50 * s, 0).sum()
        best = min(best, cost)
    assert exact_optimum_cost(load, params) == pytest.approx(best)
    # The oracle follows the optimal path, so its replayed cost (provisioned servers + drops) is the optimum.
    assert replay(load, None, params, "oracle").summary["cost_total"] == pytest.approx(best)
    for seed in (0, 1):
        wavy = _wavy(seed)
        oracle = replay(wavy, None, params, "oracle").summary["cost_total"]
        assert oracle == pytest.approx(exact_optimum_cost(wavy, params))
