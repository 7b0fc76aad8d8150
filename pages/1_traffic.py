"""Traffic & Autoscaling: honest traffic forecasts and a replay of reactive vs predictive scaling."""

import streamlit as st

from core.traffic.service import forecast_lead, lead_text, next_hour_steps
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
    columns = widgets.column_picker(raw)
loaded = widgets.load_traffic(raw, columns)
if loaded is None:
    st.stop()
freq = widgets.granularity(loaded)
loaded = widgets.zero_runs(loaded)
series = widgets.traffic_series(loaded, freq)
if series is None:
    st.stop()
params = widgets.scaling_params(series)

overview_tab, forecast_tab, scaling_tab = widgets.tabs()

with overview_tab:
    ov = widgets.overview(series, loaded.fingerprint)
    if ov is not None:
        widgets.overview_metrics(ov, freq)
        st.plotly_chart(figures.requests_over_time(series.y, ov.bursts, series.partial, unit=f"requests per {freq}",
                                                   flags=ov.flags), key="traffic_fig_requests")
        st.caption(widgets.burst_caption(ov))
        st.plotly_chart(figures.hour_weekday_heatmap(ov.heatmap), key="traffic_fig_heatmap")
        if ov.status_columns:
            st.plotly_chart(figures.status_mix(series.extra, ov.status_columns), key="traffic_fig_status")
        if ov.bytes_column:
            st.plotly_chart(figures.bytes_over_time(series.extra, ov.bytes_column), key="traffic_fig_bytes")
        for note in widgets.data_notes(series, loaded):
            st.info(f"Data note: {note}.")
        download_table(ov.table, f"traffic_{freq}.csv", label="Download the series", key="traffic_dl_series")

with forecast_tab:
    chosen = widgets.backtest_settings(series)
    result = widgets.backtest(series, loaded.fingerprint, chosen, forecast_lead(params)) if chosen else None
    if result is not None:
        step = result.horizon
        board = result.leaderboard(step)
        st.subheader(f"Leaderboard, {step} step(s) ahead")
        show_table(widgets.leaderboard_table(board), widgets.LEADERBOARD_FORMATS)
        download_table(board, "traffic_leaderboard.csv", key="traffic_dl_leaderboard")
        st.caption(widgets.backtest_caption(result, chosen))
        st.plotly_chart(figures.leaderboard_bar(board), key="traffic_fig_leaderboard")
        shown = widgets.chart_models(result)
        st.plotly_chart(figures.actual_vs_predicted(result.predictions(step), shown, interval=result.interval,
                                                    step=step), key="traffic_fig_forecast")
        st.plotly_chart(figures.error_by_hour(result.error_by_hour(step), shown), key="traffic_fig_error_hour")
        download_table(result.predictions(step), "traffic_predictions.csv", key="traffic_dl_predictions")

    st.subheader("Forward forecast")
    steps = widgets.forward_steps(series)
    ahead = widgets.forward(series, loaded.fingerprint, chosen, steps, key="traffic_forward_run")
    if ahead is not None:
        st.plotly_chart(figures.forward_forecast(ahead.history, ahead.frame), key="traffic_fig_forward")
        st.caption(f"Model: {ahead.model}, trained on all the data.")
        widgets.time_table(ahead.table)
        download_table(ahead.table, "traffic_forward_forecast.csv", key="traffic_dl_forward")

with scaling_tab:
    st.caption("Policies replayed on the backtest's test window: static peak provisioning, reactive (Kubernetes HPA "
               "rule with tolerance and a scale-in window), predictive (the forecast issued a boot delay ahead, at a "
               "quantile), predictive + reactive, and the oracle (perfect foresight: the exact cheapest fleet path "
               "that meets the SLO, a lower bound on the cost of every policy that meets it).")
    params = widgets.slo(params)
    widgets.policy_form(params)
    plan = widgets.study(result, params) if result is not None else None
    if result is None:
        st.info(f"Run the backtest in the **Forecast** tab first: the predictive policy replays its forecasts issued "
                f"{lead_text(forecast_lead(params), params)} ahead.")
    elif plan is not None:
        st.subheader("Policies side by side")
        widgets.policy_verdicts(plan)
        show_table(widgets.policy_table(plan.policies), widgets.POLICY_FORMATS)
        download_table(plan.policies.reset_index(), "traffic_policies.csv", key="traffic_dl_policies")
        serving = {policy: run.serving for policy, run in plan.replay.runs.items()}
        st.plotly_chart(figures.load_vs_capacity(plan.replay.load, serving, params.capacity_per_server,
                                                 unit=f"requests per {freq}"), key="traffic_fig_capacity")
        st.plotly_chart(figures.cost_bars(plan.policies), key="traffic_fig_cost")
        st.plotly_chart(figures.quantile_frontier(plan.frontier, plan.quantile, slo=params.slo_overload_pct,
                                                  calibration=plan.choice.frontier), key="traffic_fig_frontier")
        st.caption(f"The frontier is computed in hindsight on the test window, to explain the choice: the default "
                   f"quantile is chosen on the calibration window ({plan.choice.window}), before the test window.")
        download_table(plan.frontier, "traffic_frontier.csv", key="traffic_dl_frontier")
        download_table(plan.decisions, "traffic_decisions.csv", label="Download the decisions table",
                       key="traffic_dl_decisions")

        st.subheader("Next hour")
        nxt = widgets.forward(series, loaded.fingerprint, chosen, next_hour_steps(series), key="traffic_forward_hour",
                              label="Recommend servers for the next hour")
        rec = widgets.recommendation(nxt, plan.current_servers, params, plan.quantile) if nxt is not None else None
        if rec is not None:
            widgets.recommendation_metrics(rec, plan.current_servers)
            widgets.time_table(rec.schedule)
            download_table(rec.schedule, "traffic_next_hour.csv", key="traffic_dl_next_hour")
