"""Figure builders of the Traffic & Autoscaling page: pure functions, checked by their traces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.ui import traffic_figures as figures


@pytest.fixture
def y() -> pd.Series:
    index = pd.date_range("2024-03-04", periods=48, freq="5min", tz="-04:00")
    values = pd.Series(100.0 + 10 * np.sin(np.arange(48) / 5), index=index)
    values.iloc[10:13] = np.nan  # an outage
    values.iloc[30] = 900.0  # a burst
    return values


def _names(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.name for t in fig.data]


def test_requests_over_time_shades_outages_and_marks_bursts(y: pd.Series) -> None:
    bursts = pd.Series(False, index=y.index)
    bursts.iloc[30] = True
    partial = pd.Series(False, index=y.index)
    partial.iloc[20] = True
    fig = figures.requests_over_time(y, bursts, partial)
    assert _names(fig) == ["requests", "outage (no data)", "partial interval (undercount)", "burst"]
    requests, outage = fig.data[0], fig.data[1]
    assert np.isnan(np.asarray(requests.y[10:13], dtype=float)).all()  # missing stays missing, not zero
    shaded = ~np.isnan(np.asarray(outage.y, dtype=float))
    assert shaded.sum() == 3 and outage.fill == "tozeroy"
    assert len(fig.data[3].x) == 1
    # Local wall-clock time on the axis (the data's own zone), not shifted to UTC.
    assert pd.Timestamp(requests.x[0]) == pd.Timestamp("2024-03-04 00:00")


def test_the_files_own_event_flags_are_marked(y: pd.Series) -> None:
    flags = pd.DataFrame({"is_event": 0, "is_burst": 0}, index=y.index)
    flags.iloc[[40, 41], 0] = 1
    fig = figures.requests_over_time(y.fillna(100.0), flags=flags)
    assert _names(fig) == ["requests", "is_event (from the file)"]  # an all-zero flag adds nothing
    assert len(fig.data[1].x) == 2


def test_requests_over_time_without_gaps_has_one_trace(y: pd.Series) -> None:
    fig = figures.requests_over_time(y.fillna(100.0))
    assert _names(fig) == ["requests"]


def test_heatmap_status_mix_and_bytes() -> None:
    table = pd.DataFrame(np.arange(7 * 24, dtype=float).reshape(7, 24), index=list("MTWTFSS"), columns=range(24))
    heat = figures.hour_weekday_heatmap(table)
    assert heat.data[0].type == "heatmap" and np.asarray(heat.data[0].z).shape == (7, 24)
    index = pd.date_range("2024-01-01", periods=5, freq="h")
    extra = pd.DataFrame({"status_2xx": [9, 8, 7, 6, 5], "status_4xx": [1, 2, 3, 4, 5], "total_bytes": [1e6] * 5},
                         index=index)
    mix = figures.status_mix(extra, ["status_2xx", "status_4xx"])
    assert _names(mix) == ["status_2xx", "status_4xx"] and {t.stackgroup for t in mix.data} == {"status"}
    assert list(figures.bytes_over_time(extra, "total_bytes").data[0].y) == [1.0] * 5


def _predictions() -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=4, freq="5min")
    rows = []
    for model, bias in (("ensemble", 1.0), ("seasonal_naive", 5.0)):
        for t, truth in zip(stamps, [10.0, 12.0, 11.0, 13.0], strict=True):
            rows.append({"timestamp": t, "model": model, "y_true": truth, "y_pred": truth + bias,
                         "lo": truth + bias - 2, "hi": truth + bias + 2})
    return pd.DataFrame(rows)


def test_actual_vs_predicted_draws_a_band_per_chosen_model() -> None:
    fig = figures.actual_vs_predicted(_predictions(), ["ensemble"])
    assert _names(fig) == ["actual", "ensemble upper", "ensemble 80% interval", "ensemble"]
    assert fig.data[2].fill == "tonexty"
    assert list(fig.data[3].y) == [11.0, 13.0, 12.0, 14.0]
    both = figures.actual_vs_predicted(_predictions(), ["ensemble", "seasonal_naive"])
    assert len(both.data) == 7
    assert figures.actual_vs_predicted(_predictions().iloc[:0], ["ensemble"]).data == ()


def test_error_by_hour_and_leaderboard() -> None:
    table = pd.DataFrame({"ensemble": [1.0, 2.0], "naive": [3.0, 4.0]}, index=pd.Index([0, 1], name="hour"))
    assert _names(figures.error_by_hour(table, ["ensemble"])) == ["ensemble"]
    board = pd.DataFrame({"model": ["ensemble", "naive"], "rmse": [40.0, 50.0], "baseline": [False, True]})
    bar = figures.leaderboard_bar(board)
    assert list(bar.data[0].x) == ["ensemble", "naive"] and bar.data[0].marker.color[1] == "#9e9e9e"


def test_load_vs_capacity_is_a_step_line_per_policy() -> None:
    index = pd.date_range("2024-01-01", periods=3, freq="5min")
    load = pd.Series([40.0, 120.0, 60.0], index=index)
    serving = {"reactive": pd.Series([1, 1, 3], index=index), "oracle": pd.Series([1, 3, 2], index=index)}
    fig = figures.load_vs_capacity(load, serving, 50.0)
    capacity = [t for t in fig.data if t.name.endswith("capacity")]
    assert [t.name for t in capacity] == ["reactive capacity", "oracle capacity"]
    assert list(capacity[1].y) == [50, 150, 100] and capacity[1].line.shape == "hv"
    assert sum(t.name == "load" for t in fig.data) == 2


def test_cost_bars_annotate_savings_and_oracle_gap() -> None:
    summary = pd.DataFrame({"cost_total": [10.0, 8.0, 7.0], "cost_servers": [9.0, 7.5, 7.0],
                            "cost_penalty": [1.0, 0.5, 0.0], "savings_vs_reactive_pct": [0.0, 20.0, 30.0],
                            "cost_vs_oracle": [10 / 7, 8 / 7, 1.0]}, index=["reactive", "predictive", "oracle"])
    fig = figures.cost_bars(summary)
    assert _names(fig) == ["servers", "dropped-request penalty"]
    texts = [a.text for a in fig.layout.annotations]
    assert "+20% vs reactive" in texts[1] and "1.14× oracle" in texts[1]
    assert "vs reactive" not in texts[0] and "oracle" not in texts[2]


def test_cost_bars_rank_only_policies_that_meet_the_slo() -> None:
    summary = pd.DataFrame({"cost_total": [10.0, 6.0, 7.0], "cost_servers": [9.0, 5.0, 7.0],
                            "cost_penalty": [1.0, 1.0, 0.0], "savings_vs_reactive_pct": [0.0, np.nan, np.nan],
                            "cost_vs_oracle": [10 / 7, np.nan, 1.0], "meets_slo": [True, False, True],
                            "problem": ["", "", "drops 90% of requests"]}, index=["reactive", "predictive", "oracle"])
    texts = [a.text for a in figures.cost_bars(summary).layout.annotations]
    assert "misses the SLO" in texts[1] and "vs reactive" not in texts[1]
    assert "not ranked" in texts[2]


def test_frontier_marks_the_chosen_quantile() -> None:
    frontier = pd.DataFrame({"quantile": [0.5, 0.8, 0.99], "cost_total": [12.0, 10.0, 15.0],
                             "overloaded_pct": [40.0, 10.0, 0.5]})
    fig = figures.quantile_frontier(frontier, 0.8, slo=1.0)
    assert list(fig.data[0].text) == ["q50", "q80", "q99"]
    assert fig.data[1].name == "chosen q80" and list(fig.data[1].y) == [10.0]
    slo_line = [s for s in fig.layout.shapes if s.x0 == 1.0 and s.x1 == 1.0]
    assert slo_line and any("SLO" in a.text for a in fig.layout.annotations)
    # Explanatory only: the test window's frontier is known in hindsight, and the chart says so.
    assert "in hindsight on the test window" in fig.layout.title.text


def test_frontier_shows_the_calibration_window_the_quantile_was_chosen_on() -> None:
    frontier = pd.DataFrame({"quantile": [0.5, 0.8, 0.99], "cost_total": [12.0, 10.0, 15.0],
                             "overloaded_pct": [40.0, 10.0, 0.5]})
    calibration = frontier.assign(cost_total=[11.0, 9.0, 14.0], overloaded_pct=[30.0, 5.0, 0.2])
    fig = figures.quantile_frontier(frontier, 0.8, slo=1.0, calibration=calibration)
    names = [t.name for t in fig.data]
    assert "calibration window (the quantile is chosen here)" in names
    assert "test window, in hindsight" in names


def test_forward_forecast_has_history_band_and_forecast() -> None:
    history = pd.Series([1.0, 2.0], index=pd.date_range("2024-01-01", periods=2, freq="h"))
    index = pd.date_range("2024-01-01 02:00", periods=3, freq="h")
    forecast = pd.DataFrame({"y_pred": [3.0, 4.0, 5.0], "q0.1": [2.0, 3.0, 4.0], "q0.9": [4.0, 5.0, 6.0]},
                            index=index)
    fig = figures.forward_forecast(history, forecast)
    assert _names(fig) == ["history", "q0.9", "0.1–0.9 quantile band", "forecast"]


def test_long_series_are_drawn_thinned_but_keep_bursts_and_outages() -> None:
    index = pd.date_range("2024-01-01", periods=300_000, freq="1min", tz="UTC")
    values = pd.Series(50.0 + 10 * np.sin(np.arange(len(index)) / 200), index=index)
    values.iloc[123_457] = 5_000.0  # a one-minute burst
    values.iloc[200_000:203_000] = np.nan  # a 50-hour outage: 2024-05-18 21:20 to 05-20 23:20
    fig = figures.requests_over_time(values)
    line = fig.data[0]
    assert len(line.y) <= figures.MAX_LINE_POINTS
    assert np.nanmax(line.y) == 5_000.0  # the burst is still drawn at full height
    assert np.all(np.diff(line.x.astype("datetime64[ns]").astype(np.int64)) > 0)  # still in time order
    gap = (line.x > np.datetime64("2024-05-19")) & (line.x < np.datetime64("2024-05-20T23:00"))
    assert gap.any() and np.isnan(np.asarray(line.y, dtype=float)[gap]).all()  # the outage stays a gap
    assert "min and max" in fig.layout.title.text
    short, per_bin = figures.decimate(values.iloc[:1000])
    assert per_bin == 1 and short.equals(values.iloc[:1000])
