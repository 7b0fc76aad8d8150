"""The Traffic & Autoscaling service: one call per user action, validated input, typed results whose
derived tables are built once (a page rerun reuses them instead of rebuilding)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.traffic import config, service
from core.traffic.autoscale import POLICIES
from core.traffic.backtest import BacktestResult
from tests.traffic.synthetic import daily_traffic

BASELINES = ("seasonal_naive", "naive")


def _frame(days: int = 4) -> pd.DataFrame:
    frame = daily_traffic(days=days, freq="15min", seed=4)
    frame["status_2xx"] = frame["request_count"] - 1
    frame["bytes"] = frame["request_count"] * 1000
    frame["is_event"] = 0
    frame.loc[10:12, "is_event"] = 1
    return frame


@pytest.fixture(scope="module")
def series() -> service.TrafficSeries:
    return service.traffic_series(service.load_traffic(_frame(days=8), name="t.csv"), "15m")


@pytest.fixture(scope="module")
def result(series: service.TrafficSeries) -> BacktestResult:
    settings = service.backtest_settings(series, horizon=1, models=BASELINES)
    return service.backtest(series, settings, extra_steps=2)


def test_load_traffic_detects_the_columns_once_and_keeps_the_native_step(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    detect = service.detect_time_column
    monkeypatch.setattr(service, "detect_time_column", lambda frame: calls.append(1) or detect(frame))
    loaded = service.load_traffic(_frame(), name="t.csv")
    assert len(calls) == 1
    assert (loaded.time_col, loaded.value_col) == ("timestamp", "request_count")
    assert loaded.native_step == pd.Timedelta("15min")
    assert loaded.frequencies == ["15m", "1h"]
    assert loaded.fingerprint.endswith(":timestamp:request_count")


def test_long_zero_runs_are_missing_unless_kept_as_traffic() -> None:
    frame = _frame(days=8)
    stamps = pd.to_datetime(frame["timestamp"])
    gap = (stamps >= stamps[0] + pd.Timedelta(days=3)) & (stamps < stamps[0] + pd.Timedelta(days=6))
    frame.loc[gap, ["request_count", "status_2xx", "bytes"]] = 0
    loaded = service.load_traffic(frame, name="t.csv")
    (run,) = loaded.zero_runs
    assert run.intervals == 3 * 96 and not loaded.zero_runs_as_traffic
    series = service.traffic_series(loaded, "1h")
    assert series.y.isna().sum() == 72 and series.extra["bytes"].isna().sum() == 72
    assert any("collection gap" in note for note in series.notes)
    kept = service.keep_zero_runs(loaded)
    assert kept.zero_runs_as_traffic and kept.fingerprint != loaded.fingerprint  # results are kept apart
    assert (service.traffic_series(kept, "1h").y == 0).sum() == 72


def test_bad_columns_and_steps_are_input_errors_naming_the_file() -> None:
    with pytest.raises(InputError, match="file 't.csv': column 'timestamp' is the timestamp column"):
        service.load_traffic(_frame(), name="t.csv", value_col="timestamp")
    odd = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=50, freq="7min").astype(str),
                        "requests": np.arange(50)})
    with pytest.raises(InputError, match="file 'odd.csv': its 7-minute step does not divide"):
        service.load_traffic(odd, name="odd.csv")


def test_overview_builds_each_piece_once(series: service.TrafficSeries) -> None:
    ov = service.overview(series)
    assert ov.rule == config.BURST_RULE
    assert ov.stats.peak == series.y.max() and ov.stats.intervals == len(series.y)
    assert ov.bursts is ov.bursts and ov.table is ov.table  # cached on the result, not rebuilt
    assert list(ov.table.columns[:4]) == ["timestamp", "requests", "partial", "burst"]
    assert {"status_2xx", "bytes", "is_event"} <= set(ov.table.columns)
    assert ov.flag_counts == {"is_event": 3}
    assert ov.status_columns == ["status_2xx"] and ov.bytes_column == "bytes"
    assert ov.heatmap.shape == (7, 24)
    assert "burst = count > median" in ov.rule_text
    assert ov.burst_count == int(ov.bursts.sum())


def test_derived_tables_of_a_backtest_are_built_once_per_step(result: BacktestResult,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    fresh = BacktestResult(series=result.series, calibrated=result.calibrated, test_start=result.test_start,
                           horizon=result.horizon, interval=result.interval, origins=result.origins,
                           paths=result.paths)
    original = BacktestResult._predictions
    monkeypatch.setattr(BacktestResult, "_predictions", lambda self, step: built.append(step) or original(self, step))
    first = fresh.predictions(1)
    fresh.leaderboard(1)  # reads the predictions: no second build
    fresh.error_by_hour(1)
    assert fresh.predictions() is first and fresh.predictions(1) is first
    assert fresh.leaderboard(1) is fresh.leaderboard(1)
    assert fresh.error_by_hour(1) is fresh.error_by_hour(1)
    assert built == [1]
    assert fresh.predictions(2) is not first and built == [1, 2]
    assert set(first["model"]) == set(BASELINES)


def test_scaling_study_replays_every_policy_and_keeps_its_tables(series: service.TrafficSeries,
                                                                 result: BacktestResult) -> None:
    params = service.priced_for(config.SCENARIO, series)
    assert params.interval_minutes == 15
    plan = service.scaling_study(result, params)
    assert list(plan.policies.index) == list(POLICIES)
    assert plan.policies is plan.policies and plan.decisions is plan.decisions
    assert isinstance(plan.current_servers, int)
    assert 0.5 <= plan.slo_quantile <= 0.99
    with pytest.raises(InputError, match=r"a 45-minute boot needs forecasts 3 intervals \(45 min\) ahead"):
        service.scaling_study(result, service.policy_params(params, {"boot_minutes": 45}))


def test_the_default_quantile_is_the_cheapest_that_meets_the_slo(series: service.TrafficSeries,
                                                                 result: BacktestResult) -> None:
    from core.traffic.autoscale import cost_optimal_quantile

    for slo in (1.0, 20.0):
        params = service.policy_params(service.priced_for(config.SCENARIO, series), {"slo_overload_pct": slo})
        plan = service.scaling_study(result, params)
        # Chosen on the calibration window (before the test window); the test window's choice is hindsight only.
        assert plan.quantile == plan.slo_quantile == plan.choice.quantile
        if plan.choice.judged:
            assert plan.quantile == cost_optimal_quantile(plan.choice.frontier, max_overloaded_pct=slo)
        assert plan.hindsight_quantile == cost_optimal_quantile(plan.frontier, max_overloaded_pct=slo)
        assert plan.policies.loc["oracle", "overloaded_pct"] <= slo
        assert "meets_slo" in plan.policies.columns
        assert f"≤ {slo:g}% of intervals overloaded" in plan.headline
        for policy in plan.policies.index[~plan.policies["meets_slo"]]:
            assert any(w.startswith(f"{plan.label(policy)} misses the SLO") for w in plan.warnings)


def _hourly() -> service.TrafficSeries:
    return service.traffic_series(service.load_traffic(_frame(days=2), name="t.csv"), "1h")


def test_policy_params_validate_and_keep_integer_fields_integers() -> None:
    params = service.policy_params(changes={"boot_minutes": 15, "capacity_rps": 0.25, "min_servers": 2.0})
    assert params.min_servers == 2 and isinstance(params.min_servers, int)
    assert params.boot_delay == 3 and params.capacity_per_server == 75  # at 5 minutes
    assert service.priced_for(params, _hourly()).capacity_per_server == 900
    with pytest.raises(InputError, match="min servers must be at least 1"):
        service.policy_params(changes={"min_servers": 0})


def test_forward_forecast_and_next_hour_recommendation(series: service.TrafficSeries) -> None:
    steps = service.next_hour_steps(series)
    assert steps == 4 and service.forward_models(BASELINES) == ("lightgbm",)
    ahead = service.forward(series, ("lightgbm",), 8, quantiles=(0.5, 0.9))
    assert ahead.model == "ensemble" and ahead.steps == 8  # of its one member
    assert list(ahead.table.columns) == ["timestamp", "point forecast", "q50", "q90"]
    assert ahead.history.index[-1] == series.y.index[-1]
    hour = ahead.first(steps)
    assert hour.steps == steps and ahead.first(99) is ahead
    rec = service.recommend_next_hour(hour, 2, service.priced_for(config.SCENARIO, series), 0.9)
    assert len(rec.schedule) == steps and rec.peak_servers >= 1
    # Named by what they are: the point forecast beside the quantile the servers are sized for.
    assert list(rec.schedule.columns) == ["timestamp", "point forecast", "q90 provisioned for", "servers"]
    assert rec.schedule["point forecast"].tolist() == hour.frame["y_pred"].tolist()


def test_a_study_at_another_quantile_reuses_the_frontier_and_the_oracle(series: service.TrafficSeries,
                                                                        result: BacktestResult) -> None:
    params = service.priced_for(config.SCENARIO, series)
    first = service.scaling_study(result, params)
    other = service.scaling_study(result, params, quantile=0.5, like=first)
    assert other.frontier is first.frontier and other.replay.runs["oracle"] is first.replay.runs["oracle"]
    assert other.quantile == 0.5
    fresh = service.scaling_study(result, params, quantile=0.5)
    pd.testing.assert_frame_equal(other.policies, fresh.policies)
    changed = service.policy_params(params, {"max_servers": 150})
    assert service.scaling_study(result, changed, like=first).frontier is not first.frontier


def _doubled_after(frame: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    out = frame.copy()
    later = pd.to_datetime(out["timestamp"]) >= start
    out.loc[later, "request_count"] = out.loc[later, "request_count"] * 2
    return out


def test_the_default_quantile_is_chosen_before_the_test_window_and_never_reads_it() -> None:
    """Doubling every actual of the test window changes what the policies face (and the hindsight frontier),
    but not the default quantile: it was chosen on the calibration window's forecasts, before the test."""
    frame = daily_traffic(days=10, freq="15min", seed=7)
    plans, results = [], []
    for version in ("as is", "test window doubled"):
        series = service.traffic_series(service.load_traffic(frame, name="t.csv"), "15m")
        settings = service.backtest_settings(series, horizon=1, models=BASELINES)
        if version != "as is":
            series = service.traffic_series(
                service.load_traffic(_doubled_after(frame, settings.test_start), name="t.csv"), "15m")
        result = service.backtest(series, settings, extra_steps=1)
        params = service.policy_params(service.priced_for(config.SCENARIO, series), {"slo_overload_pct": 5.0})
        results.append(result)
        plans.append(service.scaling_study(result, params))
    honest, doubled = plans
    assert not honest.frontier.equals(doubled.frontier)  # the test window did change
    assert honest.quantile == doubled.quantile
    assert honest.quantile == honest.choice.quantile
    assert honest.choice == doubled.choice
    assert honest.choice.judged and honest.choice.end == results[0].test_start
    assert honest.choice.start == results[0].calibrated.fit_end
    assert "calibration window" in honest.choice.text and "before the test window" in honest.choice.text
    pd.testing.assert_frame_equal(honest.choice.frontier, doubled.choice.frontier)


def test_a_calibration_window_too_short_for_the_slo_falls_back_to_a_high_quantile() -> None:
    """48 hourly calibration intervals cannot tell a 1% SLO from 0% (not one overload allowed): the default is
    the highest frontier quantile the window supports (n × (1 − q) ≥ 1), never a choice on the test window."""
    series = service.traffic_series(service.load_traffic(daily_traffic(days=10, freq="1h", seed=7), name="t.csv"), "1h")
    result = service.backtest(series, service.backtest_settings(series, horizon=1, models=BASELINES), extra_steps=1)
    plan = service.scaling_study(result, service.priced_for(config.SCENARIO, series))
    assert not plan.choice.judged and plan.choice.intervals == 48
    assert plan.quantile == plan.slo_quantile == 0.975
    assert "too few" in plan.choice.text and "(48)" in plan.choice.text
