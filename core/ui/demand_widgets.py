"""Widgets of the Cloud Demand & Capacity page: Streamlit only, the work is in ``core.demand.service``.

Each widget returns a typed value (or None after showing the user why); a ``HeadroomError`` from the
service is shown with ``st.error`` and nothing already loaded or computed is dropped. Defaults, limits
and help texts come from ``core.demand.config`` (read at call time, so tests can patch them). Models
train only on a button click; backtests, model choices and plans are kept per process in bounded
stores (``core.ui.result_store``) keyed by the data fingerprint and the settings, so a rerun or a
chart option never retrains.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from core.demand import config, service
from core.demand.data import DemandData
from core.demand.service import BacktestSettings, DemandBacktest, DemandPlan, PlanSettings
from core.errors import HeadroomError
from core.ui.downloads import download_table
from core.ui.errors import show_errors
from core.ui.format import PERCENT, column_formats, for_display
from core.ui.progress import progress_bar
from core.ui.resources import app_settings
from core.ui.result_store import ResultStore, result_store
from core.ui.upload import csv_upload

T = TypeVar("T")
SOURCES = ("Bundled sample (3 years, daily)", "Upload a CSV", "Generate a sample")
TABS = ("Analytics", "Forecast & model choice", "Capacity plan")
# Bounds of the process-wide stores: (results kept, megabytes).
STORES = {"demand-backtests": (4, 512.0), "demand-choices": (12, 256.0), "demand-plans": (8, 256.0)}
# Widget values that belong to one data set: dropped when other data are loaded.
_DATA_KEYS = ("demand_countries", "demand_capacity", "demand_test_start", "demand_override_series",
              "demand_forecast_series", "demand_plan_series", "demand_last_plan")
QUANTILES = config.PLAN_QUANTILES
DAILY_HORIZONS, HOURLY_HORIZONS = config.PLAN_HORIZONS_DAYS["daily"], config.PLAN_HORIZONS_DAYS["sub-daily"]
RISK_ORDER = {"high": 0, "medium": 1, "unknown": 2, "over-provisioned": 3, "ok": 4}
RISK_BADGES = {"high": ("red", "High risk"), "medium": ("orange", "Medium risk"), "ok": ("green", "OK"),
               "over-provisioned": ("blue", "Over-provisioned"), "unknown": ("gray", "Capacity unknown")}
HIGHLIGHT = "background-color: rgba(31, 119, 180, 0.14)"


def _store(name: str) -> ResultStore[Any]:
    max_items, max_mb = STORES[name]
    return result_store(name, max_items, max_mb)



def metric_label(metric: str) -> str:
    base = metric.split(config.QUALIFIER_SEPARATOR)[0]
    info = config.METRICS.get(base)
    return metric if info is None else info.label + metric[len(base):]


def metric_unit(data: DemandData, metric: str) -> str:
    """The metric's own unit (CPU in %, storage in TB, users), as its values are written."""
    base = metric.split(config.QUALIFIER_SEPARATOR)[0]
    info = config.METRICS.get(base)
    return info.unit if info is not None else data.units.get(metric, data.units.get(base, ""))


def series_axis(data: DemandData, series_id: str) -> str:
    """A chart's value-axis title for a series: its metric and unit ("CPU utilisation (%)")."""
    rows = data.panel.loc[data.panel["series_id"] == series_id, "metric"].head(1)
    if rows.empty:
        return ""
    metric = str(rows.iloc[0])
    unit = metric_unit(data, metric)
    return f"{metric_label(metric)} ({unit})" if unit else metric_label(metric)


def series_label(data: DemandData, series_id: str) -> str:
    rows = data.panel.loc[data.panel["series_id"] == series_id, ["region", "metric"]].head(1)
    if rows.empty:
        return series_id
    return f"{rows['region'].iloc[0]} · {metric_label(str(rows['metric'].iloc[0]))}"


def table(frame: pd.DataFrame, file_name: str, *, key: str, formats: dict[str, str] | None = None,
          labels: dict[str, str] | None = None, highlight: pd.Series | None = None, default: str = "%.2f",
          dates: Sequence[str] = (), date_format: str = "YYYY-MM-DD", download: pd.DataFrame | None = None) -> None:
    """A table with readable column names and formats (``formats`` keyed by the raw names; "percent" =
    a fraction shown as a percentage), rows where ``highlight`` is True shaded, and its CSV download (raw
    names, full precision: ``download`` or the frame itself)."""
    labels = labels or {}
    shown = frame[[c for c in labels if c in frame.columns]] if labels else frame
    shown_formats = {labels.get(c, c): spec for c, spec in (formats or {}).items()}
    display = for_display(shown.rename(columns=labels), shown_formats).reset_index(drop=True)
    for name, spec in shown_formats.items():
        digits = re.fullmatch(r".*%\+?,?\.(\d)f.*", spec)
        if digits and name in display.columns and pd.api.types.is_float_dtype(display[name]):
            display[name] = display[name].round(int(digits.group(1))) + 0.0  # "-0.0" reads as a loss: show 0.0
    column_config: dict[str, Any] = column_formats(display, shown_formats, default)
    for column in dates:
        name = labels.get(column, column)
        if name in display.columns:
            column_config[name] = st.column_config.DatetimeColumn(name, format=date_format)
    data: Any = display
    if highlight is not None and bool(highlight.any()):
        marks = highlight.reset_index(drop=True).astype(bool)
        data = display.style.apply(lambda row: [HIGHLIGHT if marks.iloc[row.name] else ""] * len(row), axis=1)
    st.dataframe(data, hide_index=True, column_config=column_config, key=f"{key}_table", placeholder="–")
    download_table(frame if download is None else download, file_name, key=key)


# ---------------------------------------------------------------------------------------------- data
@st.cache_data(show_spinner="Reading the bundled demand…", max_entries=2)
def _bundled(data_dir: str) -> DemandData:
    return service.load_default(app_settings())


@st.cache_data(show_spinner="Reading the upload…", max_entries=4)
def _uploaded(content: bytes, name: str, metric: str | None, start: str | None) -> DemandData:
    return service.load_upload(content, name=name, metric=metric, start=start)


@st.cache_data(show_spinner="Generating…", max_entries=4)
def _generated(freq: str, seed: int) -> DemandData:
    return service.generate(freq, seed)


def data_key(data: DemandData) -> str:
    """The data's fingerprint (panel, countries, launches): what results and widget state are kept under."""
    return service.fingerprint(data, BacktestSettings())


def _forget_old_data(key: str) -> None:
    if st.session_state.get("demand_data_key") != key:
        for name in _DATA_KEYS:
            st.session_state.pop(name, None)
        st.session_state["demand_data_key"] = key


def data_source() -> DemandData | None:
    """The bundled three years (default), an uploaded CSV, or generated data; read and validated."""
    choice = st.radio("Data", SOURCES, horizontal=True, key="demand_source")
    if choice == SOURCES[0]:
        data = show_errors(lambda: _bundled(str(app_settings().data_dir)))
    elif choice == SOURCES[1]:
        frame = csv_upload("CSV of demand per region", key="demand_upload", help=config.HELP["upload"])
        uploaded = st.session_state.get("demand_upload")
        if frame is None or uploaded is None:
            st.info("Upload a CSV of CPU, storage or user counts per region and time to start.")
            return None
        with st.expander("Reading options"):
            left, right = st.columns(2)
            metric = left.text_input("Metric of a one-column-per-region file", key="demand_upload_metric",
                                     help=config.HELP["metric"]).strip()
            start = right.text_input("Trace start (for times in seconds from a start)", key="demand_upload_start",
                                     placeholder=str(config.TRACE_START), help=config.HELP["trace_start"]).strip()
        data = show_errors(lambda: _uploaded(uploaded.getvalue(), uploaded.name, metric or None, start or None))
    else:
        left, right = st.columns(2)
        freq = str(left.radio("Step", list(config.GENERATOR_FREQS), horizontal=True, key="demand_generate_freq"))
        seed = right.number_input("Seed", 0, 2**31 - 1, config.DEFAULT_SEED, key="demand_generate_seed",
                                  help=config.HELP["seed"])
        data = show_errors(lambda: _generated(freq, int(seed)))
    if data is not None:
        _forget_old_data(data_key(data))
    return data


def data_summary(data: DemandData) -> None:
    """What was read: regions, metrics, step, time span, missing values; how the file was read."""
    ds = data.panel["ds"]
    metrics = ", ".join(metric_label(m) for m in data.metric_names)
    st.caption(f"{data.source or 'Generated data'}: {len(data.region_names)} regions × {len(data.metric_names)} metrics "
               f"({metrics}), {data.freq_label} from {ds.min():%Y-%m-%d} to {ds.max():%Y-%m-%d}; "
               f"{len(data.panel):,} values, {data.missing:,} missing (kept missing, never zero).")
    if data.notes:
        with st.expander("How the data were read"):
            for note in data.notes:
                st.markdown(f"- {note}")


def countries(data: DemandData) -> DemandData:
    """Each region's country (its public holidays), guessed from the name and editable."""
    with st.expander("Regions and their countries (public holidays)"):
        st.caption(config.HELP["countries"])
        base = data.regions[["region", "country", "timezone", "note"]].assign(
            country=data.regions["country"].fillna("").astype(str))
        edited = st.data_editor(base, key="demand_countries", hide_index=True, num_rows="fixed",
                                disabled=["region", "timezone", "note"],
                                column_config={"country": st.column_config.TextColumn(
                                    "country", help=config.HELP["countries"], max_chars=40)})
    overrides = {}
    for region, before, after in zip(base["region"], base["country"], edited["country"], strict=True):
        new = "" if after is None or (isinstance(after, float) and np.isnan(after)) else str(after).strip()
        if new != before:
            overrides[str(region)] = new or "none"
    if not overrides:
        return data
    changed = show_errors(lambda: service.with_countries(data, overrides), "Countries not applied: ")
    return data if changed is None else changed


def tabs() -> Sequence[Any]:
    # Bound to the address (?demand_tab=...): a refresh or a shared link opens the same tab.
    return st.tabs(list(TABS), key="demand_tab", bind="query-params")


def _percent(value: float | int | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.1%}"


def _money(value: float | int | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{config.CURRENCY_SYMBOL}{value:,.0f}"


def kpi_metrics(values: dict[str, float | int | None]) -> None:
    """The headline numbers; a dash, with the reason in its help, where a backtest or a plan is missing."""
    top, bottom = st.columns(4), st.columns(4)
    top[0].metric("Regions", f"{values['regions']:,}")
    top[1].metric("Series", f"{values['series']:,}", help="Region × metric series forecast separately.")
    top[2].metric("Forecast accuracy", _percent(values["forecast_accuracy"]),
                  help="1 − WAPE of the chosen forecasts on the evaluation windows (held out from the choice)."
                  if values["forecast_accuracy"] is not None else "Run the backtest (Forecast & model choice).")
    top[3].metric("Regions at risk", "–" if values["regions_at_risk"] is None else f"{values['regions_at_risk']}",
                  help="Regions with a series at high or medium risk in the capacity plan."
                  if values["regions_at_risk"] is not None else "Make a plan (Capacity plan).")
    bottom[0].metric("Average utilisation", _percent(values["average_utilisation"]),
                     help="Mean share of installed capacity in use over the last 30 days, across series.")
    bottom[1].metric("Peak utilisation", _percent(values["peak_utilisation"]),
                     help="The highest single reading of any series in the last 30 days, as a share of capacity.")
    monthly, projected = values["monthly_cost"], values["projected_monthly_cost"]
    bottom[2].metric("Capacity cost per month", _money(monthly),
                     help="Installed capacity × cost per unit and month, from the capacity table.")
    delta = None if projected is None or monthly is None else f"+{_money(float(projected) - float(monthly))}"
    bottom[3].metric("Cost per month after the plan", _money(projected), delta=delta, delta_color="inverse",
                     help="Today's cost plus the capacity the plan adds (releases are not counted until made)."
                     if projected is not None else "Make a plan (Capacity plan).")


# ---------------------------------------------------------------------------------------------- analytics
@dataclass(frozen=True)
class Analytics:
    trends: pd.DataFrame
    regions: pd.DataFrame
    holidays: pd.DataFrame
    weekday: pd.DataFrame
    yearly: pd.DataFrame
    yearly_note: str
    growth: pd.DataFrame


@st.cache_data(show_spinner="Reading the data's patterns…", max_entries=8)
def _analytics(key: str, _data: DemandData) -> Analytics:
    yearly = service.yearly_profile(_data)
    return Analytics(trends=service.trends(_data), regions=service.region_comparison(_data),
                     holidays=service.holiday_impact(_data), weekday=service.weekday_profile(_data),
                     yearly=yearly, yearly_note=str(yearly.attrs.get("note", "")), growth=service.growth_rates(_data))


def analytics(data: DemandData) -> Analytics:
    return _analytics(data_key(data), data)


@st.cache_data(show_spinner=False, max_entries=16)
def _correlations(key: str, metric: str, _data: DemandData) -> pd.DataFrame:
    return service.correlations(_data, metric)


def correlations(data: DemandData, metric: str) -> pd.DataFrame | None:
    return show_errors(lambda: _correlations(data_key(data), metric, data))


def metric_select(data: DemandData, label: str, key: str) -> str:
    options = data.metric_names
    return str(st.selectbox(label, options, key=key, format_func=metric_label) or options[0])


def region_table(data: DemandData, regions: pd.DataFrame) -> None:
    """Regions side by side per metric, with their utilisation of installed capacity."""
    used = service.utilisation(data)
    frame = regions.merge(used, on=["region", "metric"], how="left").assign(
        metric_label=lambda f: f["metric"].map(metric_label), unit=lambda f: f["metric"].map(lambda m: metric_unit(data, m)))
    table(frame, "demand_regions.csv", key="demand_dl_regions",
          labels={"metric_label": "metric", "region": "region", "unit": "unit", "recent_mean": "mean, last 30 days",
                  "recent_peak": "peak, last 30 days", "share_pct": "share of the total (%)",
                  "growth_per_year_pct": "growth per year (%)", "average_utilisation": "average utilisation",
                  "peak_utilisation": "peak utilisation"},
          formats={"recent_mean": "%,.1f", "recent_peak": "%,.1f", "share_pct": "%.1f", "growth_per_year_pct": "%+.1f",
                   "average_utilisation": PERCENT, "peak_utilisation": PERCENT},
          download=frame.drop(columns=["metric_label", "unit"]))
    st.caption("CPU is a percentage of each region's own capacity, so it has no share of a total. Utilisation "
               "needs the capacity table (Capacity plan tab).")


def holiday_table(data: DemandData, holidays: pd.DataFrame) -> None:
    frame = holidays.assign(metric_label=holidays["metric"].map(metric_label),
                            unit=holidays["metric"].map(lambda m: metric_unit(data, m)))
    table(frame, "demand_holiday_impact.csv", key="demand_dl_holidays",
          labels={"region": "region", "country": "country", "metric_label": "metric", "unit": "unit",
                  "holidays": "holidays",
                  "holiday_mean": "mean on holidays", "usual_mean": "mean a week before/after",
                  "impact_pct": "holiday effect (%)", "note": "how"},
          formats={"holiday_mean": "%,.1f", "usual_mean": "%,.1f", "impact_pct": "%+.1f", "holidays": "%d"},
          download=holidays)


def growth_table(growth: pd.DataFrame) -> None:
    frame = growth.assign(metric_label=growth["metric"].map(metric_label))
    table(frame, "demand_growth.csv", key="demand_dl_growth",
          labels={"region": "region", "metric_label": "metric", "growth_per_year_pct": "growth per year (%)",
                  "yoy_pct": "last 28 days vs a year before (%)", "days": "days fitted"},
          formats={"growth_per_year_pct": "%+.1f", "yoy_pct": "%+.1f", "days": "%d"}, download=growth)


def profile_downloads(info: Analytics) -> None:
    left, right = st.columns(2)
    with left:
        download_table(info.weekday, "demand_weekday_profile.csv", key="demand_dl_weekday")
    with right:
        download_table(info.yearly, "demand_yearly_profile.csv", key="demand_dl_yearly")


# ---------------------------------------------------------------------------------------------- forecast
@dataclass(frozen=True)
class Run:
    """A backtest and the key it is stored under (data fingerprint + settings)."""

    key: str
    result: DemandBacktest


def backtest_settings(data: DemandData) -> BacktestSettings | None:
    """Steps ahead, the test start (blank: the last windows) and the models to compare."""
    default_h = config.DEFAULT_HORIZON.get(data.freq_label, 7)
    first, last = data.panel["ds"].min(), data.panel["ds"].max()
    left, right = st.columns(2)
    horizon = left.number_input(f"Steps ahead ({data.freq_label} steps)", 1, 400, default_h, key="demand_horizon",
                                help="Each backtest window forecasts this many steps from its origin; choice and "
                                     "scores are on the same windows for every model.")
    start = right.date_input("Scored windows start (blank: the last 6 windows)", value=None, key="demand_test_start",
                             min_value=first.date(), max_value=last.date(),
                             help="Models are chosen on windows before this day and scored from it on, so the "
                                  "scores are on data the choice never saw.")
    models = st.multiselect("Models", list(config.ALL_MODELS), default=list(config.DEFAULT_MODELS),
                            format_func=lambda m: config.MODEL_LABELS.get(m, m), key="demand_models",
                            help="Seasonal naive is always computed as the baseline. Global models fit once across "
                                 "all series; Prophet and the LSTM are the slowest.")
    if not set(models) - {config.BASELINE}:
        st.info("Pick at least one model besides seasonal naive.")
        return None
    test_start = pd.Timestamp(start) if isinstance(start, dt.date) else None
    return BacktestSettings(horizon=None if int(horizon) == default_h else int(horizon), test_start=test_start,
                            models=tuple(str(m) for m in models))


def backtest(data: DemandData, options: BacktestSettings) -> Run | None:
    """The stored backtest for these data and settings, or a Run button that computes it (with progress)."""
    key = service.fingerprint(data, options)
    store: ResultStore[DemandBacktest] = _store("demand-backtests")
    found = store.find(key)
    if found is not None:
        return Run(key, found)
    slot = st.empty()  # the button goes once the backtest is there
    if not slot.button("Run backtest", type="primary", key="demand_run", icon=":material/play_arrow:"):
        st.info("Pick the models and click **Run backtest**: models train only when you ask (about 1–2 minutes "
                "on the bundled data). A backtest of the same data and settings is stored and reused.")
        return None
    status, progress = progress_bar("Backtesting every model on every series…")
    started = time.perf_counter()
    try:
        result = service.backtest(data, options, settings=app_settings(), progress=progress)
    except HeadroomError as exc:
        status.update(label="Backtest failed", state="error")
        st.error(exc.message)
        return None
    took = time.perf_counter() - started
    status.update(label="Loaded the stored backtest of these data and settings (nothing retrained)" if result.reused
                  else f"Backtest done in {took:.0f} s", state="complete", expanded=False)
    store.put(key, result)
    slot.empty()
    return Run(key, result)


def strategy_table(result: DemandBacktest) -> None:
    """The three ways to choose, scored where they were chosen and out of sample, seasonal naive beside them."""
    frame = result.strategies.assign(
        shown=lambda f: f["label"] + np.where(f["strategy"] == result.default_strategy, " (default)", ""),
        models_used=lambda f: f["models_used"].map(
            lambda names: ", ".join(config.MODEL_LABELS.get(n.strip(), n.strip()) for n in str(names).split(","))))
    table(frame, "demand_strategies.csv", key="demand_dl_strategies", default="%.3f",
          labels={"shown": "strategy", "selection_mase": "MASE where chosen",
                  "inner_mase": "MASE that picked the default", "evaluation_mase": "MASE out of sample",
                  "baseline_evaluation_mase": "seasonal naive, out of sample", "models_used": "models used"},
          highlight=frame["strategy"] == result.default_strategy, download=result.strategies)
    st.caption("MASE: mean absolute error over the series' in-sample seasonal-naive error (lower is better). "
               "Out of sample = the evaluation windows, after the ones the choice was made on. The default "
               "(shaded) was picked before those windows were read: each strategy chose on the earlier half of "
               "the selection windows and was scored on the later half (\"MASE that picked the default\").")


def model_choice(run: Run) -> DemandBacktest:
    """The strategy (default: the best out of sample on the selection windows' later half) and per-series
    overrides; no model is refit."""
    result = run.result
    options = [s for s in config.STRATEGIES if s in result.choices]
    strategy = st.selectbox("Forecast with", options, index=options.index(result.default_strategy),
                            format_func=lambda s: config.STRATEGY_LABELS.get(s, s), key=f"demand_strategy_{run.key[:16]}")
    overrides: dict[str, str] = st.session_state.setdefault("demand_overrides", {}).setdefault(run.key, {})
    with st.expander("Override one series' model", expanded=bool(overrides)):
        series = list(result.series_meta["series_id"])
        left, right = st.columns(2)
        sid = str(left.selectbox("Series", series, key="demand_override_series",
                                 format_func=lambda s: s.replace("/", " · ")) or series[0])
        model = right.selectbox("Model", list(result.models), key="demand_override_model",
                                format_func=lambda m: config.MODEL_LABELS.get(m, m))
        apply_col, clear_col = st.columns(2)
        if apply_col.button("Use this model for this series", key="demand_override_apply") and model:
            overrides[sid] = str(model)
        if overrides and clear_col.button("Clear overrides", key="demand_override_clear"):
            overrides.clear()
        if overrides:
            st.caption("Overridden: " + "; ".join(f"{s.replace('/', ' · ')} → {config.MODEL_LABELS.get(m, m)}"
                                                  for s, m in overrides.items()))
    key = (run.key, strategy, tuple(sorted(overrides.items())))
    store: ResultStore[DemandBacktest] = _store("demand-choices")
    found = store.find(key)
    if found is None:
        found = show_errors(lambda: result.with_choice(str(strategy), dict(overrides)))
        if found is None:
            return result
        store.put(key, found)
    return found


def backtest_summary(result: DemandBacktest) -> None:
    s = result.summary
    cols = st.columns(4)
    cols[0].metric("MASE of the choice", f"{s['chosen_mase']:.3f}", help="Mean over series, evaluation windows.")
    cols[1].metric("MASE of seasonal naive", f"{s['baseline_mase']:.3f}", help="The baseline on the same windows.")
    cols[2].metric("95 % interval coverage", _percent(float(s["coverage"])),
                   help="Share of actual values inside the choice's 95 % interval: about 95 % when calibrated.")
    cols[3].metric("Series on seasonal naive", f"{s['series_on_baseline']} of {s['series']}",
                   help="Series where no model beat seasonal naive on the selection windows.")
    windows = result.windows
    st.caption(f"Chosen on {len(windows.selection)} windows before {windows.test_start:%Y-%m-%d}, scored on "
               f"{len(windows.evaluation)} windows of {result.horizon} steps from it. "
               + ("Loaded from the store: these data and settings were backtested before." if result.reused
                  else f"Computed in {float(s['seconds']):.0f} s and stored."))
    if s["nothing_beats_baseline"]:
        st.warning("No model beat seasonal naive on any series: every series forecasts with seasonal naive "
                   "(last season's value). Try other models or a longer history.", icon=":material/warning:")


def leaderboard(result: DemandBacktest) -> None:
    """Series × model scores on the evaluation windows; the rows the choice uses shaded."""
    board = result.leaderboard
    frame = board.assign(series=board["region"] + " · " + board["metric"].map(metric_label),
                         chosen=board["chosen"] | (board["model"] == "chosen"),
                         model_label=board["model"].map(lambda m: "→ the choice" if m == "chosen"
                                                        else config.MODEL_LABELS.get(m, m)))
    table(frame, "demand_leaderboard.csv", key="demand_dl_leaderboard", default="%.3f",
          labels={"series": "series", "model_label": "model", "mase": "MASE", "mae": "MAE", "rmse": "RMSE",
                  "smape": "sMAPE (%)", "wape": "WAPE", "coverage": "95 % coverage",
                  "beats_baseline": "beats seasonal naive", "chosen": "used by the choice"},
          formats={"mae": "%,.2f", "rmse": "%,.2f", "smape": "%.2f", "wape": PERCENT, "coverage": PERCENT},
          highlight=board["chosen"] | (board["model"] == "chosen"), download=board)


def series_select(data: DemandData, series: Sequence[str], label: str, key: str) -> str:
    options = list(series)
    return str(st.selectbox(label, options, key=key, format_func=lambda s: series_label(data, s)) or options[0])


def history(data: DemandData, series_id: str, since: pd.Timestamp) -> pd.Series:
    s = data.series(series_id)
    return s[s.index >= since]


def evaluation_rows(result: DemandBacktest, series_id: str) -> pd.DataFrame:
    frame = result.frame
    return frame[(frame["series_id"] == series_id) & (frame["part"] == "evaluation")].sort_values("ds")


def totals_table(result: DemandBacktest) -> None:
    frame = result.totals_table
    if frame.empty:
        st.info("No additive metric (storage, users): there is no total to reconcile.")
        return
    table(frame.assign(metric_label=frame["metric"].map(metric_label)), "demand_totals.csv", key="demand_dl_totals",
          labels={"metric_label": "metric", "region": "region", "wape": "WAPE of the summed choice",
                  "baseline_wape": "WAPE of summed seasonal naive", "points": "points"},
          formats={"wape": PERCENT, "baseline_wape": PERCENT, "points": "%d"}, download=frame)
    st.caption("Bottom-up: a metric's total is the sum of its regions' chosen forecasts, so regional and total "
               "plans agree. CPU, a percentage of each region's capacity, has no total.")


def accuracy_runs() -> pd.DataFrame | None:
    history_frame = show_errors(lambda: service.accuracy_history(app_settings()))
    if history_frame is None or history_frame.empty:
        return None
    return history_frame


def accuracy_table(runs: pd.DataFrame) -> None:
    frame = runs.assign(strategy_label=runs["strategy"].map(lambda s: config.STRATEGY_LABELS.get(str(s), str(s))),
                        run_at=pd.to_datetime(runs["created_at"], utc=True).dt.tz_localize(None))
    table(frame, "demand_accuracy_history.csv", key="demand_dl_history", download=runs,
          labels={"run_at": "run at (UTC)", "source": "data", "fingerprint": "fingerprint",
                  "strategy_label": "strategy", "horizon": "steps ahead", "chosen_mase": "MASE of the choice",
                  "baseline_mase": "MASE of seasonal naive", "coverage": "95 % coverage"},
          formats={"chosen_mase": "%.3f", "baseline_mase": "%.3f", "coverage": PERCENT},
          dates=("run_at",), date_format="YYYY-MM-DD HH:mm")


def choice_download(result: DemandBacktest) -> None:
    left, right = st.columns(2)
    with left:
        download_table(result.predictions(), "demand_predictions.csv", label="Download the predictions (every model)",
                       key="demand_dl_predictions")
    with right:
        download_table(result.choice_table, "demand_choice.csv", label="Download each series' choice",
                       key="demand_dl_choice")


# ---------------------------------------------------------------------------------------------- plan
def plan_settings(data: DemandData) -> tuple[PlanSettings, int] | None:
    """Horizon, service level (a quantile, or derived from two costs), headroom, lead time, risk thresholds."""
    horizons = HOURLY_HORIZONS if data.step < pd.Timedelta(days=1) else DAILY_HORIZONS
    left, middle, right = st.columns(3)
    horizon = int(left.radio("Plan ahead", horizons, index=1, horizontal=True, key="demand_plan_horizon",
                             format_func=lambda d: f"{d} days"))
    mode = left.radio("Service level", ("Choose a quantile", "Derive from costs"), horizontal=True,
                      key="demand_level_mode")
    quantile: float | None
    if mode == "Choose a quantile":
        options = sorted({*QUANTILES, config.PLAN_QUANTILE})
        quantile = float(middle.select_slider("Plan for demand up to", options, value=config.PLAN_QUANTILE,
                                              key="demand_quantile", help=config.CAPACITY_HELP["quantile"],
                                              format_func=lambda q: f"P{round(q * 100, 3):g}"))
    else:
        a, b = middle.columns(2)
        short = a.number_input("Cost of a unit short", 0.0, None, 19.0, key="demand_cost_short",
                               help=config.CAPACITY_HELP["newsvendor"])
        idle = b.number_input("Cost of a unit idle", 0.0, None, 1.0, key="demand_cost_idle",
                              help=config.CAPACITY_HELP["newsvendor"])
        quantile = show_errors(lambda: service.quantile_for(shortage_cost=float(short), idle_cost=float(idle)))
        if quantile is None:
            return None
        middle.caption(f"The plan covers P{round(quantile * 100, 1):g}: short / (short + idle) = "
                       f"{short:g} / {short + idle:g}.")
    headroom = right.number_input("Headroom above planned demand (%)", 0.0, 300.0, config.PLAN_HEADROOM * 100,
                                  step=5.0, key="demand_headroom", help=config.CAPACITY_HELP["headroom"])
    lead = right.number_input("Lead time (days)", 0, 365, config.PLAN_LEAD_TIME_DAYS, key="demand_lead_time",
                              help=config.CAPACITY_HELP["lead_time"])
    with st.expander("Risk thresholds (peak utilisation)"):
        st.caption(config.CAPACITY_HELP["thresholds"])
        cols = st.columns(3)
        high = cols[0].number_input("High at or above (%)", 0.0, 300.0, config.RISK_HIGH * 100, key="demand_risk_high")
        medium = cols[1].number_input("Medium at or above (%)", 0.0, 300.0, config.RISK_MEDIUM * 100,
                                      key="demand_risk_medium")
        low = cols[2].number_input("Over-provisioned at or below (%)", 0.0, 300.0, config.RISK_LOW * 100,
                                   key="demand_risk_low")
    settings = show_errors(lambda: PlanSettings(quantile=float(quantile), headroom=float(headroom) / 100,
                                           lead_time_days=int(lead), high=float(high) / 100,
                                           medium=float(medium) / 100, low=float(low) / 100))
    return None if settings is None else (settings, horizon)


def _capacity_template(data: DemandData) -> pd.DataFrame:
    """The data's capacity table with a blank row for every series it lacks (unit and price filled in)."""
    series = data.panel.drop_duplicates(["region", "metric"])[["region", "metric"]]
    frame = series.merge(data.capacity, on=["region", "metric"], how="left").reset_index(drop=True)
    base = frame["metric"].str.split(config.QUALIFIER_SEPARATOR).str[0]
    info = base.map(lambda m: config.METRICS.get(m))
    frame["unit"] = frame["unit"].fillna(info.map(lambda i: i.capacity_unit if i else "")).fillna("")
    frame["cost_per_unit_month"] = frame["cost_per_unit_month"].fillna(base.map(config.UNIT_COST_MONTH))
    return frame.astype({"capacity": float, "cost_per_unit_month": float})


def capacity_editor(data: DemandData) -> DemandData | None:
    """The installed capacity, editable (a what-if: nothing is written back); the data with it, or None
    after saying what is wrong. A blank capacity leaves that series' risk unknown."""
    st.caption(config.HELP["capacity"] + " Edit a cell to try a scenario; a blank capacity leaves that series' "
               "risk unknown.")
    base = _capacity_template(data).assign(metric_label=lambda f: f["metric"].map(metric_label))
    money = f"{config.CURRENCY_SYMBOL}%.2f"
    # The metric's label is shown; its name stays in the returned frame (hidden) for the service.
    edited = st.data_editor(base, key="demand_capacity", hide_index=True, num_rows="fixed",
                            disabled=["region", "metric", "metric_label"],
                            column_order=["region", "metric_label", "capacity", "unit", "cost_per_unit_month"],
                            column_config={"metric_label": st.column_config.TextColumn("metric"),"capacity": st.column_config.NumberColumn("capacity", min_value=0.0,
                                                                                     format="%,.1f"),
                                           "cost_per_unit_month": st.column_config.NumberColumn(
                                               "cost per unit and month", min_value=0.0, format=money)})
    edited = edited.drop(columns="metric_label")
    download_table(edited, "demand_capacity.csv", key="demand_dl_capacity")
    given = edited[pd.to_numeric(edited["capacity"], errors="coerce").notna()].reset_index(drop=True)
    try:
        return service.with_capacity(data, given)
    except HeadroomError as exc:
        where = ""
        row = getattr(exc, "row", None)
        if isinstance(row, int) and 2 <= row < len(given) + 2:
            where = f" ({given['region'].iloc[row - 2]} · {metric_label(str(given['metric'].iloc[row - 2]))})"
        st.error(f"The capacity table was not applied{where}: {exc.message}. The plan uses none until it is fixed.")
        return None


def make_plan(data: DemandData, run: Run, chosen: DemandBacktest, settings: PlanSettings,
              horizon: int) -> DemandPlan | None:
    """The plan for these inputs. Its slow part (the choice backtested at the horizon and forecast ahead)
    is made once per backtest, choice and horizon, behind a button with progress; the service level,
    headroom, lead time, thresholds and capacity then apply in seconds, without a button."""
    key = (run.key, chosen.strategy, tuple(sorted(chosen.overrides.items())), horizon)
    store: ResultStore[service.PlanForecast] = _store("demand-plans")
    forecast = store.find(key)
    if forecast is None:
        slot = st.empty()  # the button goes once the forecast is there
        if not slot.button("Make plan", type="primary", key="demand_plan_run", icon=":material/event_available:"):
            st.info("Set the plan and click **Make plan**: the chosen models are refit on all the data and "
                    "forecast ahead, and past plans are replayed to check how often they were exceeded. "
                    "Afterwards, changing the service level, headroom, lead time or capacity updates it at once.")
            return None
        status, progress = progress_bar("Calibrating the plan and forecasting ahead…")
        try:
            forecast = service.plan_forecast(data, chosen, horizon, progress=progress)
        except HeadroomError as exc:
            status.update(label="Plan failed", state="error")
            st.error(exc.message)
            return None
        status.update(label=f"Forecast for the next {horizon} days ready", state="complete", expanded=False)
        store.put(key, forecast)
        slot.empty()
    try:
        return service.plan(data, chosen, settings, horizon, forecast=forecast)
    except HeadroomError as exc:
        st.error(exc.message)
        return None


def _escaped(text: str) -> str:
    """Plain text for st.markdown: a "$" would start LaTeX."""
    return text.replace("$", r"\$")


def recommendations(plan: DemandPlan) -> None:
    """One line per series in plain words, most urgent first, with its risk as a coloured badge."""
    for note in plan.notes:
        st.warning(_escaped(note), icon=":material/info:")
    rows = plan.table.assign(order=plan.table["risk"].map(RISK_ORDER).fillna(9)).sort_values("order", kind="stable")
    for row in rows.itertuples():
        colour, label = RISK_BADGES.get(str(row.risk), ("gray", str(row.risk)))
        st.markdown(f":{colour}-badge[{label}] {_escaped(str(row.recommendation))}")


def plan_table(plan: DemandPlan, data: DemandData) -> None:
    daily = data.step >= pd.Timedelta(days=1)
    frame = plan.table.assign(metric_label=plan.table["metric"].map(metric_label))
    quantity = "%,.0f"
    table(frame, "demand_plan.csv", key="demand_dl_plan", download=plan.download(),
          labels={"region": "region", "metric_label": "metric", "unit": "unit", "capacity": "capacity",
                  "current_use": "in use (last 7 days)", "current_utilisation": "utilisation now",
                  "peak_p50": "peak, median", "peak_plan": f"peak, {plan.settings.label}",
                  "peak_utilisation": "peak utilisation", "required_capacity": "capacity needed",
                  "change_units": "change", "change_pct": "change (%)", "monthly_cost_change": "cost change / month",
                  "exhaustion_p50": "runs out (median)", "exhaustion_p95": "runs out (P95)",
                  "headroom_breach": "headroom used up", "order_by": "order by", "risk": "risk"},
          formats={"capacity": quantity, "current_use": quantity, "peak_p50": quantity, "peak_plan": quantity,
                   "required_capacity": quantity, "change_units": "%+,.0f", "current_utilisation": PERCENT,
                   "peak_utilisation": PERCENT, "change_pct": PERCENT,
                   "monthly_cost_change": f"{config.CURRENCY_SYMBOL}%+,.0f"},
          dates=("exhaustion_p50", "exhaustion_p95", "headroom_breach", "order_by"),
          date_format="YYYY-MM-DD" if daily else "YYYY-MM-DD HH:mm",
          highlight=plan.table["risk"].isin(config.AT_RISK_LEVELS))
    st.caption(f"Quantities in the capacity's unit (CPU in vCPU). Peak utilisation = peak {plan.settings.label} "
               f"demand / capacity, without headroom; capacity needed adds {plan.settings.headroom:.0%} headroom. "
               "Blank dates: never within the plan's horizon.")


def n_minus_one_table(plan: DemandPlan, data: DemandData) -> None:
    frame = plan.n_minus_one.assign(metric_label=plan.n_minus_one["metric"].map(metric_label))
    table(frame, "demand_n_minus_one.csv", key="demand_dl_n1", download=plan.n_minus_one,
          labels={"metric_label": "metric", "failed_region": "if this region fails", "absorbable": "others absorb it",
                  "first_short": "short from", "worst_shortfall": "worst shortfall", "unit": "unit", "note": "note"},
          formats={"worst_shortfall": "%,.1f"}, dates=("first_short",),
          date_format="YYYY-MM-DD" if data.step >= pd.Timedelta(days=1) else "YYYY-MM-DD HH:mm")


def breach_table(plan: DemandPlan, data: DemandData) -> None:
    """How often past plans made the same way were exceeded, against the rate the service level promises."""
    breaches = plan.breaches
    overall = breaches[breaches["series_id"] == "all"]
    expected = 1 - plan.settings.quantile
    if len(overall):
        row = overall.iloc[0]
        st.markdown(f"Past {plan.settings.label} plans were exceeded on **{_percent(float(row['breach_rate']))}** "
                    f"of {int(row['points']):,} points ({int(row['windows'])} replayed windows); a "
                    f"{plan.settings.label} plan should be exceeded about {expected:.1%} of the time. The "
                    f"forecast's 95 % band covered {_percent(plan.coverage)} of actual values there.")
    frame = pd.concat([overall, breaches[breaches["series_id"] != "all"]], ignore_index=True)
    frame = frame.assign(series=frame["series_id"].map(lambda s: "All series" if s == "all" else series_label(data, s)))
    table(frame, "demand_plan_breaches.csv", key="demand_dl_breaches", download=breaches,
          labels={"series": "series", "windows": "windows", "points": "points", "breaches": "exceeded",
                  "breach_rate": "exceeded (%)"},
          formats={"windows": "%d", "points": "%,d", "breaches": "%,d", "breach_rate": PERCENT},
          highlight=frame["series_id"] == "all")


def plan_chart_inputs(plan: DemandPlan, data: DemandData, series_id: str) -> dict[str, Any]:
    """What the plan chart of one series needs: its path, recent history, capacity in the metric's own unit
    (100 for a percent-of-capacity metric) and the order-by date."""
    path = plan.paths[plan.paths["series_id"] == series_id].sort_values("ds")
    region, metric = str(path["region"].iloc[0]), str(path["metric"].iloc[0])
    row = plan.table[(plan.table["region"] == region) & (plan.table["metric"] == metric)]
    capacity = float(row["capacity"].iloc[0]) if len(row) else np.nan
    info = config.METRICS.get(metric.split(config.QUALIFIER_SEPARATOR)[0])
    if info is not None and info.percent_of_capacity and np.isfinite(capacity):
        capacity = 100.0
    span = max(pd.Timedelta(days=3 * plan.horizon_days), pd.Timedelta(days=60))
    since = pd.Timestamp(path["ds"].iloc[0]) - span
    return {"history": history(data, series_id, since), "path": path,
            "capacity": capacity if np.isfinite(capacity) else None, "headroom": plan.settings.headroom,
            "title": f"{series_label(data, series_id)}: the next {plan.horizon_days} days",
            "unit": metric_unit(data, metric), "label": metric_label(metric), "plan_label": plan.settings.label,
            "order_by": row["order_by"].iloc[0] if len(row) else None}


def plan_downloads(plan: DemandPlan) -> None:
    download_table(plan.paths, "demand_plan_paths.csv", label="Download the forecast paths",
                   key="demand_dl_paths")


__all__ = ["Analytics", "Run", "accuracy_runs", "accuracy_table", "analytics", "backtest", "backtest_settings", "backtest_summary",
           "breach_table", "capacity_editor", "choice_download", "correlations", "countries", "data_key",
           "data_source", "data_summary", "evaluation_rows", "growth_table", "history", "holiday_table",
           "kpi_metrics", "leaderboard", "make_plan", "metric_label", "metric_select", "metric_unit",
           "model_choice", "n_minus_one_table", "plan_chart_inputs", "plan_downloads", "plan_settings", "plan_table",
           "profile_downloads", "recommendations", "region_table", "series_label", "series_axis", "series_select",
           "strategy_table", "table", "tabs", "totals_table"]
