"""Widgets of the Traffic & Autoscaling page: Streamlit only, the work is in ``core.traffic.service``.

Each widget returns a typed value (or None after showing the user why); a ``HeadroomError`` from
the service is shown with ``st.error``, so the page stays a short story. Defaults, limits and help
texts come from ``core.traffic.config`` (read at call time, so tests can patch them). Training
happens only on a button click; results are kept per process in bounded stores
(``core.ui.result_store``) keyed by the data fingerprint and the settings, so a chart option
never retrains and a rerun rebuilds nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Hashable
from dataclasses import asdict
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from core.errors import HeadroomError
from core.traffic import config, service
from core.traffic.service import (
    BacktestResult,
    BacktestSettings,
    ForwardForecast,
    LoadedTraffic,
    RawTraffic,
    Recommendation,
    ScalingParams,
    ScalingStudy,
    TrafficColumns,
    TrafficOverview,
    TrafficSeries,
)
from core.ui.resources import app_settings
from core.ui.result_store import ResultStore, result_store
from core.ui.upload import csv_upload

T = TypeVar("T")
_DATA_KEYS = ("traffic_time_col", "traffic_value_col", "traffic_freq", "traffic_test_start", "traffic_quantile")
LEADERBOARD_FORMATS = {"MAE": "%.1f", "RMSE": "%.1f", "sMAPE %": "%.1f", "MASE": "%.3f", "80% coverage": "percent",
                       "ensemble weight": "%.2f"}
POLICY_FORMATS = {"total cost $": "dollar", "server cost $": "dollar", "penalty $": "dollar", "server-hours": "%.1f",
                  "over-provisioned server-hours": "%.1f", "savings vs reactive %": "%.1f", "cost / oracle": "%.3f×"}


def _store(name: str) -> ResultStore[Any]:
    """The process's bounded store ``name``: shared by every session, oldest results dropped first."""
    max_items, max_mb = config.RESULT_STORES[name]
    return result_store(name, max_items, max_mb)


def _shown(call: Callable[[], T]) -> T | None:
    """``call()``, or None after showing its ``HeadroomError`` to the user."""
    try:
        return call()
    except HeadroomError as exc:
        st.error(exc.message)
        return None


def _progress_bar(label: str) -> tuple[Any, Callable[[float, str], None]]:
    """A status box with a progress bar, and the ``progress(fraction, text)`` callback core reports to."""
    status = st.status(label, expanded=True)
    bar = status.progress(0.0, text="starting")

    def progress(frac: float, text: str) -> None:
        bar.progress(min(max(float(frac), 0.0), 1.0), text=text)

    return status, progress


# ---------------------------------------------------------------------------------------------- data
@st.cache_data(show_spinner="Reading the bundled traffic…", max_entries=2)
def _bundled(data_dir: str) -> RawTraffic:
    return service.bundled_traffic(data_dir)


def _forget_data_widgets(fingerprint: str) -> None:
    """New data: drop the widget values that belong to the old data (columns, test start, …)."""
    if st.session_state.get("traffic_data_fp") != fingerprint:
        for key in _DATA_KEYS:
            st.session_state.pop(key, None)
        st.session_state["traffic_data_fp"] = fingerprint


def data_source() -> RawTraffic | None:
    """The bundled NASA file (default) or an uploaded CSV, read and validated."""
    choice = st.radio("Data", config.SOURCES, horizontal=True, key="traffic_source")
    if choice == config.SOURCES[0]:
        raw = _shown(lambda: _bundled(str(app_settings().data_dir)))
        if raw is None:
            return None
    else:
        frame = csv_upload("CSV of request counts", key="traffic_upload", help=config.HELP["upload"])
        if frame is None:
            st.info("Upload a CSV with a timestamp and a request-count column to start.")
            return None
        raw = service.raw_traffic(frame, getattr(frame.attrs.get("csv"), "name", None) or "upload")
    _forget_data_widgets(raw.fingerprint)
    return raw


@st.cache_data(show_spinner=False, max_entries=8)
def _detected(fingerprint: str, _frame: pd.DataFrame) -> TrafficColumns:
    return service.detect_columns(_frame)


def _pick(label: str, columns: list[str], detected: str | None, key: str) -> str | None:
    options = [config.AUTO, *columns]
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    chosen = st.selectbox(label, options, key=key,
                          format_func=lambda c: f"auto-detect ({detected or 'none found'})" if c == config.AUTO else c)
    return None if chosen == config.AUTO else chosen


def column_picker(raw: RawTraffic) -> TrafficColumns:
    """Timestamp and count columns: detected once per data, or picked by the user."""
    columns = [str(c) for c in raw.frame.columns]
    detected = _detected(raw.fingerprint, raw.frame)
    left, right = st.columns(2)
    with left:
        time_col = _pick("Timestamp column", columns, detected.time, "traffic_time_col") or detected.time
    count = detected.count if time_col == detected.time else service.detect_columns(raw.frame, time_col=time_col).count
    with right:
        value_col = _pick("Request-count column", columns, count, "traffic_value_col") or count
    return TrafficColumns(time_col, value_col)


@st.cache_data(show_spinner=False, max_entries=8)
def _loaded(fingerprint: str, _frame: pd.DataFrame, time_col: str | None, value_col: str | None,
            name: str) -> LoadedTraffic:
    return service.load_traffic(_frame, name=name, time_col=time_col, value_col=value_col, fingerprint=fingerprint)


def load_traffic(raw: RawTraffic, columns: TrafficColumns) -> LoadedTraffic | None:
    """Validated counts on the file's own grid; an input problem is shown and None returned."""
    return _shown(lambda: _loaded(raw.fingerprint, raw.frame, columns.time, columns.count, raw.name))


def granularity(loaded: LoadedTraffic) -> str:
    """A radio of the granularities the data allows (never finer than the file)."""
    options = loaded.frequencies
    if st.session_state.get("traffic_freq") not in options:
        st.session_state["traffic_freq"] = config.DEFAULTS.freq if config.DEFAULTS.freq in options else options[0]
    return str(st.radio("Granularity", options, horizontal=True, key="traffic_freq", help=config.HELP["freq"]))


@st.cache_data(show_spinner="Resampling…", max_entries=16)
def _series(fingerprint: str, freq: str, _loaded: LoadedTraffic) -> TrafficSeries:
    return service.traffic_series(_loaded, freq)


def traffic_series(loaded: LoadedTraffic, freq: str) -> TrafficSeries | None:
    return _shown(lambda: _series(loaded.fingerprint, freq, loaded))


def overview(series: TrafficSeries, fingerprint: str) -> TrafficOverview | None:
    """The overview of this data at this granularity, built once per process (bursts, tables)."""
    store: ResultStore[TrafficOverview] = _store("traffic-overviews")
    key = (fingerprint, series.freq, config.BURST_RULE)
    found = store.find(key)
    if found is None:
        found = _shown(lambda: service.overview(series, config.BURST_RULE))
        if found is not None:
            store.put(key, found)
    return found


def overview_metrics(ov: TrafficOverview, freq: str) -> None:
    """The headline numbers of the series and what its intervals cover."""
    stats, unit = ov.stats, f"requests per {freq}"
    cols = st.columns(4)
    cols[0].metric("Mean per interval", f"{stats.mean:,.1f}")
    cols[1].metric("Peak per interval", f"{stats.peak:,.0f}", help=f"at {stats.peak_at}")
    cols[2].metric("p95 per interval", f"{stats.p95:,.0f}")
    cols[3].metric("Busiest hour", f"{stats.busiest_hour:02d}:00",
                   help=f"mean {stats.busiest_hour_mean:,.1f} {unit} at that hour of day (local time)")
    st.caption(f"{stats.intervals:,} intervals of {freq} from {stats.start} to {stats.end}; "
               f"{stats.missing_intervals:,} with no data (shaded as outages), "
               f"{stats.partial_intervals:,} partial (only some of their data present: the sum undercounts).")


def burst_caption(ov: TrafficOverview) -> str:
    flagged = "".join(f"; {n:,} intervals with {c} set in the file" for c, n in ov.flag_counts.items())
    return f"{ov.burst_count:,} bursts marked. Rule: {ov.rule_text}{flagged}."


# ---------------------------------------------------------------------------------------------- forecast
def backtest_settings(series: TrafficSeries) -> BacktestSettings | None:
    """Test start (a day, local time), steps ahead and models."""
    first, default_day, last = service.test_days(series)
    stored = st.session_state.get("traffic_test_start")
    if stored is not None and not first <= stored <= last:
        st.session_state.pop("traffic_test_start")
    left, right = st.columns(2)
    day = left.date_input("Test window starts", value=default_day, min_value=first, max_value=last,
                          key="traffic_test_start", help=config.HELP["test_start"])
    horizon = right.number_input("Steps ahead to score", 1, min(config.DEFAULTS.max_horizon, series.season),
                                 config.DEFAULTS.horizon, key="traffic_horizon", help=config.HELP["horizon"])
    models = st.multiselect("Models", config.MODEL_CHOICES, default=list(config.DEFAULTS.models), key="traffic_models",
                            help=config.HELP["models"])
    if set(models) & set(config.DEFAULTS.slow_models):
        st.caption(f":material/hourglass_top: {config.HELP['slow']}")
    if not models:
        st.info("Pick at least one model.")
        return None
    chosen_day = day if isinstance(day, dt.date) else default_day
    return _shown(lambda: service.backtest_settings(series, test_start=chosen_day, horizon=int(horizon),
                                                    models=models))


def backtest(series: TrafficSeries, fingerprint: str, chosen: BacktestSettings, extra_steps: int, *,
             key: str = "traffic_run") -> BacktestResult | None:
    """The stored backtest for these settings, or a Run button that trains once (with progress) and stores it."""
    store: ResultStore[BacktestResult] = _store("traffic-backtests")
    base = (fingerprint, series.freq, str(chosen.test_start), chosen.horizon, chosen.models)
    need = max(chosen.horizon, extra_steps)
    found = store.find(base, need)
    if found is not None:
        return found
    if not st.button("Run backtest", type="primary", key=key, icon=":material/play_arrow:"):
        st.info("Pick the settings and click **Run backtest**: models train only when you ask.")
        return None
    status, progress = _progress_bar("Training and backtesting…")
    started = time.perf_counter()
    try:
        result = service.backtest(series, chosen, extra_steps=need, progress=progress)
    except HeadroomError as exc:
        status.update(label="Backtest failed", state="error")
        st.error(exc.message)
        return None
    status.update(label=f"Backtest done in {time.perf_counter() - started:.1f} s", state="complete", expanded=False)
    store.put(base, result, need)
    service.remember_backtest(app_settings(), result)
    return result


def leaderboard_table(board: pd.DataFrame) -> pd.DataFrame:
    """Readable leaderboard: baselines marked in the model name."""
    baseline = board["baseline"].astype(bool)
    out = board.assign(model=board["model"].where(~baseline, board["model"] + " (baseline)"))
    return out.drop(columns="baseline").rename(columns={
        "mae": "MAE", "rmse": "RMSE", "smape": "sMAPE %", "mase": "MASE", "coverage": "80% coverage",
        "ensemble_weight": "ensemble weight", "n": "intervals"})


def chart_models(result: BacktestResult) -> list[str]:
    """Models to draw: a multiselect that never retrains (the ensemble and the best baseline by default)."""
    options = result.model_names
    kept = [m for m in st.session_state.get("traffic_chart_models", []) if m in options]
    if "traffic_chart_models" in st.session_state:
        st.session_state["traffic_chart_models"] = kept
        return list(st.multiselect("Models on the chart", options, key="traffic_chart_models"))
    default = [m for m in ("ensemble", "seasonal_naive") if m in options] or options[:2]
    return list(st.multiselect("Models on the chart", options, default=default, key="traffic_chart_models"))


def forward_steps(series: TrafficSeries) -> int:
    limit = service.forward_step_limit(series)
    if "traffic_forward_steps" in st.session_state and st.session_state["traffic_forward_steps"] > limit:
        st.session_state.pop("traffic_forward_steps")
    help_text = config.HELP["forward_steps"] + (f" This history is short: at most {limit} intervals (a quarter of "
                                                "it) can be calibrated." if limit < series.season else "")
    if limit == 1:
        st.caption("One interval ahead: the history is too short for more.")
        return 1
    return int(st.slider("Intervals ahead", 1, limit, min(limit, 288), key="traffic_forward_steps", help=help_text))


def forward(series: TrafficSeries, fingerprint: str, chosen: BacktestSettings | None, steps: int, *, key: str,
            label: str = "Forecast forward") -> ForwardForecast | None:
    """A stored forward forecast covering ``steps`` intervals (by the backtest's models), or a button that makes one."""
    models = service.forward_models(chosen.models if chosen else ())
    store: ResultStore[ForwardForecast] = _store("traffic-forwards")
    base = (fingerprint, series.freq, models)
    found = store.find(base, steps)
    if found is not None:
        return found.first(steps)
    if not st.button(label, key=key, icon=":material/query_stats:"):
        return None
    status, progress = _progress_bar("Training on all the data and forecasting forward…")
    try:
        result = service.forward(series, models, steps, progress=progress)
    except HeadroomError as exc:
        status.update(label="Forward forecast failed", state="error")
        st.error(exc.message)
        return None
    status.update(label="Forward forecast done", state="complete", expanded=False)
    return store.put(base, result, steps)


# ---------------------------------------------------------------------------------------------- autoscaling
def _params_from_state() -> ScalingParams:
    stored = st.session_state.get("traffic_params")
    return ScalingParams(**stored) if stored else config.SCENARIO


def scaling_params(series: TrafficSeries) -> ScalingParams:
    """The committed policy parameters, priced at the series' interval length."""
    return service.priced_for(_params_from_state(), series)


def _commit_params() -> None:
    """Form callback: runs before the script, so the whole rerun sees the new parameters."""
    changes = {name: st.session_state[f"traffic_p_{name}"] for name in config.PARAM_FIELDS
               if f"traffic_p_{name}" in st.session_state}
    try:
        params = service.policy_params(_params_from_state(), changes)
    except HeadroomError as exc:
        st.session_state["traffic_params_error"] = exc.message
        return
    st.session_state.pop("traffic_params_error", None)
    st.session_state["traffic_params"] = asdict(params)


def policy_form(params: ScalingParams) -> None:
    """The policy parameters in one form; applied together on submit."""
    with st.form("traffic_policy_form"):
        columns = st.columns(5)
        for i, (name, (label, help_text)) in enumerate(config.PARAM_FIELDS.items()):
            value = getattr(params, name)
            is_int = isinstance(getattr(config.SCENARIO, name), int)
            step = 1 if is_int else (0.001 if value < 0.01 else 0.01 if value < 1 else 1.0)
            columns[i % 5].number_input(label, value=value, step=step, min_value=0 if is_int else 0.0,
                                        format=None if is_int else ("%.4f" if value < 0.01 else "%.2f"),
                                        key=f"traffic_p_{name}", help=help_text)
        st.form_submit_button("Apply parameters", on_click=_commit_params)
    if "traffic_params_error" in st.session_state:
        st.error(f"Parameters not applied: {st.session_state['traffic_params_error']}")


def _study(result: BacktestResult, params: ScalingParams, quantile: float | None) -> ScalingStudy:
    store: ResultStore[ScalingStudy] = _store("traffic-studies")
    key: Hashable = (result.run_id, params, quantile)
    found = store.find(key)
    return found if found is not None else store.put(key, service.scaling_study(result, params, quantile=quantile))


def study(result: BacktestResult, params: ScalingParams) -> ScalingStudy | None:
    """Every policy replayed; the quantile selector defaults to the frontier's cost-optimal quantile."""
    first = _shown(lambda: _study(result, params, None))
    if first is None:
        return None
    options = list(config.QUANTILE_OPTIONS)
    if st.session_state.get("traffic_quantile") not in options:
        st.session_state["traffic_quantile"] = min(options, key=lambda q: abs(q - first.best_quantile))
    quantile = st.select_slider("Forecast quantile the predictive policy provisions for", options,
                                key="traffic_quantile", format_func=lambda q: f"{q:.1%}".replace(".0%", "%"),
                                help=config.HELP["quantile"])
    st.caption(f"Cost-optimal quantile on this window: {first.best_quantile:.1%}; cheapest that overloads no more "
               f"often than reactive ({first.reactive_overloaded_pct:.1f}% of intervals): {first.safe_quantile:.1%}; "
               f"price-only (newsvendor) quantile: {first.quantile:.1%}. Forecasts by the {first.model}, issued "
               f"{max(1, params.boot_delay)} interval(s) ahead.")
    if abs(first.quantile - quantile) < 1e-12:
        return first
    return _shown(lambda: _study(result, params, float(quantile)))


def policy_table(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.reset_index().rename(columns={
        "cost_total": "total cost $", "cost_servers": "server cost $", "cost_penalty": "penalty $",
        "server_hours": "server-hours", "overloaded_pct": "% intervals overloaded", "dropped_pct": "% requests dropped",
        "overprovisioned_server_hours": "over-provisioned server-hours", "scaling_actions": "scaling actions",
        "savings_vs_reactive_pct": "savings vs reactive %", "cost_vs_oracle": "cost / oracle"})


def recommendation(ahead: ForwardForecast, current_servers: int, params: ScalingParams,
                   quantile: float) -> Recommendation | None:
    return _shown(lambda: service.recommend_next_hour(ahead, current_servers, params, quantile))


def recommendation_metrics(rec: Recommendation, current_servers: int) -> None:
    cols = st.columns(3)
    cols[0].metric("Servers now (you run)", f"{rec.servers_now} ({current_servers})")
    cols[1].metric("Servers at the peak", rec.peak_servers)
    cols[2].metric("Act by", f"{rec.order_at:%H:%M}", help=f"{rec.order_at:%Y-%m-%d %H:%M}, local time")
    st.markdown(f"{rec.reason} The current fleet is the predictive policy's last one in the replay.")


__all__ = ["LEADERBOARD_FORMATS", "POLICY_FORMATS", "backtest", "backtest_settings", "burst_caption", "chart_models",
           "column_picker", "data_source", "forward", "forward_steps", "granularity", "leaderboard_table",
           "load_traffic", "overview", "overview_metrics", "policy_form", "policy_table", "recommendation",
           "recommendation_metrics", "scaling_params", "study", "traffic_series"]
