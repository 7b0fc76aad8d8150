"""Cloud Demand & Capacity: forecast demand per region and metric, choose models honestly, plan capacity."""

import streamlit as st

from core.demand import service
from core.ui import demand_figures as figures
from core.ui import demand_widgets as widgets
from core.ui.page import setup_page

setup_page("demand")
st.title("Cloud Demand & Capacity")
st.caption("Forecast CPU, storage and active users per region from your own history. Models are chosen on past "
           "windows and scored on later ones beside a seasonal-naive baseline; the choice then becomes a capacity "
           "plan: what to add or release, by when, at what cost, and what happens if a region fails.")

data = widgets.data_source()
if data is None:
    st.stop()
widgets.data_summary(data)
data = widgets.countries(data)
kpi_row = st.container()  # filled last: accuracy, risk and projected cost need the backtest and the plan
analytics_tab, forecast_tab, plan_tab = widgets.tabs()
colours = figures.region_colours(data.region_names)
labels = {m: widgets.metric_label(m) for m in data.metric_names}

with analytics_tab:
    info = widgets.analytics(data)
    for metric in data.metric_names:
        st.plotly_chart(figures.trends(info.trends, metric, label=labels[metric], unit=widgets.metric_unit(data, metric),
                                       colours=colours), key=f"demand_fig_trend_{metric}")
    st.subheader("Regions side by side")
    widgets.region_table(data, info.regions)
    st.subheader("Patterns of one metric")
    metric = widgets.metric_select(data, "Metric", key="demand_pattern_metric")
    corr = widgets.correlations(data, metric)
    if corr is not None:
        st.plotly_chart(figures.correlation_heatmap(corr, labels[metric]), key="demand_fig_corr")
    left, right = st.columns(2)
    left.plotly_chart(figures.weekday_profile(info.weekday, metric, label=labels[metric], colours=colours),
                      key="demand_fig_weekday")
    if info.yearly.empty:
        right.info(f"No yearly profile: {info.yearly_note}.")
    else:
        right.plotly_chart(figures.yearly_profile(info.yearly, metric, label=labels[metric], colours=colours),
                           key="demand_fig_yearly")
    widgets.profile_downloads(info)
    st.subheader("Public holidays")
    st.caption("Demand on weekday public holidays of each region's own country, against the same weekday a week "
               "before and after.")
    widgets.holiday_table(data, info.holidays)
    st.subheader("Growth")
    st.plotly_chart(figures.growth_bars(info.growth, labels=labels, colours=colours), key="demand_fig_growth")
    widgets.growth_table(info.growth)

run = chosen = None
with forecast_tab:
    options = widgets.backtest_settings(data)
    run = widgets.backtest(data, options) if options is not None else None
    if run is not None:
        st.subheader("How to choose a model per series")
        widgets.strategy_table(run.result)
        chosen = widgets.model_choice(run)
        widgets.backtest_summary(chosen)
        st.subheader("Leaderboard (evaluation windows)")
        widgets.leaderboard(chosen)
        sid = widgets.series_select(data, chosen.series_meta["series_id"], "Series to inspect",
                                    key="demand_forecast_series")
        rows = widgets.evaluation_rows(chosen, sid)
        since = chosen.windows.test_start - 3 * chosen.horizon * data.step
        st.plotly_chart(figures.backtest_forecast(
            widgets.history(data, sid, since), rows, test_start=chosen.windows.test_start,
            title=f"{widgets.series_label(data, sid)}: actual vs the chosen forecast",
            yaxis_title=widgets.series_axis(data, sid), chosen_label=chosen.choice.label(sid)),
            key="demand_fig_backtest")
        st.subheader("Totals across regions")
        widgets.totals_table(chosen)
        widgets.choice_download(chosen)
    runs = widgets.accuracy_runs()
    if runs is not None:
        st.subheader("Accuracy over runs")
        st.plotly_chart(figures.accuracy_history(runs), key="demand_fig_history")
        widgets.accuracy_table(runs)

plan = None
with plan_tab:
    st.subheader("Installed capacity")
    planned_data = widgets.capacity_editor(data)
    if planned_data is not None:
        data = planned_data  # the KPIs price the edited table
    if run is None or chosen is None:
        st.info("Run the backtest in **Forecast & model choice** first: the plan forecasts with the models it chose.")
    elif planned_data is not None:
        st.subheader("Plan settings")
        plan_options = widgets.plan_settings(planned_data)
        if plan_options is not None:
            plan = widgets.make_plan(planned_data, run, chosen, *plan_options)
    if plan is not None and planned_data is not None:
        st.subheader("Recommendations")
        widgets.recommendations(plan)
        st.subheader("Plan per region and metric")
        widgets.plan_table(plan, planned_data)
        sid = widgets.series_select(planned_data, plan.paths["series_id"].unique(), "Series to chart",
                                    key="demand_plan_series")
        st.plotly_chart(figures.plan_paths(**widgets.plan_chart_inputs(plan, planned_data, sid)),
                        key="demand_fig_plan")
        widgets.plan_downloads(plan)
        st.subheader("If one region fails (N−1)")
        widgets.n_minus_one_table(plan, planned_data)
        st.subheader("How often past plans were exceeded")
        widgets.breach_table(plan, planned_data)

with kpi_row:
    widgets.kpi_metrics(service.kpis(data, chosen, plan))
