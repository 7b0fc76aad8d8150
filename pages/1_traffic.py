"""Traffic & Autoscaling: honest traffic forecasts and a replay of reactive vs predictive scaling."""

import pandas as pd
import streamlit as st

from core.traffic.series import (
    BurstRule,
    bytes_column,
    flag_columns,
    hour_weekday_table,
    status_columns,
    summary,
)
from core.ui import traffic_figures as figures
from core.ui import traffic_widgets as widgets
from core.ui.downloads import download_table
from core.ui.format import show_table
from core.ui.page import setup_page

setup_page("traffic")
st.title("Traffic & Autoscaling")
st.caption("Forecast requests per interval from your own logs, score every model on the same held-out window beside "
           "a seasonal-naive baseline, then replay reactive and predictive scaling on that window and price them. "
           "Outages stay missing, never zero; timestamps stay in the data's own time zone.")

raw = widgets.data_source()
if raw is None:
    st.stop()
with st.expander("Columns (auto-detected, editable)"):
    time_col, value_col = widgets.column_picker(raw)
loaded = widgets.load_traffic(raw, time_col, value_col)
if loaded is None:
    st.stop()
freq = widgets.granularity(loaded)
series = widgets.traffic_series(loaded, freq) if freq else None
if series is None:
    st.stop()
params = widgets.scaling_params(series)
unit = f"requests per {freq}"

overview_tab, forecast_tab, scaling_tab = st.tabs(["Overview", "Forecast", "Autoscaling"])

with overview_tab:
    stats = summary(series)
    cols = st.columns(4)
    cols[0].metric("Mean per interval", f"{stats['mean']:,.1f}")
    cols[1].metric("Peak per interval", f"{stats['peak']:,.0f}", help=f"at {stats['peak_at']}")
    cols[2].metric("p95 per interval", f"{stats['p95']:,.0f}")
    cols[3].metric("Busiest hour", f"{stats['busiest_hour']:02d}:00",
                   help=f"mean {stats['busiest_hour_mean']:,.1f} {unit} at that hour of day (local time)")
    st.caption(f"{stats['intervals']:,} intervals of {freq} from {stats['start']} to {stats['end']}; "
               f"{stats['missing_intervals']:,} with no data (shaded as outages), "
               f"{stats['partial_intervals']:,} partial (only some of their data present: the sum undercounts).")
    rule = BurstRule()
    bursts = widgets.bursts(loaded.fingerprint, freq, series, rule)
    flags = series.extra[flag_columns(series.extra)]
    st.plotly_chart(figures.requests_over_time(series.y, bursts, series.partial, unit=unit, flags=flags),
                    key="traffic_fig_requests")
    flagged = "".join(f"; {int((flags[c] > 0).sum()):,} intervals with {c} set in the file" for c in flags.columns)
    st.caption(f"{int(bursts.sum()):,} bursts marked. Rule: {rule.describe(series.step)}{flagged}.")
    st.plotly_chart(figures.hour_weekday_heatmap(hour_weekday_table(series.y)), key="traffic_fig_heatmap")
    statuses, byte_col = status_columns(series.extra), bytes_column(series.extra)
    if statuses:
        st.plotly_chart(figures.status_mix(series.extra, statuses), key="traffic_fig_status")
    if byte_col:
        st.plotly_chart(figures.bytes_over_time(series.extra, byte_col), key="traffic_fig_bytes")
    for note in series.notes:
        st.info(f"Data note: {note}.")
    table = pd.DataFrame({"requests": series.y, "partial": series.partial, "burst": bursts}).join(series.extra)
    download_table(table.reset_index(), f"traffic_{freq}.csv", label="Download the series", key="traffic_dl_series")

with forecast_tab:
    chosen = widgets.backtest_settings(series)
    result = widgets.backtest(series, loaded.fingerprint, chosen, params.boot_delay) if chosen else None
    if result is not None and chosen is not None:
        step = chosen.horizon
        board = result.leaderboard(step)
        st.subheader(f"Leaderboard, {step} step(s) ahead")
        show_table(widgets.leaderboard_table(board), widgets.LEADERBOARD_FORMATS)
        download_table(board, "traffic_leaderboard.csv", key="traffic_dl_leaderboard")
        st.caption(f"Trained on data before {result.calibrated.fit_end:%Y-%m-%d %H:%M}; ensemble weights and interval "
                   f"widths set on the days up to {result.test_start:%Y-%m-%d %H:%M}; scored on every later interval. "
                   "Multi-step forecasts are recursive. MASE < 1 beats the 1-day seasonal naive.")
        st.plotly_chart(figures.leaderboard_bar(board), key="traffic_fig_leaderboard")
        shown = widgets.chart_models(result)
        predictions = result.predictions(step)
        st.plotly_chart(figures.actual_vs_predicted(predictions, shown, interval=result.interval, step=step),
                        key="traffic_fig_forecast")
        st.plotly_chart(figures.error_by_hour(result.error_by_hour(step), shown), key="traffic_fig_error_hour")
        download_table(predictions, "traffic_predictions.csv", key="traffic_dl_predictions")

    st.subheader("Forward forecast")
    steps = widgets.forward_steps(series)
    ahead = widgets.forward(series, loaded.fingerprint, widgets.forward_models(chosen), steps, key="traffic_forward_run")
    if ahead is not None:
        history = series.y[series.y.index > series.y.index[-1] - pd.Timedelta(days=widgets.DEFAULTS.forward_history_days)]
        st.plotly_chart(figures.forward_forecast(history, ahead), key="traffic_fig_forward")
        st.caption(f"Model: {ahead.attrs.get('model', 'ensemble')}, trained on all the data.")
        show_table(widgets.forward_table(ahead), default="%.1f")
        download_table(widgets.forward_table(ahead), "traffic_forward_forecast.csv", key="traffic_dl_forward")

with scaling_tab:
    st.caption("Policies replayed on the backtest's test window: static peak provisioning, reactive (Kubernetes HPA "
               "rule with tolerance and a scale-in window), predictive (the forecast issued boot-delay intervals "
               "ahead, at a quantile), predictive + reactive, and the oracle (perfect foresight: the exact cheapest fleet path, a lower bound on cost; "
               "it lets small excesses drop where a server, boot included, would cost more than their penalty).")
    widgets.policy_form(params)
    plan = widgets.study(result, params) if result is not None else None
    if result is None:
        st.info(f"Run the backtest in the **Forecast** tab first: the predictive policy replays its forecasts issued "
                f"{max(1, params.boot_delay)} interval(s) ahead.")
    elif plan is not None:
        replay = plan.replay
        policies = replay.summary_table()
        st.subheader("Policies side by side")
        show_table(widgets.policy_table(policies), widgets.POLICY_FORMATS)
        download_table(policies.reset_index(), "traffic_policies.csv", key="traffic_dl_policies")
        st.plotly_chart(figures.load_vs_capacity(replay.load, {p: r.serving for p, r in replay.runs.items()},
                                                 params.capacity_per_server), key="traffic_fig_capacity")
        st.plotly_chart(figures.cost_bars(policies), key="traffic_fig_cost")
        st.plotly_chart(figures.quantile_frontier(plan.frontier, plan.quantile), key="traffic_fig_frontier")
        download_table(plan.frontier, "traffic_frontier.csv", key="traffic_dl_frontier")
        download_table(replay.decisions_table(), "traffic_decisions.csv", label="Download the decisions table",
                       key="traffic_dl_decisions")

        st.subheader("Next hour")
        hour_steps = max(1, int(pd.Timedelta("1h") / series.step))
        nxt = widgets.forward(series, loaded.fingerprint, widgets.forward_models(chosen), hour_steps,
                              key="traffic_forward_hour", label="Recommend servers for the next hour")
        current = int(replay.runs["predictive"].servers.iloc[-1])
        rec = widgets.recommendation(nxt, current, params, plan.quantile) if nxt is not None else None
        if rec is not None:
            cols = st.columns(3)
            cols[0].metric("Servers now (you run)", f"{rec.servers_now} ({current})")
            cols[1].metric("Servers at the peak", rec.peak_servers)
            cols[2].metric("Act by", f"{rec.order_at:%H:%M}", help=f"{rec.order_at:%Y-%m-%d %H:%M}, local time")
            st.markdown(f"{rec.reason} The current fleet is the predictive policy's last one in the replay.")
            show_table(rec.schedule, default="%.1f")
            download_table(rec.schedule, "traffic_next_hour.csv", key="traffic_dl_next_hour")
