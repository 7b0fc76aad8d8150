"""Widgets and cached calls of the Traffic & Autoscaling page.

Each widget returns a typed value (or None after showing the user why); errors from core
arrive as ``HeadroomError`` and are shown with ``st.error``, so the page stays a short story.
Training happens only on a button click; results are kept per process in ``st.cache_resource``
stores keyed by the data fingerprint and the settings, so a chart option never retrains.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Generic, TypeVar

import pandas as pd
import streamlit as st

from core.errors import HeadroomError, InputError
from core.io import read_csv
from core.io.timestamps import detect_time_column
from core.ml.fingerprint import data_fingerprint
from core.traffic.autoscale import Recommendation, ScalingParams, cost_optimal_quantile, next_hour_recommendation
from core.traffic.backtest import BacktestResult, default_test_start, forward_forecast, run_backtest, to_local
from core.traffic.models import BASELINES, MODEL_NAMES
from core.traffic.overview import BUNDLED_FILE, record_backtest
from core.traffic.planning import FRONTIER_QUANTILES, ScalingStudy, scaling_study
from core.traffic.series import (
    BurstRule,
    TrafficSeries,
    available_frequencies,
    detect_bursts,
    detect_count_column,
    load_counts,
    resample,
)
from core.ui.resources import app_settings
from core.ui.upload import csv_upload


# ------------------------------------------------------------------------------------ defaults and words
@dataclass(frozen=True)
class PageDefaults:
    freq: str = "5m"
    horizon: int = 1
    max_horizon: int = 12  # one hour at 5 minutes
    models: tuple[str, ...] = ("seasonal_naive", "naive", "lightgbm", "xgboost")
    slow_models: tuple[str, ...] = ("prophet", "hybrid")
    interval: float = 0.8
    forward_history_days: int = 2
    kept_results: int = 6  # backtests / forward forecasts kept per process
    # One OpenMP thread per GBM: Streamlit trains in its script thread beside other sessions, and with
    # two spinning OpenMP threads on two shared cores LightGBM ran 10× slower there (measured: 94 s vs 4 s).
    n_jobs: int = 1


DEFAULTS = PageDefaults()
CALIBRATION_DAYS = 3.0  # core.traffic.backtest's default calibration window
SCENARIO = ScalingParams()  # the scenario: capacity 50, boot delay 2, $0.10/server-hour, $0.001/drop
FORWARD_QUANTILES: tuple[float, ...] = tuple(sorted({0.1, 0.5, 0.8, 0.9, 0.95, 0.99, *FRONTIER_QUANTILES}))
SOURCES = ("Bundled NASA traffic (Jul–Aug 1995)", "Upload CSV")
AUTO = "(auto-detect)"
HELP = {
    "upload": "A CSV with a timestamp column (ISO text with or without offset, or epoch seconds) and a request-count "
              "column (request_count, requests_count, requests, count, y or value). Other numeric columns are kept.",
    "freq": "Counts are summed into intervals of this size. An interval with no data stays missing, never zero; "
            "an interval with only part of its data is flagged as partial.",
    "test_start": "Models train on everything before this day and are scored on everything from it on. "
                  "The NASA default is the published split: test from 1995-08-23 (local time).",
    "horizon": "Score forecasts issued this many intervals ahead (multi-step forecasts are recursive).",
    "models": "seasonal naive (same time yesterday) and naive (last value) are the baselines; the ensemble combines "
              "the other models with weights fitted (non-negative least squares) on the last days before the test "
              "window.",
    "slow": "Prophet takes a while to fit; the hybrid also imports TensorFlow (~5 s, ~700 MB) and trains an LSTM: "
            "expect minutes, not seconds.",
    "forward_steps": "How far past the end of the data to forecast, up to one day.",
    "quantile": "The predictive policy provisions for this quantile of the forecast. Higher = fewer overloads, more "
                "servers. The default is the cheapest point of the frontier on this test window (hindsight); the "
                "price-only newsvendor quantile is given beside it.",
}
PARAM_FIELDS: dict[str, tuple[str, str]] = {  # field -> (label, help)
    "capacity_per_server": ("Capacity per server", "Requests one server serves per interval (at the granularity "
                                                   "chosen above)."),
    "min_servers": ("Min servers", "The fleet never shrinks below this."),
    "max_servers": ("Max servers", "The fleet never grows above this; demand above max × capacity is dropped."),
    "boot_delay": ("Boot delay (intervals)", "Intervals between ordering a server and it serving traffic. The "
                                             "predictive policy looks ahead by this many intervals."),
    "scale_in_window": ("Scale-in window (intervals)", "Reactive policy: scale in only to the highest recommendation "
                                                       "of this many past intervals (HPA stabilisation window)."),
    "cooldown": ("Cooldown (intervals)", "Reactive policy: minimum intervals between two scaling actions."),
    "target_utilisation": ("Target utilisation", "Reactive policy: desired = ceil(current × utilisation / target)."),
    "tolerance": ("Tolerance", "Reactive policy: no action while |utilisation / target − 1| ≤ tolerance."),
    "price_per_server_hour": ("Price per server-hour ($)", "Booting servers are paid too."),
    "penalty_per_dropped": ("Penalty per dropped request ($)", "The SLA cost of a request beyond capacity."),
}
_DATA_KEYS = ("traffic_time_col", "traffic_value_col", "traffic_freq", "traffic_test_start", "traffic_quantile")


# ---------------------------------------------------------------------------------------------- data
@dataclass
class RawData:
    frame: pd.DataFrame
    name: str
    fingerprint: str


@dataclass
class LoadedTraffic:
    counts: pd.Series  # at the file's own step, NaN = no data
    extra: pd.DataFrame
    notes: list[str]
    name: str
    fingerprint: str  # of the raw data and the chosen columns


@st.cache_data(show_spinner="Reading the bundled traffic…", max_entries=2)
def _bundled(path: str) -> tuple[pd.DataFrame, str]:
    frame = read_csv(path)
    return frame, data_fingerprint(frame)


def _forget_data_widgets(fingerprint: str) -> None:
    """New data: drop the widget values that belong to the old data (columns, test start, …)."""
    if st.session_state.get("traffic_data_fp") != fingerprint:
        for key in _DATA_KEYS:
            st.session_state.pop(key, None)
        st.session_state["traffic_data_fp"] = fingerprint


def data_source() -> RawData | None:
    """The bundled NASA file (default) or an uploaded CSV, read and validated."""
    choice = st.radio("Data", SOURCES, horizontal=True, key="traffic_source")
    if choice == SOURCES[0]:
        path = app_settings().data_dir / BUNDLED_FILE
        if not path.exists():
            st.error(f"The bundled file {BUNDLED_FILE} is missing from {app_settings().data_dir}; upload a CSV.")
            return None
        frame, fingerprint = _bundled(str(path))
        raw = RawData(frame, BUNDLED_FILE, fingerprint)
    else:
        frame = csv_upload("CSV of request counts", key="traffic_upload", help=HELP["upload"])
        if frame is None:
            st.info("Upload a CSV with a timestamp and a request-count column to start.")
            return None
        name = getattr(frame.attrs.get("csv"), "name", None) or "upload"
        raw = RawData(frame, name, data_fingerprint(frame))
    _forget_data_widgets(raw.fingerprint)
    return raw


def _pick(label: str, columns: list[str], detected: str | None, key: str) -> str | None:
    options = [AUTO, *columns]
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    chosen = st.selectbox(label, options, key=key,
                          format_func=lambda c: f"auto-detect ({detected or 'none found'})" if c == AUTO else c)
    return None if chosen == AUTO else chosen


def column_picker(raw: RawData) -> tuple[str | None, str | None]:
    """Timestamp and count columns: auto-detected by default, or picked by the user."""
    columns = [str(c) for c in raw.frame.columns]
    detected_time = detect_time_column(raw.frame) if len(raw.frame) else None
    left, right = st.columns(2)
    with left:
        time_col = _pick("Timestamp column", columns, detected_time, "traffic_time_col")
    with right:
        value_col = _pick("Request-count column", columns,
                          detect_count_column(raw.frame, time_col or detected_time), "traffic_value_col")
    return time_col, value_col


@st.cache_data(show_spinner=False, max_entries=8)
def _counts(fingerprint: str, _frame: pd.DataFrame, time_col: str | None, value_col: str | None,
            name: str) -> tuple[pd.Series, pd.DataFrame, list[str]]:
    return load_counts(_frame, time_col=time_col, value_col=value_col, file=name)


def load_traffic(raw: RawData, time_col: str | None, value_col: str | None) -> LoadedTraffic | None:
    """Validated counts on the file's own grid; an input problem is shown and None returned."""
    if value_col is not None and value_col == (time_col or detect_time_column(raw.frame)):
        st.error(f"file '{raw.name}': column '{value_col}' is the timestamp column; pick another request-count column.")
        return None
    try:
        counts, extra, notes = _counts(raw.fingerprint, raw.frame, time_col, value_col, raw.name)
    except HeadroomError as exc:
        st.error(exc.message)
        return None
    return LoadedTraffic(counts, extra, list(notes), raw.name, f"{raw.fingerprint}:{time_col}:{value_col}")


def granularity(loaded: LoadedTraffic) -> str | None:
    """A radio of the granularities the data allows (never finer than the file)."""
    native = loaded.counts.index.to_series().diff().mode().iloc[0] if len(loaded.counts) > 1 else pd.Timedelta(0)
    options = available_frequencies(native)
    if not options:
        st.error(f"file '{loaded.name}': its {native / pd.Timedelta('1min'):g}-minute step does not divide into "
                 "1m, 5m, 15m or 1h intervals.")
        return None
    if st.session_state.get("traffic_freq") not in options:
        st.session_state["traffic_freq"] = DEFAULTS.freq if DEFAULTS.freq in options else options[0]
    return str(st.radio("Granularity", options, horizontal=True, key="traffic_freq", help=HELP["freq"]))


@st.cache_data(show_spinner="Resampling…", max_entries=16)
def _series(fingerprint: str, freq: str, _loaded: LoadedTraffic) -> TrafficSeries:
    return resample(_loaded.counts, _loaded.extra, freq, source=_loaded.name, notes=_loaded.notes)


@st.cache_data(show_spinner=False, max_entries=16)
def bursts(fingerprint: str, freq: str, _series: TrafficSeries, rule: BurstRule) -> pd.Series:
    """The burst flags of a series, computed once per data, granularity and rule (a rolling
    median over a year of minutes takes a noticeable part of a second on every rerun)."""
    return detect_bursts(_series.y, rule)


def traffic_series(loaded: LoadedTraffic, freq: str) -> TrafficSeries | None:
    try:
        series = _series(loaded.fingerprint, freq, loaded)
    except HeadroomError as exc:
        st.error(exc.message)
        return None
    if series.y.notna().sum() < 3:
        st.error(f"file '{loaded.name}': fewer than 3 intervals with data at {freq}.")
        return None
    return series


# ---------------------------------------------------------------------------------------------- stores
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Store(Generic[K, V]):
    """Results by (settings key, size): a lookup accepts any stored size >= the one needed."""

    def __init__(self, limit: int) -> None:
        self.items: OrderedDict[tuple[K, int], V] = OrderedDict()
        self.limit = limit

    def find(self, key: K, need: int) -> V | None:
        sizes = [size for (k, size) in self.items if k == key and size >= need]
        return self.items[(key, min(sizes))] if sizes else None

    def put(self, key: K, size: int, value: V) -> None:
        self.items[(key, size)] = value
        while len(self.items) > self.limit:
            self.items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _backtests() -> _Store[tuple[Any, ...], BacktestResult]:
    return _Store(DEFAULTS.kept_results)


@st.cache_resource(show_spinner=False)
def _forwards() -> _Store[tuple[Any, ...], pd.DataFrame]:
    return _Store(DEFAULTS.kept_results)


def _progress_bar(label: str) -> tuple[Any, Any]:
    status = st.status(label, expanded=True)
    bar = status.progress(0.0, text="starting")
    return status, lambda frac, text: bar.progress(min(max(float(frac), 0.0), 1.0), text=text)


# ---------------------------------------------------------------------------------------------- forecast
@dataclass(frozen=True)
class BacktestSettings:
    test_start: pd.Timestamp
    horizon: int
    models: tuple[str, ...]


def backtest_settings(series: TrafficSeries) -> BacktestSettings | None:
    """Test start (a day, local time), steps ahead and models."""
    y = series.y
    default = default_test_start(y)
    first, last = (y.index[0] + series.step).date(), y.index[-1].date()
    stored = st.session_state.get("traffic_test_start")
    if stored is not None and not first <= stored <= last:
        st.session_state.pop("traffic_test_start")
    left, right = st.columns(2)
    day = left.date_input("Test window starts", value=max(min(default.date(), last), first), min_value=first,
                          max_value=last, key="traffic_test_start", help=HELP["test_start"])
    horizon = right.number_input("Steps ahead to score", 1, min(DEFAULTS.max_horizon, series.season), DEFAULTS.horizon,
                                 key="traffic_horizon", help=HELP["horizon"])
    models = st.multiselect("Models", MODEL_NAMES, default=list(DEFAULTS.models), key="traffic_models",
                            help=HELP["models"])
    if set(models) & set(DEFAULTS.slow_models):
        st.caption(f":material/hourglass_top: {HELP['slow']}")
    if not models:
        st.info("Pick at least one model.")
        return None
    start = default if day == default.date() else to_local(pd.Timestamp(day), y)
    return BacktestSettings(start, int(horizon), tuple(models))


def backtest(series: TrafficSeries, fingerprint: str, chosen: BacktestSettings, extra_steps: int, *,
             key: str = "traffic_run") -> BacktestResult | None:
    """The stored backtest for these settings, or a Run button that trains once (with progress) and stores it."""
    store = _backtests()
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
        result = run_backtest(series, test_start=chosen.test_start, horizon=chosen.horizon, models=chosen.models,
                              extra_steps=need, interval=DEFAULTS.interval, progress=progress,
                              n_jobs=DEFAULTS.n_jobs)
    except HeadroomError as exc:
        status.update(label="Backtest failed", state="error")
        st.error(exc.message)
        return None
    status.update(label=f"Backtest done in {time.perf_counter() - started:.1f} s", state="complete", expanded=False)
    store.put(base, need, result)
    board = result.leaderboard(chosen.horizon)
    baseline = board.loc[board["model"] == "seasonal_naive", "rmse"]
    record_backtest(app_settings(), {"source": series.source, "freq": series.freq, "best_model": board["model"].iloc[0],
                                     "rmse": board["rmse"].iloc[0],
                                     "baseline_rmse": baseline.iloc[0] if len(baseline) else float("nan")})
    return result


LEADERBOARD_FORMATS = {"MAE": "%.1f", "RMSE": "%.1f", "sMAPE %": "%.1f", "MASE": "%.3f", "80% coverage": "percent",
                       "ensemble weight": "%.2f"}
POLICY_FORMATS = {"total cost $": "dollar", "server cost $": "dollar", "penalty $": "dollar", "server-hours": "%.1f",
                  "over-provisioned server-hours": "%.1f", "savings vs reactive %": "%.1f", "cost / oracle": "%.3f×"}


def leaderboard_table(board: pd.DataFrame) -> pd.DataFrame:
    """Readable leaderboard: baselines marked in the model name."""
    baseline = board["baseline"].astype(bool)
    out = board.assign(model=board["model"].where(~baseline, board["model"] + " (baseline)"))
    return out.drop(columns="baseline").rename(columns={
        "mae": "MAE", "rmse": "RMSE", "smape": "sMAPE %", "mase": "MASE", "coverage": "80% coverage",
        "ensemble_weight": "ensemble weight", "n": "intervals"})


def _calibrated_steps(series: TrafficSeries) -> int:
    """Steps ahead the forward forecast's calibration window can score: core calibrates on the last
    ``CALIBRATION_DAYS`` (a quarter of a short history), and steps beyond it get no ensemble weight."""
    y = series.y.dropna()
    span = min(pd.Timedelta(days=CALIBRATION_DAYS), (y.index[-1] - y.index[0]) * 0.25)
    return max(1, int(span / series.step) - 1)


def forward_steps(series: TrafficSeries) -> int:
    limit = min(series.season, _calibrated_steps(series))
    if "traffic_forward_steps" in st.session_state and st.session_state["traffic_forward_steps"] > limit:
        st.session_state.pop("traffic_forward_steps")
    help_text = HELP["forward_steps"] + (f" This history is short: at most {limit} intervals (a quarter of it) can be "
                                         "calibrated." if limit < series.season else "")
    if limit == 1:
        st.caption("One interval ahead: the history is too short for more.")
        return 1
    return int(st.slider("Intervals ahead", 1, limit, min(limit, 288), key="traffic_forward_steps", help=help_text))


def chart_models(result: BacktestResult) -> list[str]:
    """Models to draw: a multiselect that never retrains (the ensemble and the best baseline by default)."""
    options = result.model_names
    kept = [m for m in st.session_state.get("traffic_chart_models", []) if m in options]
    if "traffic_chart_models" in st.session_state:
        st.session_state["traffic_chart_models"] = kept
        return list(st.multiselect("Models on the chart", options, key="traffic_chart_models"))
    default = [m for m in ("ensemble", "seasonal_naive") if m in options] or options[:2]
    return list(st.multiselect("Models on the chart", options, default=default, key="traffic_chart_models"))


def forward_models(chosen: BacktestSettings | None) -> tuple[str, ...]:
    models = tuple(m for m in (chosen.models if chosen else ()) if m not in BASELINES)
    return models or ("lightgbm",)


def forward(series: TrafficSeries, fingerprint: str, models: Sequence[str], steps: int, *, key: str,
            label: str = "Forecast forward") -> pd.DataFrame | None:
    """A stored forward forecast covering ``steps`` intervals, or a button that makes one."""
    store = _forwards()
    base = (fingerprint, series.freq, tuple(models))
    found = store.find(base, steps)
    if found is not None:
        return found.iloc[:steps]
    if not st.button(label, key=key, icon=":material/query_stats:"):
        return None
    status, progress = _progress_bar("Training on all the data and forecasting forward…")
    try:
        result = forward_forecast(series, steps=steps, models=models, quantiles=FORWARD_QUANTILES, progress=progress,
                                  n_jobs=DEFAULTS.n_jobs)
    except HeadroomError as exc:
        status.update(label="Forward forecast failed", state="error")
        st.error(exc.message)
        return None
    status.update(label="Forward forecast done", state="complete", expanded=False)
    store.put(base, steps, result)
    return result


def forward_table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index().rename(columns={"y_pred": "forecast"})


# ---------------------------------------------------------------------------------------------- autoscaling
def _params_from_state() -> ScalingParams:
    stored = st.session_state.get("traffic_params")
    return ScalingParams(**stored) if stored else SCENARIO


def scaling_params(series: TrafficSeries) -> ScalingParams:
    """The committed policy parameters, priced at the series' interval length."""
    return replace(_params_from_state(), interval_minutes=series.step / pd.Timedelta("1min"))


def _commit_params() -> None:
    """Form callback: runs before the script, so the whole rerun sees the new parameters."""
    current = asdict(_params_from_state())
    for name in PARAM_FIELDS:
        current[name] = st.session_state.get(f"traffic_p_{name}", current[name])
    for name in PARAM_FIELDS:
        if isinstance(getattr(SCENARIO, name), int) and current[name] is not None:
            current[name] = int(current[name])
    try:
        ScalingParams(**current).validate()
    except InputError as exc:
        st.session_state["traffic_params_error"] = exc.message
        return
    st.session_state.pop("traffic_params_error", None)
    st.session_state["traffic_params"] = current


def policy_form(params: ScalingParams) -> None:
    """The policy parameters in one form; applied together on submit."""
    with st.form("traffic_policy_form"):
        columns = st.columns(5)
        for i, (name, (label, help_text)) in enumerate(PARAM_FIELDS.items()):
            value = getattr(params, name)
            is_int = isinstance(getattr(SCENARIO, name), int)
            step = 1 if is_int else (0.001 if value < 0.01 else 0.01 if value < 1 else 1.0)
            columns[i % 5].number_input(label, value=value, step=step, min_value=0 if is_int else 0.0,
                                        format=None if is_int else ("%.4f" if value < 0.01 else "%.2f"),
                                        key=f"traffic_p_{name}", help=help_text)
        st.form_submit_button("Apply parameters", on_click=_commit_params)
    if "traffic_params_error" in st.session_state:
        st.error(f"Parameters not applied: {st.session_state['traffic_params_error']}")


def study(result: BacktestResult, params: ScalingParams) -> ScalingStudy | None:
    """Replay every policy; the quantile selector defaults to the frontier's cost-optimal quantile."""
    try:
        first = scaling_study(result, params)
    except HeadroomError as exc:
        st.error(exc.message)
        return None
    options = list(FRONTIER_QUANTILES)
    if st.session_state.get("traffic_quantile") not in options:
        st.session_state["traffic_quantile"] = min(options, key=lambda q: abs(q - first.best_quantile))
    quantile = st.select_slider("Forecast quantile the predictive policy provisions for", options,
                                key="traffic_quantile", format_func=lambda q: f"{q:.1%}".replace(".0%", "%"),
                                help=HELP["quantile"])
    reactive_overload = float(first.replay.summary_table().loc["reactive", "overloaded_pct"])
    safe = cost_optimal_quantile(first.frontier, max_overloaded_pct=reactive_overload)
    st.caption(f"Cost-optimal quantile on this window: {first.best_quantile:.1%}; cheapest that overloads no more "
               f"often than reactive ({reactive_overload:.1f}% of intervals): {safe:.1%}; price-only (newsvendor) "
               f"quantile: {first.quantile:.1%}. Forecasts by the {first.model}, issued "
               f"{max(1, params.boot_delay)} interval(s) ahead.")
    return first if abs(first.quantile - quantile) < 1e-12 else scaling_study(result, params, quantile=quantile)


def policy_table(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.reset_index().rename(columns={
        "cost_total": "total cost $", "cost_servers": "server cost $", "cost_penalty": "penalty $",
        "server_hours": "server-hours", "overloaded_pct": "% intervals overloaded", "dropped_pct": "% requests dropped",
        "overprovisioned_server_hours": "over-provisioned server-hours", "scaling_actions": "scaling actions",
        "savings_vs_reactive_pct": "savings vs reactive %", "cost_vs_oracle": "cost / oracle"})


def recommendation(fwd: pd.DataFrame, current_servers: int, params: ScalingParams,
                   quantile: float) -> Recommendation | None:
    try:
        return next_hour_recommendation(fwd, current_servers, params, f"q{quantile:g}")
    except HeadroomError as exc:
        st.error(exc.message)
        return None


__all__ = ["DEFAULTS", "HELP", "LEADERBOARD_FORMATS", "POLICY_FORMATS", "PARAM_FIELDS", "SCENARIO", "BacktestSettings",
           "LoadedTraffic", "RawData", "backtest", "backtest_settings", "bursts", "chart_models", "column_picker", "data_source", "forward", "forward_models",
           "forward_steps", "forward_table", "granularity", "leaderboard_table", "load_traffic", "policy_form",
           "policy_table", "recommendation", "scaling_params", "study", "traffic_series"]
