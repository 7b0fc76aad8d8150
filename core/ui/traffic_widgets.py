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
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Generic, TypeVar

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
    local_time,
    servers_text,
    utc_offset,
)
from core.ui.errors import show_errors
from core.ui.format import column_formats
from core.ui.progress import progress_bar
from core.ui.resources import app_settings
from core.ui.result_store import ResultStore, result_store
from core.ui.upload import csv_upload

T = TypeVar("T")
_DATA_KEYS = ("traffic_time_col", "traffic_value_col", "traffic_freq", "traffic_test_start", "traffic_quantile",
              "traffic_zero_runs_as_traffic")
# Every percentage on the page is shown the same way (one decimal, or two where an SLO of 1% is compared).
LEADERBOARD_FORMATS = {"MAE": "%.1f", "RMSE": "%.1f", "sMAPE": "%.1f%%", "MASE": "%.3f", "80% coverage": "%.1f%%"}
POLICY_FORMATS = {"total cost $": "dollar", "server cost $": "dollar", "penalty $": "dollar", "server-hours": "%.1f",
                  "over-provisioned server-hours": "%.1f", "intervals overloaded": "%.2f%%",
                  "requests dropped": "%.2f%%", "scaling actions": "%d"}


def _store(name: str) -> ResultStore[Any]:
    """The process's bounded store ``name``: shared by every session, oldest results dropped first."""
    max_items, max_mb = config.RESULT_STORES[name]
    return result_store(name, max_items, max_mb)



@dataclass(frozen=True)
class _Kept(Generic[T]):
    """A result in a shared store: when it was computed, and a token naming the run that computed it
    (a session remembers its own tokens, so it can tell a result it computed from one it found)."""

    value: T
    computed_at: dt.datetime
    token: str


def _keep(value: T) -> _Kept[T]:
    kept = _Kept(value, dt.datetime.now().astimezone(), uuid.uuid4().hex)
    st.session_state.setdefault("traffic_computed_here", set()).add(kept.token)
    return kept


def _rerun_asked(kept: _Kept[Any], what: str, key: str, label: str) -> bool:
    """Say when ``kept`` came from the shared cache (another session computed it), and offer to compute it
    again; True when that was asked for."""
    asked = bool(st.button(label, key=key, icon=":material/refresh:"))
    if not asked and kept.token not in st.session_state.get("traffic_computed_here", set()):
        at = kept.computed_at
        day = "" if at.date() == dt.datetime.now().astimezone().date() else f" on {at:%a} {at.day} {at:%b}"
        st.caption(f":material/cached: {what} from the shared cache, computed at {at:%H:%M}{day} (server time) "
                   "for these data and settings, maybe by another visitor. Re-run it to compute it afresh.")
    return asked


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
        raw = show_errors(lambda: _bundled(str(app_settings().data_dir)))
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
    return show_errors(lambda: _loaded(raw.fingerprint, raw.frame, columns.time, columns.count, raw.name))


def granularity(loaded: LoadedTraffic) -> str:
    """A radio of the granularities the data allows (never finer than the file)."""
    options = loaded.frequencies
    if "traffic_freq" in st.session_state and st.session_state["traffic_freq"] not in options:
        st.session_state.pop("traffic_freq")
    default = options.index(config.DEFAULTS.freq) if config.DEFAULTS.freq in options else 0
    # Bound to the address (?traffic_freq=1h): a refresh or a shared link keeps it.
    return str(st.radio("Granularity", options, index=default, horizontal=True, key="traffic_freq",
                        help=config.HELP["freq"], bind="query-params"))


def zero_runs(loaded: LoadedTraffic) -> LoadedTraffic:
    """When the data has runs of zeros read as collection gaps: say so, and offer to keep them as traffic."""
    if not loaded.zero_runs:
        return loaded
    keep = st.checkbox("Treat long zero runs as traffic", key="traffic_zero_runs_as_traffic",
                       help=config.HELP["zero_runs"])
    what = "kept as traffic (zeros), as you chose" if keep else "treated as missing (a suspected collection gap)"
    for run in loaded.zero_runs:
        st.warning(f"{run.describe()}: {what}. Rule: {config.ZERO_RUN_RULE.describe()}.", icon=":material/warning:")
    return service.keep_zero_runs(loaded) if keep else loaded


def data_notes(series: TrafficSeries, loaded: LoadedTraffic) -> list[str]:
    """The series' notes for the overview, without the zero-run notes: the warning by the checkbox says those."""
    runs = tuple(run.describe() for run in loaded.zero_runs)
    return [note for note in series.notes if not (runs and note.startswith(runs))]


@st.cache_data(show_spinner="Resampling…", max_entries=16)
def _series(fingerprint: str, freq: str, _loaded: LoadedTraffic) -> TrafficSeries:
    return service.traffic_series(_loaded, freq)


def traffic_series(loaded: LoadedTraffic, freq: str) -> TrafficSeries | None:
    return show_errors(lambda: _series(loaded.fingerprint, freq, loaded))


def overview(series: TrafficSeries, fingerprint: str) -> TrafficOverview | None:
    """The overview of this data at this granularity, built once per process (bursts, tables)."""
    store: ResultStore[TrafficOverview] = _store("traffic-overviews")
    key = (fingerprint, series.freq, config.BURST_RULE)
    found = store.find(key)
    if found is None:
        found = show_errors(lambda: service.overview(series, config.BURST_RULE))
        if found is not None:
            store.put(key, found)
    return found


def overview_metrics(ov: TrafficOverview, freq: str) -> None:
    """The headline numbers of the series and what its intervals cover."""
    stats, unit = ov.stats, f"requests per {freq}"
    cols = st.columns(4)
    cols[0].metric("Mean per interval", f"{stats.mean:,.1f}")
    cols[1].metric("Peak per interval", f"{stats.peak:,.0f}", help=f"at {local_time(stats.peak_at)}")
    cols[2].metric("p95 per interval", f"{stats.p95:,.0f}")
    cols[3].metric("Busiest hour", f"{stats.busiest_hour:02d}:00",
                   help=f"mean {stats.busiest_hour_mean:,.1f} {unit} at that hour of day (local time)")
    st.caption(f"{stats.intervals:,} intervals of {freq} from {local_time(stats.start, zone=False)} to "
               f"{local_time(stats.end)}; "
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
    left, middle, right = st.columns(3)
    day = left.date_input("Test window starts", value=default_day, min_value=first, max_value=last,
                          key="traffic_test_start", help=config.HELP["test_start"])
    horizon = middle.number_input("Steps ahead to score", 1, min(config.DEFAULTS.max_horizon, series.season),
                                 config.DEFAULTS.horizon, key="traffic_horizon", help=config.HELP["horizon"])
    labels = list(config.REFIT_CHOICES)
    default_refit = labels.index(config.refit_label(config.default_refit_every(series.step)))
    refit = right.selectbox("Refit models", labels, index=default_refit, key="traffic_refit", help=config.HELP["refit"])
    models = st.multiselect("Models", config.MODEL_CHOICES, default=list(config.DEFAULTS.models), key="traffic_models",
                            help=config.HELP["models"])
    if set(models) & set(config.DEFAULTS.slow_models):
        st.caption(f":material/hourglass_top: {config.HELP['slow']}")
    if not models:
        st.info("Pick at least one model.")
        return None
    chosen_day = day if isinstance(day, dt.date) else default_day
    return show_errors(lambda: service.backtest_settings(series, test_start=chosen_day, horizon=int(horizon),
                                                    models=models, refit_every=str(refit)))


def backtest(series: TrafficSeries, fingerprint: str, chosen: BacktestSettings, extra_steps: int, *,
             key: str = "traffic_run") -> BacktestResult | None:
    """The stored backtest for these settings, or a Run button that trains once (with progress) and stores it."""
    store: ResultStore[_Kept[BacktestResult]] = _store("traffic-backtests")
    base = (fingerprint, series.freq, str(chosen.test_start), chosen.horizon, chosen.models, str(chosen.refit_every))
    need = max(chosen.horizon, extra_steps)
    found = store.find(base, need)
    if found is not None:
        if not _rerun_asked(found, "Backtest", "traffic_rerun", "Re-run backtest"):
            return found.value
    elif not st.button("Run backtest", type="primary", key=key, icon=":material/play_arrow:"):
        st.info("Pick the settings and click **Run backtest**: models train only when you ask.")
        return None
    status, progress = progress_bar("Training and backtesting…")
    started = time.perf_counter()
    try:
        result = service.backtest(series, chosen, extra_steps=need, progress=progress)
    except HeadroomError as exc:
        status.update(label="Backtest failed", state="error")
        st.error(exc.message)
        return None
    status.update(label=f"Backtest done in {time.perf_counter() - started:.1f} s", state="complete", expanded=False)
    kept = store.put(base, _keep(result), need)
    service.remember_backtest(app_settings(), result)
    if found is None:  # first run: offer the re-run from now on (after a re-run its button is drawn already)
        _rerun_asked(kept, "Backtest", "traffic_rerun", "Re-run backtest")
    return result


def backtest_caption(result: BacktestResult, chosen: BacktestSettings | None) -> str:
    """How the models were trained and the ensemble built, in one caption."""
    every = chosen.refit_every if chosen else None
    refits = ("never refit" if every is None else
              f"refit {config.refit_label(every)} on everything before each test block")
    return (f"Trained on data before {result.calibrated.fit_end:%Y-%m-%d %H:%M} and {refits}; scored on every interval "
            f"from {result.test_start:%Y-%m-%d %H:%M}. The ensemble weighs the models and naive by their errors over "
            "about the last hour (its weight column is each model's mean share) and widens its interval after misses "
            "(adaptive conformal); ensemble_stacked keeps the weights and widths fitted on the days before the test "
            "window. Multi-step forecasts are recursive. MASE < 1 beats the 1-day seasonal naive.")


def leaderboard_table(board: pd.DataFrame) -> pd.DataFrame:
    """Readable leaderboard: baselines marked in the model name, coverage in percent, a dash for the ensemble
    weight of a model that is not a member (the download keeps the raw numbers)."""
    baseline = board["baseline"].astype(bool)
    weights = board["ensemble_weight"].map(lambda w: "–" if pd.isna(w) else f"{w:.2f}")
    out = board.assign(model=board["model"].where(~baseline, board["model"] + " (baseline)"),
                       coverage=100.0 * board["coverage"], ensemble_weight=weights)
    return out.drop(columns="baseline").rename(columns={
        "mae": "MAE", "rmse": "RMSE", "smape": "sMAPE", "mase": "MASE", "coverage": f"{config.DEFAULTS.interval:.0%} coverage",
        "ensemble_weight": "ensemble weight", "n": "intervals"})


def time_table(frame: pd.DataFrame, formats: dict[str, str] | None = None, default: str = "%.1f") -> None:
    """A table whose ``timestamp`` column reads as local time ("Fri 1 Sep 1995, 00:00"), its UTC offset in the
    header; downloads keep ISO timestamps."""
    column_config = column_formats(frame, formats, default)
    zone = utc_offset(frame["timestamp"].iloc[0]) if len(frame) else ""
    column_config["timestamp"] = st.column_config.DatetimeColumn(f"local time ({zone})" if zone else "local time",
                                                                 format="ddd D MMM YYYY, HH:mm")
    st.dataframe(frame, hide_index=True, column_config=column_config)


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
    store: ResultStore[_Kept[ForwardForecast]] = _store("traffic-forwards")
    base = (fingerprint, series.freq, models)
    found = store.find(base, steps)
    if found is not None:
        if not _rerun_asked(found, "Forward forecast", f"{key}_rerun", "Re-run forecast"):
            return found.value.first(steps)
    elif not st.button(label, key=key, icon=":material/query_stats:"):
        return None
    status, progress = progress_bar("Training on all the data and forecasting forward…")
    try:
        result = service.forward(series, models, steps, progress=progress)
    except HeadroomError as exc:
        status.update(label="Forward forecast failed", state="error")
        st.error(exc.message)
        return None
    status.update(label="Forward forecast done", state="complete", expanded=False)
    kept = store.put(base, _keep(result), steps)
    if found is None:
        _rerun_asked(kept, "Forward forecast", f"{key}_rerun", "Re-run forecast")
    return result


# ---------------------------------------------------------------------------------------------- autoscaling
def _params_from_link() -> ScalingParams:
    """The scenario with the parameters a shared link carries (``?capacity_rps=0.5&boot_minutes=15``)."""
    given = {name: str(st.query_params[name]) for name in config.PARAM_FIELDS if name in st.query_params}
    if not given:
        return config.SCENARIO
    try:
        return service.policy_params_from_text(given)
    except HeadroomError as exc:
        st.error(f"The link's autoscaling parameters were not applied: {exc.message}")
        return config.SCENARIO


def _params_from_state() -> ScalingParams:
    stored = st.session_state.get("traffic_params")
    if stored is None:
        params = _params_from_link()
        st.session_state["traffic_params"] = asdict(params)
        return params
    return ScalingParams(**stored)


def _link_params(params: ScalingParams) -> None:
    """Keep the applied parameters that differ from the scenario in the address, so a refresh keeps them and
    the view can be shared as a link."""
    for name, text in service.policy_params_as_text(params).items():
        if text is None:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != text:
            st.query_params[name] = text


def scaling_params(series: TrafficSeries) -> ScalingParams:
    """The applied policy parameters (from this session, else from the link), priced at the series' interval."""
    params = _params_from_state()
    _link_params(params)
    return service.priced_for(params, series)


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


def tabs() -> Sequence[Any]:
    """Overview, Forecast, Autoscaling; the open one is kept in the address (?traffic_tab=Autoscaling)."""
    return st.tabs(list(config.TABS), key="traffic_tab", bind="query-params")


def policy_form(params: ScalingParams) -> None:
    """The policy parameters in one form, applied together on submit; below it, what the per-second
    capacity and the boot in minutes are in this granularity's intervals."""
    with st.form("traffic_policy_form"):
        columns = st.columns(5)
        for i, (name, (label, help_text)) in enumerate(config.PARAM_FIELDS.items()):
            value = getattr(params, name)
            if isinstance(getattr(config.SCENARIO, name), int):
                columns[i % 5].number_input(label, value=value, step=1, min_value=0, key=f"traffic_p_{name}",
                                            help=help_text)
            else:
                fmt, step = config.PARAM_INPUTS[name]
                columns[i % 5].number_input(label, value=float(value), step=step, min_value=0.0, format=fmt,
                                            key=f"traffic_p_{name}", help=help_text)
        st.form_submit_button("Apply parameters", on_click=_commit_params)
    st.caption(f"At this granularity: {params.describe_units()}.")
    if "traffic_params_error" in st.session_state:
        st.error(f"Parameters not applied: {st.session_state['traffic_params_error']}")


def slo(params: ScalingParams) -> ScalingParams:
    """The SLO control (share of intervals overloaded); ``params`` with it applied."""
    value = st.columns([1, 2])[0].number_input(
        "SLO: the most intervals you accept overloaded (%)", min_value=0.0, max_value=100.0,
        value=float(config.SCENARIO.slo_overload_pct), step=0.5, format="%.1f", key="traffic_slo",
        help=config.HELP["slo"], bind="query-params")
    return replace(params, slo_overload_pct=float(value))


def _study(result: BacktestResult, params: ScalingParams, quantile: float | None,
           like: ScalingStudy | None = None) -> ScalingStudy:
    store: ResultStore[ScalingStudy] = _store("traffic-studies")
    key: Hashable = (result.run_id, params, quantile)
    found = store.find(key)
    return found if found is not None else store.put(key, service.scaling_study(result, params, quantile=quantile,
                                                                                like=like))


def _q(quantile: float) -> str:
    return f"q{100 * quantile:.3g}"


def study(result: BacktestResult, params: ScalingParams) -> ScalingStudy | None:
    """Every policy replayed; the quantile selector defaults to the cheapest quantile that meets the SLO."""
    first = show_errors(lambda: _study(result, params, None))
    if first is None:
        return None
    options = [config.AUTO_QUANTILE, *(f"{100 * q:g}" for q in config.QUANTILE_OPTIONS)]
    if st.session_state.get("traffic_quantile") not in options:
        st.session_state.pop("traffic_quantile", None)
    auto = f"auto: {_q(first.slo_quantile)}, chosen on the calibration window"
    choice = st.selectbox("Forecast quantile the predictive policy provisions for", options, key="traffic_quantile",
                          format_func=lambda o: auto if o == config.AUTO_QUANTILE else f"q{o}",
                          help=config.HELP["quantile"], bind="query-params")
    best = first.frontier.set_index("quantile").loc[first.best_quantile]
    st.caption(f"Default quantile {first.choice.text}. Forecasts by the {first.model}, issued "
               f"{service.lead_text(service.forecast_lead(params), params)} ahead. For comparison only, "
               f"in hindsight on the test window: the cheapest quantile that meets the SLO there is "
               f"{_q(first.hindsight_quantile)}"
               + ("" if first.frontier_meets_slo else " (none does: the least overloaded)")
               + f", the cheapest ignoring the SLO {_q(first.best_quantile)} ({best['overloaded_pct']:.1f}% of "
               f"intervals overloaded); price-only (newsvendor) quantile: {_q(first.newsvendor)}.")
    if choice == config.AUTO_QUANTILE or abs(float(choice) / 100 - first.quantile) < 1e-12:
        return first
    return show_errors(lambda: _study(result, params, float(choice) / 100, like=first))


def policy_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The policies side by side, what decides first: the SLO, the cost and what it is compared with."""
    first = ["meets_slo", "cost_total", "overloaded_pct", "dropped_pct", "savings_vs_reactive_pct", "cost_vs_oracle"]
    summary = summary[first + [c for c in summary.columns if c not in first]].assign(
        # A policy that is not ranked has no comparison: a dash, not "None".
        savings_vs_reactive_pct=summary["savings_vs_reactive_pct"].map(lambda v: "–" if pd.isna(v) else f"{v:.1f}%"),
        cost_vs_oracle=summary["cost_vs_oracle"].map(lambda v: "–" if pd.isna(v) else f"{v:.3f}×"))
    return summary.reset_index().rename(columns={
        "cost_total": "total cost $", "cost_servers": "server cost $", "cost_penalty": "penalty $",
        "server_hours": "server-hours", "overloaded_pct": "intervals overloaded", "dropped_pct": "requests dropped",
        "overprovisioned_server_hours": "over-provisioned server-hours", "scaling_actions": "scaling actions",
        "savings_vs_reactive_pct": "savings vs reactive", "cost_vs_oracle": "cost / oracle", "meets_slo": "meets SLO",
        "problem": "not ranked because"})


def policy_verdicts(plan: ScalingStudy) -> None:
    """The headline (the cheapest policy that meets the SLO), a warning per policy that misses it or
    whose run says nothing, and why predictive + reactive follows reactive when it does."""
    st.markdown(plan.headline)
    for warning in plan.warnings:
        st.warning(warning, icon=":material/warning:")
    if plan.combined_note:
        st.info(plan.combined_note, icon=":material/info:")


def recommendation(ahead: ForwardForecast, current_servers: int, params: ScalingParams,
                   quantile: float) -> Recommendation | None:
    return show_errors(lambda: service.recommend_next_hour(ahead, current_servers, params, quantile))


def recommendation_metrics(rec: Recommendation, current_servers: int) -> None:
    """What you run, what the next interval and the peak need, when to act, and why."""
    first = rec.schedule["timestamp"].iloc[0]
    cols = st.columns(4)
    cols[0].metric("You run now", servers_text(current_servers),
                   help="The predictive policy's fleet at the end of the replayed window, taken as what you run.")
    cols[1].metric("Needed now", servers_text(rec.servers_now), help=f"For the interval from {local_time(first)}.")
    cols[2].metric("Needed at the peak", servers_text(rec.peak_servers), help="The most the next hour needs.")
    act = "no action" if rec.action == "hold" else "now" if rec.order_at <= first else f"{rec.order_at:%H:%M}"
    cols[3].metric("Act by", act, help=f"{local_time(rec.order_at)}, the data's local time." if rec.action != "hold"
                   else "The fleet you run covers the next hour.")
    st.markdown(rec.reason)


__all__ = ["LEADERBOARD_FORMATS", "POLICY_FORMATS", "backtest", "backtest_settings", "burst_caption", "chart_models",
           "column_picker", "data_notes", "data_source", "forward", "forward_steps", "granularity", "leaderboard_table",
           "load_traffic", "overview", "overview_metrics", "policy_form", "policy_table", "recommendation",
           "policy_verdicts", "recommendation_metrics", "scaling_params", "slo", "study", "tabs", "time_table", "traffic_series",
           "zero_runs"]
