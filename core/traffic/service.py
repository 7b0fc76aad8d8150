"""What the Traffic & Autoscaling page, the CLI and tests call: one function per user action.

``load_traffic`` -> ``traffic_series`` -> ``overview`` | ``backtest`` -> ``scaling_study`` ->
``forward`` -> ``recommend_next_hour``. Each validates its input and raises ``HeadroomError`` /
``InputError`` with a message for the person who caused it, and returns a typed result whose
derived tables are built once and kept on it (``functools.cached_property``, or per step on a
``BacktestResult``). Results are shared between reruns and sessions: never modify them in place.
No Streamlit here: caching across reruns is the UI's job (``core.ui.result_store``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import Settings
from core.errors import HeadroomError, InputError
from core.io import read_csv
from core.io.timestamps import detect_time_column
from core.ml.fingerprint import data_fingerprint
from core.traffic import config
from core.traffic.autoscale import Recommendation, ScalingParams, next_hour_recommendation, servers_text
from core.traffic.backtest import (
    BacktestResult,
    ProgressFn,
    default_test_start,
    forward_forecast,
    run_backtest,
    to_local,
)
from core.traffic.models import BASELINES
from core.traffic.overview import BUNDLED_FILE, record_backtest
from core.traffic.planning import ScalingStudy
from core.traffic.planning import scaling_study as _scaling_study
from core.traffic.series import (
    MIN_ROWS,
    BurstRule,
    TrafficSeries,
    TrafficSummary,
    ZeroRun,
    available_frequencies,
    bytes_column,
    detect_bursts,
    detect_count_column,
    flag_columns,
    hour_weekday_table,
    load_counts,
    local_time,
    long_zero_runs,
    native_step,
    resample,
    status_columns,
    summary,
    treat_zero_runs,
    utc_offset,
)

__all__ = [
    "BacktestResult", "BacktestSettings", "ForwardForecast", "LoadedTraffic", "RawTraffic", "Recommendation",
    "ScalingParams", "ScalingStudy", "TrafficColumns", "TrafficOverview", "TrafficSeries", "backtest",
    "backtest_settings", "bundled_traffic", "detect_columns", "forecast_lead", "forward", "forward_models",
    "forward_step_limit", "keep_zero_runs", "lead_text", "load_traffic", "local_time", "next_hour_steps", "overview",
    "policy_params", "policy_params_as_text", "policy_params_from_text", "priced_for", "raw_traffic",
    "recommend_next_hour", "remember_backtest", "scaling_study", "servers_text", "test_days", "traffic_series",
    "utc_offset",
]


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class RawTraffic:
    """A CSV as read, before any column is chosen."""

    frame: pd.DataFrame
    name: str
    fingerprint: str


def raw_traffic(frame: pd.DataFrame, name: str) -> RawTraffic:
    return RawTraffic(frame, name, data_fingerprint(frame))


def bundled_traffic(data_dir: Path | str) -> RawTraffic:
    """The bundled NASA file of the app's data directory."""
    path = Path(data_dir) / BUNDLED_FILE
    if not path.exists():
        raise HeadroomError(f"The bundled file {BUNDLED_FILE} is missing from {data_dir}; upload a CSV.")
    return raw_traffic(read_csv(path), BUNDLED_FILE)


@dataclass(frozen=True)
class TrafficColumns:
    time: str | None  # None: no timestamp column found
    count: str | None


def detect_columns(frame: pd.DataFrame, *, time_col: str | None = None) -> TrafficColumns:
    """The timestamp column (``time_col``, else detected) and the request-count column detected beside it."""
    time = time_col if time_col is not None else (detect_time_column(frame) if len(frame) else None)
    count = detect_count_column(frame, time)
    return TrafficColumns(time, None if count is None else str(count))


@dataclass(frozen=True)
class LoadedTraffic:
    """Validated counts on the file's own grid (NaN = no data), its other numeric columns, and its step."""

    counts: pd.Series
    extra: pd.DataFrame
    notes: tuple[str, ...]
    name: str
    fingerprint: str  # of the raw data and the columns read
    time_col: str
    value_col: str
    native_step: pd.Timedelta
    zero_runs: tuple[ZeroRun, ...] = ()  # runs of zeros read as collection gaps (``core.traffic.series.ZeroRunRule``)
    zero_runs_as_traffic: bool = False  # the user's override: keep them as zeros

    @property
    def frequencies(self) -> list[str]:
        """The granularities this data allows (never finer than its own step)."""
        return available_frequencies(self.native_step)


def load_traffic(frame: pd.DataFrame, *, name: str, time_col: str | None = None, value_col: str | None = None,
                 fingerprint: str | None = None) -> LoadedTraffic:
    """Validate a raw frame once: columns detected unless given, the native step computed, and
    at least one granularity (1m, 5m, 15m, 1h) that step divides into."""
    columns = detect_columns(frame, time_col=time_col)
    if value_col is not None and value_col == columns.time:
        raise InputError(f"column '{value_col}' is the timestamp column; pick another request-count column.",
                         file=name)
    value = value_col if value_col is not None else columns.count
    counts, extra, notes = load_counts(frame, time_col=columns.time, value_col=value, file=name)
    step = native_step(counts.index)
    if not available_frequencies(step):
        raise InputError(f"its {step / pd.Timedelta('1min'):g}-minute step does not divide into 1m, 5m, 15m or 1h "
                         "intervals.", file=name)
    time, count = str(columns.time), str(value)
    return LoadedTraffic(counts=counts, extra=extra, notes=tuple(notes), name=name, time_col=time, value_col=count,
                         fingerprint=f"{fingerprint or data_fingerprint(frame)}:{time}:{count}", native_step=step,
                         zero_runs=tuple(long_zero_runs(counts, config.ZERO_RUN_RULE)))


def keep_zero_runs(loaded: LoadedTraffic) -> LoadedTraffic:
    """The same data with its long zero runs kept as traffic (the override); a fingerprint of its own, so
    results computed either way are never mixed up."""
    if loaded.zero_runs_as_traffic or not loaded.zero_runs:
        return loaded
    return replace(loaded, zero_runs_as_traffic=True, fingerprint=f"{loaded.fingerprint}:zero-runs-as-traffic")


def traffic_series(loaded: LoadedTraffic, freq: str) -> TrafficSeries:
    """The counts summed to ``freq`` ('5m' or a pandas rule); missing intervals stay missing, and so do
    long zero runs (suspected collection gaps) unless the data was given to ``keep_zero_runs``."""
    counts, extra, gap_notes = treat_zero_runs(loaded.counts, loaded.extra, loaded.zero_runs,
                                               as_traffic=loaded.zero_runs_as_traffic, file=loaded.name)
    series = resample(counts, extra, freq, source=loaded.name, notes=[*loaded.notes, *gap_notes],
                      native=loaded.native_step)
    if series.y.notna().sum() < MIN_ROWS:
        raise InputError(f"fewer than {MIN_ROWS} intervals with data at {freq}.", file=loaded.name)
    return series


# ---------------------------------------------------------------------------------------------- overview
@dataclass(frozen=True)
class TrafficOverview:
    """What the overview shows of a series; each piece computed once, on first use."""

    series: TrafficSeries
    rule: BurstRule

    @cached_property
    def stats(self) -> TrafficSummary:
        return summary(self.series)

    @cached_property
    def bursts(self) -> pd.Series:
        """Burst flags (a rolling median over a year of minutes takes a noticeable part of a second)."""
        return detect_bursts(self.series.y, self.rule)

    @cached_property
    def burst_count(self) -> int:
        return int(self.bursts.sum())

    @cached_property
    def rule_text(self) -> str:
        return self.rule.describe(self.series.step)

    @cached_property
    def flags(self) -> pd.DataFrame:
        """The file's own 0/1 marker columns (is_event, is_burst, ...)."""
        return self.series.extra[flag_columns(self.series.extra)]

    @cached_property
    def flag_counts(self) -> dict[str, int]:
        """Intervals where each marker column is set."""
        return {str(c): int((self.flags[c] > 0).sum()) for c in self.flags.columns}

    @cached_property
    def heatmap(self) -> pd.DataFrame:
        return hour_weekday_table(self.series.y)

    @cached_property
    def status_columns(self) -> list[str]:
        return status_columns(self.series.extra)

    @cached_property
    def bytes_column(self) -> str | None:
        return bytes_column(self.series.extra)

    @cached_property
    def table(self) -> pd.DataFrame:
        """The download: timestamp, requests, partial, burst and the file's other columns."""
        frame = pd.DataFrame({"requests": self.series.y, "partial": self.series.partial, "burst": self.bursts})
        return frame.join(self.series.extra).reset_index()


def overview(series: TrafficSeries, rule: BurstRule | None = None) -> TrafficOverview:
    """Summary numbers, bursts, marker columns, the hour × weekday table and the download table."""
    result = TrafficOverview(series, rule or config.BURST_RULE)
    result.stats  # noqa: B018  (validates: a series without numbers raises here, not in the page)
    return result


# ---------------------------------------------------------------------------------------------- backtest
@dataclass(frozen=True)
class BacktestSettings:
    test_start: pd.Timestamp
    horizon: int
    models: tuple[str, ...]
    refit_every: pd.Timedelta | None = None  # None: the models fitted before the calibration window, never refit


def test_days(series: TrafficSeries) -> tuple[dt.date, dt.date, dt.date]:
    """(first, default, last) day the test window may start: the default is the published NASA split
    when the data covers it, else the day at 85% of the span."""
    y = series.y
    first, last = (y.index[0] + series.step).date(), y.index[-1].date()
    return first, max(min(default_test_start(y).date(), last), first), last


def parse_refit(text: str | None, step: pd.Timedelta) -> pd.Timedelta | None:
    """'auto' (or None): the default for this granularity; 'never'/'0': no refits; else a duration ('1d', '6h')."""
    if text is None or text.strip().lower() == "auto":
        return config.default_refit_every(step)
    word = text.strip().lower()
    if word in config.REFIT_CHOICES:
        return config.REFIT_CHOICES[word]
    if word in ("never", "0", "none"):
        return None
    try:
        every = pd.Timedelta(word)
    except ValueError:
        raise InputError(f"the refit interval '{text}' is not a duration like 1d, 6h or 90min (or auto, never)") from None
    if every < step:
        raise InputError(f"the refit interval {every} is shorter than one interval ({step})")
    return every


def backtest_settings(series: TrafficSeries, *, test_start: dt.date | pd.Timestamp | str | None = None,
                      horizon: int = 1, models: Sequence[str] = (), refit_every: str | None = None) -> BacktestSettings:
    """Settings with the test start read in the data's own zone (None or the default day: the
    default start, which may fall inside a day for short data); ``refit_every`` as ``parse_refit`` reads it."""
    default = default_test_start(series.y)
    if test_start is None or (isinstance(test_start, dt.date) and not isinstance(test_start, dt.datetime)
                              and test_start == default.date()):
        start = default
    else:
        start = to_local(pd.Timestamp(test_start), series.y)
    return BacktestSettings(start, int(horizon), tuple(models or config.DEFAULTS.models),
                            parse_refit(refit_every, series.step))


def backtest(series: TrafficSeries, settings: BacktestSettings, *, extra_steps: int = 0,
             progress: ProgressFn | None = None, n_jobs: int | None = None) -> BacktestResult:
    """Train, calibrate and score ``settings.models`` on one held-out window; paths are kept
    ``max(horizon, extra_steps)`` steps long (the replay reads forecasts ``boot_delay`` ahead)."""
    return run_backtest(series, test_start=settings.test_start, horizon=settings.horizon, models=settings.models,
                        extra_steps=max(settings.horizon, extra_steps), calibration_days=config.CALIBRATION_DAYS,
                        interval=config.DEFAULTS.interval, progress=progress,
                        n_jobs=config.DEFAULTS.n_jobs if n_jobs is None else n_jobs,
                        refit_every=settings.refit_every, workers=config.REFIT_WORKERS)


def remember_backtest(settings: Settings, result: BacktestResult) -> None:
    """The headline of this backtest for the Home status line (best effort)."""
    board = result.leaderboard(result.horizon)
    baseline = board.loc[board["model"] == "seasonal_naive", "rmse"]
    record_backtest(settings, {"source": result.series.source, "freq": result.series.freq,
                               "best_model": board["model"].iloc[0], "rmse": board["rmse"].iloc[0],
                               "baseline_rmse": baseline.iloc[0] if len(baseline) else float("nan")})


# ---------------------------------------------------------------------------------------------- forward
@dataclass(frozen=True)
class ForwardForecast:
    """Forecasts past the end of the data: ``frame`` holds ``y_pred`` and ``q<level>`` columns."""

    frame: pd.DataFrame
    model: str
    history: pd.Series  # the last days of actuals, for the chart

    @property
    def steps(self) -> int:
        return len(self.frame)

    def first(self, steps: int) -> ForwardForecast:
        """The first ``steps`` intervals (a stored longer forecast answers a shorter request)."""
        return self if steps >= self.steps else replace(self, frame=self.frame.iloc[:steps])

    @cached_property
    def table(self) -> pd.DataFrame:
        """The shown and downloaded table: timestamp, point forecast, and a column per quantile (q10, q90, ...)."""
        names = {c: f"q{100 * float(c[1:]):g}" for c in self.frame.columns if c.startswith("q")}
        return self.frame.reset_index().rename(columns={"y_pred": "point forecast", **names})


def forward_models(models: Sequence[str]) -> tuple[str, ...]:
    """The backtest's non-baseline models (a forward forecast of a baseline says nothing new), else LightGBM."""
    return tuple(m for m in models if m not in BASELINES) or ("lightgbm",)


def forward_step_limit(series: TrafficSeries) -> int:
    """Steps ahead a forward forecast can calibrate: at most a day, and inside the calibration window
    (the last ``CALIBRATION_DAYS``, or a quarter of a short history; later steps get no weight)."""
    y = series.y.dropna()
    span = min(pd.Timedelta(days=config.CALIBRATION_DAYS), (y.index[-1] - y.index[0]) * 0.25)
    return min(series.season, max(1, int(span / series.step) - 1))


def next_hour_steps(series: TrafficSeries) -> int:
    return max(1, int(pd.Timedelta("1h") / series.step))


def forward(series: TrafficSeries, models: Sequence[str], steps: int, *, progress: ProgressFn | None = None,
            quantiles: Sequence[float] | None = None, n_jobs: int | None = None) -> ForwardForecast:
    """Train on all the data and forecast ``steps`` intervals past its end, with quantiles."""
    frame = forward_forecast(series, steps=steps, models=models, calibration_days=config.CALIBRATION_DAYS,
                             quantiles=config.FORWARD_QUANTILES if quantiles is None else quantiles,
                             progress=progress, n_jobs=config.DEFAULTS.n_jobs if n_jobs is None else n_jobs)
    y = series.y
    history = y[y.index > y.index[-1] - pd.Timedelta(days=config.DEFAULTS.forward_history_days)]
    return ForwardForecast(frame=frame, model=str(frame.attrs.get("model", "ensemble")), history=history)


# ---------------------------------------------------------------------------------------------- autoscaling
def policy_params(base: ScalingParams | None = None, changes: Mapping[str, Any] | None = None) -> ScalingParams:
    """``base`` (default: the scenario) with ``changes`` applied, integer fields kept integers, validated."""
    values = asdict(base or config.SCENARIO)
    values.update({k: v for k, v in (changes or {}).items() if k in values})
    for f in fields(ScalingParams):
        if isinstance(getattr(config.SCENARIO, f.name), int) and values[f.name] is not None:
            values[f.name] = int(values[f.name])
    params = ScalingParams(**values)
    params.validate()
    return params


def policy_params_from_text(texts: Mapping[str, str]) -> ScalingParams:
    """The scenario with parameters given as text (a shared link's query string), validated."""
    changes: dict[str, Any] = {}
    for name, text in texts.items():
        try:
            changes[name] = float(text)
        except ValueError:
            raise InputError(f"{name} '{text}' is not a number") from None
    return policy_params(changes=changes)


def policy_params_as_text(params: ScalingParams) -> dict[str, str | None]:
    """Each parameter a user can set, as text that reads back exactly, or None where it is the scenario's."""
    out: dict[str, str | None] = {}
    for name in config.PARAM_FIELDS:
        value = getattr(params, name)
        if value == getattr(config.SCENARIO, name):
            out[name] = None
        elif isinstance(value, int):
            out[name] = str(value)
        else:
            out[name] = f"{value:g}" if float(f"{value:g}") == value else repr(float(value))
    return out


def priced_for(params: ScalingParams, series: TrafficSeries) -> ScalingParams:
    """``params`` priced at the series' interval length."""
    return replace(params, interval_minutes=series.step / pd.Timedelta("1min"))


def forecast_lead(params: ScalingParams) -> int:
    """Intervals ahead the predictive policy reads its forecasts: the boot delay, at least one."""
    return max(1, params.boot_delay)


def lead_text(intervals: int, params: ScalingParams) -> str:
    """'3 intervals (15 min)', '1 interval (60 min)'."""
    return f"{intervals} interval{'s' if intervals != 1 else ''} ({intervals * params.interval_minutes:g} min)"


def scaling_study(result: BacktestResult, params: ScalingParams, *, quantile: float | None = None,
                  like: ScalingStudy | None = None) -> ScalingStudy:
    """Replay every policy on the backtest's test window (forecasts issued ``boot_delay`` ahead) at
    ``quantile`` (default: the cheapest that meets the SLO), with the cost vs overload frontier; ``like``, a
    study of the same backtest and parameters at another quantile, lends its frontier and oracle."""
    lead = forecast_lead(params)
    if lead > result.calibrated.horizon:
        raise InputError(f"the backtest kept forecasts {lead_text(result.calibrated.horizon, params)} ahead; a "
                         f"{params.boot_minutes:g}-minute boot needs forecasts {lead_text(lead, params)} ahead: "
                         "run it again")
    return _scaling_study(result, params, quantile=quantile, quantiles=config.QUANTILE_OPTIONS, like=like)


def recommend_next_hour(forecast: ForwardForecast, current_servers: int | None, params: ScalingParams,
                        quantile: float) -> Recommendation:
    """Servers for the next hour at the forecast's ``quantile``, when to order them, and why."""
    return next_hour_recommendation(forecast.frame, current_servers, params, f"q{quantile:g}")
