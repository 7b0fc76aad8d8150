"""Load a request-count CSV into a regular series, resample it, flag outages and bursts.

Missing intervals stay missing (NaN), never zero: an outage is not quiet traffic.
Timestamps keep the file's own zone, so calendar features and the heat map use the
server's local time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.io import parse_timestamps, require_numeric
from core.io.timestamps import detect_time_column

COUNT_COLUMN_NAMES = ("request_count", "requests_count", "requests", "count", "y", "value")
FREQUENCIES: dict[str, str] = {"1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h"}
MIN_ROWS = 3


@dataclass
class TrafficSeries:
    """A regular series of request counts at one frequency.

    ``y`` is NaN where no data exists; ``partial`` marks intervals built from only some
    of their native sub-intervals (a partial outage: the sum undercounts); ``extra`` keeps
    the file's other numeric columns resampled the same way, for display.
    """

    y: pd.Series
    freq: str
    native_freq: pd.Timedelta
    partial: pd.Series
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""
    notes: list[str] = field(default_factory=list)
    native: pd.Series | None = None  # counts at the file's own step, when finer than ``freq``

    @property
    def step(self) -> pd.Timedelta:
        return pd.Timedelta(self.freq)

    @property
    def season(self) -> int:
        """Intervals per day: the seasonal-naive lag."""
        return int(pd.Timedelta("1D") / self.step)

    @property
    def per_bin(self) -> int:
        """Native intervals per interval of ``freq`` (1 when the data is already at ``freq``)."""
        return max(1, int(self.step / self.native_freq))

    @property
    def missing(self) -> pd.Series:
        return self.y.isna()

    def usable(self) -> pd.Series:
        """Intervals with a complete count: the only ones models train and are scored on."""
        return self.y.notna() & ~self.partial


def detect_count_column(df: pd.DataFrame, time_col: str | None = None) -> str | None:
    """A known count name first, then the first numeric column that is not the time."""
    lowered = {str(c).lower(): c for c in df.columns}
    for name in COUNT_COLUMN_NAMES:
        if name in lowered and lowered[name] != time_col:
            return lowered[name]
    for column in df.columns:
        if column != time_col and pd.api.types.is_numeric_dtype(df[column]) and not str(column).startswith("is_"):
            return column
    return None


def load_counts(
    df: pd.DataFrame, *, time_col: str | None = None, value_col: str | None = None, file: str | None = None
) -> tuple[pd.Series, pd.DataFrame, list[str]]:
    """Validate a raw frame: returns (counts at the native grid, other numeric columns, notes).

    Duplicated timestamps are summed (two log shards for one interval), unsorted rows are
    sorted, and absent rows of the native grid become NaN.
    """
    file = file or df.attrs.get("csv_name")
    if len(df) < MIN_ROWS:
        raise InputError(f"has {len(df)} data row(s); a forecast needs at least {MIN_ROWS}", file=file)
    time_col = time_col or detect_time_column(df)
    if time_col is None or time_col not in df.columns:
        raise InputError("has no timestamp column (name one with --time-col)", file=file)
    value_col = value_col or detect_count_column(df, time_col)
    if value_col is None or value_col not in df.columns:
        raise InputError(
            f"has no request-count column (expected one of {', '.join(COUNT_COLUMN_NAMES)}; name one with --value-col)",
            file=file,
        )
    if value_col == time_col:
        raise InputError("the count column cannot be the timestamp column; pick another", file=file,
                         column=str(value_col))
    stamps = parse_timestamps(df[time_col], column=str(time_col), file=file)
    values = require_numeric(df, value_col, file=file)
    negative = values < 0
    if negative.any():
        first = int(np.flatnonzero(negative.to_numpy())[0])
        raise InputError("request counts cannot be negative", file=file, column=str(value_col), row=first + 2)
    notes: list[str] = []
    if "tz_note" in stamps.attrs:
        notes.append(stamps.attrs["tz_note"])
    # Other numeric columns (status codes, bytes, the file's own is_event / is_burst markers) are kept
    # for display and download; no model reads them. An outage flag adds nothing: missing rows say it.
    extra_cols = [
        c for c in df.columns if c not in (time_col, value_col) and pd.api.types.is_numeric_dtype(df[c])
        and "outage" not in str(c).lower()
    ]
    frame = pd.DataFrame({"y": values.to_numpy()}, index=pd.DatetimeIndex(stamps.to_numpy(), name="timestamp"))
    for c in extra_cols:
        frame[str(c)] = pd.to_numeric(df[c], errors="coerce").to_numpy()
    if not frame.index.is_monotonic_increasing:
        notes.append("rows were not in time order and were sorted")
        frame = frame.sort_index(kind="stable")
    if frame.index.has_duplicates:
        n = int(frame.index.duplicated().sum())
        notes.append(f"{n} duplicated timestamps were summed")
        frame = frame.groupby(level=0).sum(min_count=1)
    if frame["y"].notna().sum() < MIN_ROWS:
        raise InputError(f"column '{value_col}' has fewer than {MIN_ROWS} numbers", file=file, column=str(value_col))
    native = native_step(frame.index)
    full = pd.date_range(frame.index[0], frame.index[-1], freq=native, name="timestamp")
    off_grid = ~frame.index.isin(full)
    if off_grid.any():
        # Irregular stamps (e.g. a 1-minute log with seconds): floor them onto the grid.
        frame = frame.groupby(frame.index.floor(native)).sum(min_count=1)
        full = pd.date_range(frame.index[0], frame.index[-1], freq=native, name="timestamp")
    frame = frame.reindex(full)
    gaps = int(frame["y"].isna().sum())
    if gaps:
        notes.append(f"{gaps} of {len(frame)} intervals have no data (kept missing, not zero)")
    if frame["y"].nunique(dropna=True) == 1:
        notes.append("the series is constant: every model will forecast that constant")
    return frame["y"], frame.drop(columns="y"), notes


def native_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The file's own step: the most common positive gap between timestamps (at least a minute)."""
    diffs = pd.Series(index[1:] - index[:-1])
    diffs = diffs[diffs > pd.Timedelta(0)]
    if diffs.empty:
        raise InputError("all timestamps are identical")
    step = diffs.mode().iloc[0]
    return max(step, pd.Timedelta("1min")) if step < pd.Timedelta("1min") else step


def available_frequencies(native: pd.Timedelta) -> list[str]:
    """The granularities a native step allows: never finer than the data."""
    return [label for label, rule in FREQUENCIES.items() if pd.Timedelta(rule) >= native
            and pd.Timedelta(rule) % native == pd.Timedelta(0)]


def resample(counts: pd.Series, extra: pd.DataFrame, freq: str, *, source: str = "",
             notes: list[str] | None = None, native: pd.Timedelta | None = None) -> TrafficSeries:
    """Sum to ``freq`` ('5m' or a pandas rule). Empty intervals stay NaN; partly empty ones are flagged.
    ``native`` is the counts' own step when the caller knows it already."""
    rule = FREQUENCIES.get(freq, freq)
    if native is None:
        native = native_step(counts.index) if len(counts) > 1 else pd.Timedelta(rule)
    if pd.Timedelta(rule) < native:
        raise InputError(f"the data is at {_label(native)} steps; it cannot be shown at {freq}")
    if pd.Timedelta(rule) % native != pd.Timedelta(0):
        raise InputError(f"{freq} is not a multiple of the data's {_label(native)} step")
    per_bin = int(pd.Timedelta(rule) / native)
    grouped = counts.resample(rule)
    y = grouped.sum(min_count=1)
    present = grouped.count()
    partial = (present > 0) & (present < per_bin)
    # The first and last bins can be short only because the file starts/ends mid-bin.
    ext = extra.resample(rule).sum(min_count=1) if not extra.empty else pd.DataFrame(index=y.index)
    return TrafficSeries(y=y.astype(float), freq=rule, native_freq=native, partial=partial.reindex(y.index, fill_value=False),
                         extra=ext, source=source, notes=list(notes or []),
                         native=counts.astype(float) if per_bin > 1 else None)


def utc_offset(ts: pd.Timestamp) -> str:
    """'UTC−04:00', 'UTC' or '' (a naive time), with a true minus sign."""
    if ts.tzinfo is None:
        return ""
    offset = ts.utcoffset() or pd.Timedelta(0)
    if offset == pd.Timedelta(0):
        return "UTC"
    minutes = int(abs(offset) / pd.Timedelta("1min"))
    return f"UTC{'−' if offset < pd.Timedelta(0) else '+'}{minutes // 60:02d}:{minutes % 60:02d}"


def local_time(ts: pd.Timestamp, *, zone: bool = True) -> str:
    """'Fri 1 Sep 1995 00:00 (UTC−04:00)': the data's own wall-clock time, readably (ISO stays in downloads)."""
    ts = pd.Timestamp(ts)
    text = f"{ts:%a} {ts.day} {ts:%b %Y %H:%M}"
    offset = utc_offset(ts)
    return f"{text} ({offset})" if zone and offset else text


def _label(step: pd.Timedelta) -> str:
    minutes = step / pd.Timedelta("1min")
    return f"{minutes:g}-minute" if minutes < 60 else f"{minutes / 60:g}-hour"


def load_series(df: pd.DataFrame, freq: str = "5m", *, time_col: str | None = None, value_col: str | None = None,
                file: str | None = None, zero_runs_as_traffic: bool = False) -> TrafficSeries:
    """Raw CSV frame → TrafficSeries at ``freq``; long zero runs are missing unless ``zero_runs_as_traffic``."""
    counts, extra, notes = load_counts(df, time_col=time_col, value_col=value_col, file=file)
    counts, extra, gap_notes = treat_zero_runs(counts, extra, long_zero_runs(counts), as_traffic=zero_runs_as_traffic,
                                               file=file)
    return resample(counts, extra, freq, source=file or "", notes=notes + gap_notes)


# ---------------------------------------------------------------------------------------------- zero runs
@dataclass(frozen=True)
class ZeroRunRule:
    """A run of exact zeros is a suspected collection gap (a log that stopped, not a quiet service) when it
    lasts longer than max(k × the longest zero run that is not flagged, ``min_hours``). Quiet spells repeat
    (every night, say), so a run many times longer than any other is not one of them."""

    k: float = 3.0
    min_hours: float = 6.0

    def describe(self) -> str:
        return (f"a run of zero counts is read as a collection gap when it lasts longer than both {self.k:g} × the "
                f"longest other zero run and {self.min_hours:g} hours")


@dataclass(frozen=True)
class ZeroRun:
    """A run of zero counts read as a collection gap: its first and last interval, and for the note, the
    longest zero run that was not flagged (in intervals)."""

    start: pd.Timestamp
    end: pd.Timestamp
    intervals: int
    longest_other: int
    step: pd.Timedelta

    def describe(self) -> str:
        other = self.longest_other * self.step
        return (f"{self.intervals:,} intervals in a row with zero requests, from {self.start:%Y-%m-%d %H:%M} to "
                f"{self.end:%Y-%m-%d %H:%M} ({_duration(self.intervals * self.step)}; the longest other zero run is "
                f"{self.longest_other:,} interval{'s' if self.longest_other != 1 else ''}, {_duration(other)})")


def _duration(span: pd.Timedelta) -> str:
    hours = span / pd.Timedelta(hours=1)
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:g} h" if hours >= 1 else f"{hours * 60:g} min"


def long_zero_runs(counts: pd.Series, rule: ZeroRunRule = ZeroRunRule()) -> list[ZeroRun]:
    """Runs of exact zeros on the counts' own regular grid that the rule reads as collection gaps, in time order.

    Runs sorted longest first are flagged down to the last one that is longer than max(k × the next run,
    min_hours): so every flagged run beats the rule against the longest run left unflagged."""
    values = counts.to_numpy(dtype=float)
    if len(values) < 2:
        return []
    zero = np.concatenate([[False], values == 0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    if not len(starts):
        return []
    step = native_step(counts.index)
    lengths = stops - starts
    order = np.argsort(-lengths, kind="stable")
    ranked = np.concatenate([lengths[order], [0]])
    minimum = pd.Timedelta(hours=rule.min_hours) / step
    flagged = [i for i in range(len(order)) if ranked[i] > max(rule.k * ranked[i + 1], minimum)]
    if not flagged:
        return []
    cut = max(flagged) + 1
    other = int(ranked[cut])
    return [ZeroRun(start=counts.index[starts[j]], end=counts.index[stops[j] - 1], intervals=int(lengths[j]),
                    longest_other=other, step=step) for j in sorted(order[:cut])]


def treat_zero_runs(counts: pd.Series, extra: pd.DataFrame, runs: list[ZeroRun] | tuple[ZeroRun, ...], *,
                    as_traffic: bool = False, file: str | None = None) -> tuple[pd.Series, pd.DataFrame, list[str]]:
    """Counts (and the file's other columns) with the flagged zero runs made missing, unless ``as_traffic``;
    and a note per run saying which was done. Raises InputError when that leaves no value at all (every
    value is zero), saying so and how to keep them."""
    if not runs:
        return counts, extra, []
    if as_traffic:
        return counts, extra, [f"{run.describe()}: kept as traffic (zeros), as chosen" for run in runs]
    gap = np.zeros(len(counts), dtype=bool)
    for run in runs:
        gap |= (counts.index >= run.start) & (counts.index <= run.end)
    if not counts[~gap].notna().any():
        raise InputError("every value is zero: read as a collection gap (a log that stopped), so no interval is left "
                         "to learn from; pass --zero-runs-as-traffic (page: 'Treat long zero runs as traffic') if the "
                         "traffic really was zero", file=file)
    notes = [f"{run.describe()}: that looks like a collection gap, so it is treated as missing" for run in runs]
    masked_extra = extra.mask(pd.Series(gap, index=extra.index), axis=0) if len(extra.columns) else extra
    return counts.mask(gap), masked_extra, notes


@dataclass(frozen=True)
class BurstRule:
    """A burst: count above rolling median + k × 1.4826 × MAD of the previous ``window`` intervals."""

    window: int = 36
    k: float = 4.0

    def describe(self, step: pd.Timedelta) -> str:
        hours = self.window * step / pd.Timedelta(hours=1)
        span = f"{hours:g} h" if hours >= 1 else f"{hours * 60:g} min"
        return (f"burst = count > median + {self.k:g} × 1.4826 × MAD of the previous {self.window} intervals "
                f"({span}), computed on past data only")


def detect_bursts(y: pd.Series, rule: BurstRule = BurstRule()) -> pd.Series:
    """Boolean burst flags. Only past values enter the median/MAD (shifted by one interval)."""
    past = y.shift(1)
    med = past.rolling(rule.window, min_periods=max(3, rule.window // 3)).median()
    mad = (past - med).abs().rolling(rule.window, min_periods=max(3, rule.window // 3)).median()
    # A floor on the spread stops a flat stretch from flagging every small wiggle.
    spread = np.maximum(1.4826 * mad, np.sqrt(med.clip(lower=1.0)))
    return (y > med + rule.k * spread).fillna(False).astype(bool)


@dataclass(frozen=True)
class TrafficSummary:
    """Headline numbers of a series: per-interval mean, peak and p95, the busiest hour of day
    (local time), and how many intervals are missing or partial."""

    intervals: int
    missing_intervals: int
    partial_intervals: int
    mean: float
    p95: float
    peak: float
    peak_at: pd.Timestamp
    busiest_hour: int
    busiest_hour_mean: float
    start: pd.Timestamp
    end: pd.Timestamp


def summary(series: TrafficSeries) -> TrafficSummary:
    """Mean, peak and p95 per interval, the busiest hour of day, and coverage figures."""
    y = series.y.dropna()
    if y.empty:
        raise InputError("the series has no numbers to summarise")
    by_hour = y.groupby(y.index.hour).mean()
    return TrafficSummary(
        intervals=int(len(series.y)),
        missing_intervals=int(series.y.isna().sum()),
        partial_intervals=int(series.partial.sum()),
        mean=float(y.mean()),
        p95=float(y.quantile(0.95)),
        peak=float(y.max()),
        peak_at=pd.Timestamp(y.idxmax()),
        busiest_hour=int(by_hour.idxmax()),
        busiest_hour_mean=float(by_hour.max()),
        start=pd.Timestamp(series.y.index[0]),
        end=pd.Timestamp(series.y.index[-1]),
    )


def hour_weekday_table(y: pd.Series) -> pd.DataFrame:
    """Mean count per (weekday, hour of day), local time: rows Mon..Sun, columns 0..23."""
    s = y.dropna()
    table = s.groupby([s.index.day_of_week, s.index.hour]).mean().unstack()
    table.index = [("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[i] for i in table.index]
    return table.reindex(columns=range(24))


def status_columns(extra: pd.DataFrame) -> list[str]:
    """Status-code count columns (status_2xx, 4xx, code_5xx, ...) present in the file."""
    return [c for c in extra.columns if "xx" in c.lower() or c.lower().startswith("status")]


def bytes_column(extra: pd.DataFrame) -> str | None:
    return next((c for c in extra.columns if "byte" in c.lower()), None)


def flag_columns(extra: pd.DataFrame) -> list[str]:
    """0/1 marker columns the file brings (``is_event``, ``is_burst``, ``maintenance_flag``), to mark on
    the chart. Outage flags are left out: intervals without data are shaded already."""
    return [c for c in extra.columns
            if (str(c).lower().startswith("is_") or str(c).lower().endswith("_flag")) and "outage" not in str(c).lower()]
