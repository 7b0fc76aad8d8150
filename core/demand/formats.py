"""Read regional demand in the layouts people export, detected from the columns.

- **long**: ``timestamp, region, metric, value`` (also the bundled files, and the core's panel with
  ``series_id, ds, y, region, metric``);
- **one column per metric**: the reference system's ``date, region, resource_type, usage_cpu,
  usage_storage, users_active``: every numeric column is a metric; a text column such as
  ``resource_type`` splits each metric into one series per value (``cpu:VM``, ``cpu:Storage``);
- **one column per region**: ``date, France, Germany, ...``, one metric (named by the caller).

Times: ISO dates, day-first dates, epoch seconds (UTC), or seconds from a trace start (``0, 300, ...``).
A (region, metric, time) given twice is refused with both rows named, never added up.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from core.config import get_settings
from core.demand import config
from core.demand.data import CAPACITY_COLUMNS, LAUNCH_COLUMNS, DemandData, build_demand
from core.demand.regions import COUNTRIES, CountryGuess, country_code, guess_country
from core.errors import InputError
from core.io import parse_numeric, parse_timestamps, read_csv
from core.io.csv_reader import CsvSource
from core.io.timestamps import detect_time_column

Layout = Literal["long", "metric-columns", "region-columns"]
LAYOUT_WORDS: dict[str, str] = {
    "long": "long (time, region, metric, value)",
    "metric-columns": "one column per metric (time, region, metric columns)",
    "region-columns": "one column per region (time, then one column per region)",
    "generated": "generated",
}
_DAY_FIRST_TEXT = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2}|[A-Za-z]{3,9})[-/.]\d{2,4}")
_EPOCH_MIN = 1e8  # the core reader's smallest epoch (1973): smaller numbers are offsets from a trace start


def read_demand_csv(source: CsvSource, *, name: str | None = None, metric: str | None = None,
                    start: object | None = None, countries: Mapping[str, str] | None = None,
                    time_col: str | None = None) -> DemandData:
    """``read_demand`` of a CSV file (path, bytes or upload) read by the one CSV reader, within the row limit."""
    frame = read_csv(source, name=name, max_rows=get_settings().max_upload_rows)
    return read_demand(frame, metric=metric, start=start, countries=countries, time_col=time_col,
                       file=frame.attrs["csv"].name)


def read_demand(frame: pd.DataFrame, *, metric: str | None = None, start: object | None = None,
                countries: Mapping[str, str] | None = None, time_col: str | None = None,
                file: str | None = None) -> DemandData:
    """Regional demand from a frame in any of the three layouts; InputError naming the file, column
    and row for anything it cannot read.

    ``metric``: the metric of a one-column-per-region file (default 'demand'); ``start``: the moment
    offsets from a trace start count from (default ``config.TRACE_START``); ``countries``: region ->
    country code overriding the file and the guess from the name.
    """
    file = file or _file_name(frame)
    if frame.shape[1] == 0 or frame.empty:
        raise InputError("is empty", file=file)
    frame = frame.rename(columns=lambda c: str(c).strip()).reset_index(drop=True)
    time = _time_column(frame, time_col, file)
    notes: list[str] = []
    ds = _parse_times(frame[time], time, start, file, notes)
    roles = _roles(frame, time, file)
    layout: Layout = roles.pop("layout")  # type: ignore[assignment]
    rows_number = pd.Series(np.arange(len(frame)) + 2, index=frame.index)  # spreadsheet rows: header is row 1
    parts: list[pd.DataFrame] = []
    qualifier = _qualifier(frame, roles["labels"])
    if layout == "long":
        metric_names = _names(frame[roles["metric"]]).str.strip()
        parts.append(_rows(frame[roles["region"]], _qualified(metric_names, qualifier), ds,
                           _values(frame, roles["value"], file), rows_number))
        notes.insert(0, f"read as {LAYOUT_WORDS[layout]}: region from '{roles['region']}', metric from "
                        f"'{roles['metric']}', values from '{roles['value']}'")
    elif layout == "metric-columns":
        renamed = []
        for column in roles["values"]:
            name = config.REFERENCE_METRIC_COLUMNS.get(column.lower(), column)
            if name != column:
                renamed.append(f"{column} -> {name}")
            metric_names = pd.Series(name, index=frame.index)
            parts.append(_rows(frame[roles["region"]], _qualified(metric_names, qualifier), ds,
                               _values(frame, column, file), rows_number))
        notes.insert(0, f"read as {LAYOUT_WORDS[layout]}: region from '{roles['region']}', metrics "
                        f"{', '.join(roles['values'])}" + (f" (renamed {', '.join(renamed)})" if renamed else ""))
    else:
        name = (metric or config.WIDE_DEFAULT_METRIC).strip()
        if not name:
            raise InputError("the metric name is empty")
        for column in roles["values"]:
            parts.append(_rows(pd.Series(column, index=frame.index), pd.Series(name, index=frame.index), ds,
                               _values(frame, column, file), rows_number))
        notes.insert(0, f"read as {LAYOUT_WORDS[layout]}: regions {', '.join(roles['values'])}, metric '{name}'")
    if roles["labels"]:
        notes.append(f"{', '.join(repr(c) for c in roles['labels'])} split each metric into one series per value "
                     f"(metric{config.QUALIFIER_SEPARATOR}value, e.g. cpu{config.QUALIFIER_SEPARATOR}VM); "
                     f"values of different kinds are not added up")
    rows = pd.concat(parts, ignore_index=True)
    from_data = _countries_in_file(frame, roles, file)
    bases = {m: m.split(config.QUALIFIER_SEPARATOR)[0].lower() for m in rows["metric"].unique()}
    units = {m: config.IMPORTED_UNITS[b] for m, b in bases.items() if b in config.IMPORTED_UNITS}
    return build_demand(rows, layout=layout, countries=countries, from_data=from_data, notes=notes, units=units,
                        file=file)


def _file_name(frame: pd.DataFrame) -> str | None:
    info = frame.attrs.get("csv")
    return getattr(info, "name", None) or None


def _lookup(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _time_column(frame: pd.DataFrame, time_col: str | None, file: str | None) -> str:
    if time_col is not None:
        if time_col not in frame.columns:
            raise InputError(f"has no column '{time_col}' (columns: {', '.join(frame.columns)})", file=file)
        return time_col
    found = detect_time_column(frame) or _lookup(list(frame.columns), config.OFFSET_COLUMN_NAMES)
    if found is None:
        raise InputError(f"has no time column: name one timestamp, date or time (or offset, for seconds from a "
                         f"trace start), or write dates in the first column (columns: {', '.join(frame.columns)})",
                         file=file)
    return str(found)


def _parse_times(values: pd.Series, column: str, start: object | None, file: str | None,
                 notes: list[str]) -> pd.Series:
    """Timestamps from dates, epochs or offsets; a note says how they were read when it is not plain ISO."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    distinct = values.drop_duplicates().astype("string").str.strip()  # checks on distinct values: fast on 1M rows
    if not pd.api.types.is_numeric_dtype(values) and distinct.str.fullmatch(r"\d+(\.\d+)?").fillna(False).all():
        values = pd.to_numeric(values.astype("string").str.strip())  # digits that did not come through the CSV reader
    if pd.api.types.is_numeric_dtype(values):
        return _numeric_times(values.astype(float), column, start, file, notes)
    parsed = parse_timestamps(values, column=column, file=file)
    if "tz_note" in parsed.attrs:
        notes.append(parsed.attrs["tz_note"])
    match = distinct.str.extract(_DAY_FIRST_TEXT.pattern)
    if len(distinct) and match[0].notna().all():
        first = pd.to_numeric(match[0]).to_numpy()
        days = pd.Series(parsed.to_numpy(), index=values.index).loc[distinct.index]
        if np.array_equal(first, days.dt.day.to_numpy()) and not np.array_equal(first, days.dt.month.to_numpy()):
            notes.append(f"dates read day-first ('{distinct.iloc[0]}' is {days.iloc[0]:%d %B %Y})")
    return parsed


def _numeric_times(numbers: pd.Series, column: str, start: object | None, file: str | None,
                   notes: list[str]) -> pd.Series:
    if numbers.isna().any():
        first = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise InputError("the time is empty", file=file, column=column, row=first + 2)
    if (numbers < 0).any():
        first = int(np.flatnonzero((numbers < 0).to_numpy())[0])
        raise InputError(f"time {numbers.iloc[first]:g} is negative: times are dates, epoch seconds or seconds "
                         f"from a trace start", file=file, column=column, row=first + 2)
    whole = bool(np.all(numbers == np.round(numbers)))
    digits = numbers.astype("int64").astype(str) if whole else None
    if digits is not None and (numbers.min() >= _EPOCH_MIN or _compact_dates(digits)):
        # Compact dates (20240131, 202401310000) or epoch seconds / milliseconds: the core reader knows both.
        parsed = parse_timestamps(digits, column=column, file=file)
        if getattr(parsed.dt, "tz", None) is not None:
            notes.append("times are epoch seconds (or milliseconds), read as UTC")
        return parsed
    if numbers.min() >= _EPOCH_MIN:
        notes.append("times are epoch seconds, read as UTC")
        return parse_timestamps(numbers, column=column, file=file)
    origin = config.TRACE_START if start is None else pd.Timestamp(start)  # type: ignore[arg-type]
    if pd.isna(origin):
        raise InputError("the trace start is not a date")
    notes.append(f"times are seconds from the start of a trace, read from {origin}"
                 + (" (the default start: pass another to place the trace in time)" if start is None else ""))
    return pd.Series(origin + pd.to_timedelta(numbers.to_numpy(), unit="s"), index=numbers.index, name=column)


def _compact_dates(digits: pd.Series) -> bool:
    """Eight digits on every row that all read as dates (20240131)."""
    if not digits.str.len().eq(8).all():
        return False
    return bool(pd.to_datetime(digits, format="%Y%m%d", errors="coerce").notna().all())


def _is_label(values: pd.Series) -> bool:
    """Text that is mostly not numbers: names (regions, resource types), not a value column with bad cells."""
    if pd.api.types.is_numeric_dtype(values):
        return False
    numbers, bad = parse_numeric(values.drop_duplicates())
    present = int(numbers.notna().sum() + bad.sum())
    return present > 0 and bad.sum() > present / 2


def _roles(frame: pd.DataFrame, time: str, file: str | None) -> dict:
    """The layout and what each column is for."""
    columns = [c for c in frame.columns if c != time]
    region = _lookup(columns, config.REGION_COLUMN_NAMES)
    country = _lookup(columns, config.COUNTRY_COLUMN_NAMES)
    if region is None and country is not None and country.lower() in config.COUNTRY_AS_REGION_NAMES:
        region, country = country, None
    zone = _lookup(columns, config.TIMEZONE_COLUMN_NAMES)
    metric = _lookup(columns, config.METRIC_COLUMN_NAMES)
    taken = {c for c in (region, country, zone, metric) if c is not None}
    ignored = {c for c in columns if c.lower() in config.IGNORED_COLUMN_NAMES}
    rest = [c for c in columns if c not in taken | ignored]
    labels = [c for c in rest if _is_label(frame[c])]
    numeric = [c for c in rest if c not in labels]
    roles: dict = {"region": region, "metric": metric, "country": country, "timezone": zone, "labels": labels}
    if region is not None and metric is not None:
        value = _lookup(numeric, config.VALUE_COLUMN_NAMES) or (numeric[0] if len(numeric) == 1 else None)
        if value is None:
            raise InputError(f"has region and metric columns but no single value column: name it value "
                             f"(numeric columns: {', '.join(numeric) or 'none'})", file=file)
        return {**roles, "layout": "long", "value": value}
    if metric is not None:
        raise InputError(f"has a metric column '{metric}' but no region column: name it region "
                         f"(or location, zone, site)", file=file)
    if not numeric:
        raise InputError("matches none of the three layouts (found no column of numbers): use long (timestamp, "
                         "region, metric, value), one column per metric (date, region, usage_cpu, ...) or one "
                         f"column per region (date, France, Germany, ...); columns: {', '.join(frame.columns)}",
                         file=file)
    if region is not None:
        return {**roles, "layout": "metric-columns", "values": numeric}
    if labels:
        column = labels[0]
        numbers, bad = parse_numeric(frame[column])
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"holds text ('{frame[column].iloc[first]}'), not numbers: in a file with one column per "
                         f"region every column but the time is a region's values (a column of region names must "
                         f"be called region)", file=file, column=column, row=first + 2)
    return {**roles, "layout": "region-columns", "values": numeric}


def _values(frame: pd.DataFrame, column: str, file: str | None) -> pd.Series:
    """Numbers of one column; refuses text, negative and infinite values, naming the first such row."""
    values = frame[column]
    numbers, bad = (values.astype(float), pd.Series(False, index=values.index)) \
        if pd.api.types.is_numeric_dtype(values) else parse_numeric(values)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"'{values.iloc[first]}' is not a number ({int(bad.sum())} such cells)", file=file,
                         column=column, row=first + 2)
    wrong = (numbers < 0) | np.isinf(numbers)
    if wrong.any():
        first = int(np.flatnonzero(wrong.to_numpy())[0])
        raise InputError(f"{numbers.iloc[first]:g} is not a demand (values are zero or more, finite; an empty "
                         f"cell is missing data)", file=file, column=column, row=first + 2)
    return numbers


def _qualifier(frame: pd.DataFrame, labels: list[str]) -> pd.Series | None:
    if not labels:
        return None
    parts = [frame[c].astype("string").fillna("").str.strip() for c in labels]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + config.QUALIFIER_SEPARATOR + part
    return joined.str.strip(config.QUALIFIER_SEPARATOR)


def _qualified(metric: pd.Series, qualifier: pd.Series | None) -> pd.Series:
    if qualifier is None:
        return metric
    with_label = metric + config.QUALIFIER_SEPARATOR + qualifier
    return with_label.where(qualifier != "", metric).astype(str)


def _names(values: pd.Series) -> pd.Series:
    """Labels as text; numbered regions (1, 2, 3 read as floats by the CSV reader) stay '1', not '1.0'."""
    if pd.api.types.is_float_dtype(values) and bool((values.dropna() == values.dropna().round()).all()):
        return values.astype("Int64").astype(str)
    return values.astype(str)


def _rows(region: pd.Series, metric: pd.Series, ds: pd.Series, y: pd.Series, row: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"region": _names(region).to_numpy(), "metric": _names(metric).to_numpy(),
                         "ds": ds.array, "y": y.to_numpy(dtype=float), "row": row.to_numpy()})


def _countries_in_file(frame: pd.DataFrame, roles: dict, file: str | None) -> dict[str, CountryGuess]:
    """Each region's country (and zone) when the file has a country or time-zone column."""
    region, country, zone = roles.get("region"), roles.get("country"), roles.get("timezone")
    if region is None or (country is None and zone is None):
        return {}
    out: dict[str, CountryGuess] = {}
    names = frame[region].astype(str).str.strip()
    for name, index in names.groupby(names, sort=False).groups.items():
        guess = guess_country(str(name))
        if country is not None:
            code = _one_value(frame, country, index, str(name), file)
            if code is not None:
                try:
                    parsed = country_code(code)
                except InputError as exc:
                    raise InputError(exc.message, file=file, column=country, row=int(index[0]) + 2) from None
                where = f"from the file's '{country}' column"
                guess = CountryGuess(str(name), parsed, COUNTRIES[parsed][1] if parsed in COUNTRIES else None,
                                     "column", f"{COUNTRIES.get(parsed, (parsed,))[0]}: {where}" if parsed
                                     else f"no public holidays: {where}")
        if zone is not None:
            tz = _one_value(frame, zone, index, str(name), file)
            if tz is not None:
                try:
                    zoneinfo.ZoneInfo(tz)
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    raise InputError(f"'{tz}' is not a time zone (use names like Europe/Paris)", file=file,
                                     column=zone, row=int(index[0]) + 2) from None
                guess = replace(guess, timezone=tz, source="column" if guess.source != "none" else "none",
                                note=f"{guess.note}; time zone from the file's '{zone}' column")
        out[str(name)] = guess
    return out


def _one_value(frame: pd.DataFrame, column: str, index: pd.Index, region: str, file: str | None) -> str | None:
    values = frame.loc[index, column].astype("string").str.strip().replace("", pd.NA).dropna()
    distinct = list(dict.fromkeys(values))
    if len(distinct) > 1:
        second = values.index[values != distinct[0]][0]
        raise InputError(f"region '{region}' has two values here ('{distinct[0]}' and '{distinct[1]}')", file=file,
                         column=column, row=int(second) + 2)
    return str(distinct[0]) if distinct else None


def long_table(data: DemandData) -> pd.DataFrame:
    """The data in the long layout the bundled files use: ``date`` (or ``timestamp``), region, metric, value."""
    panel = data.panel.sort_values(["region", "metric", "ds"], kind="stable")
    stamps = pd.DatetimeIndex(panel["ds"])
    dated = stamps.tz is None and bool((stamps == stamps.normalize()).all())
    time = "date" if dated else "timestamp"
    return pd.DataFrame({time: stamps.strftime("%Y-%m-%d") if dated else stamps, "region": panel["region"].to_numpy(),
                         "metric": panel["metric"].to_numpy(), "value": panel["y"].to_numpy()})


def read_capacity(frame: pd.DataFrame, data: DemandData | None = None, *, file: str | None = None) -> pd.DataFrame:
    """A capacity table ``region, metric, capacity[, unit, cost_per_unit_month]``; with ``data``, every row must
    name one of its regions and metrics. Refuses a missing or negative capacity and a repeated pair."""
    file = file or _file_name(frame)
    lowered = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in ("region", "metric", "capacity") if c not in lowered]
    if missing:
        raise InputError(f"a capacity table needs columns region, metric, capacity; missing {', '.join(missing)}",
                         file=file)
    capacity = _values(frame, lowered["capacity"], file)
    out = pd.DataFrame({"region": frame[lowered["region"]].astype(str).str.strip(),
                        "metric": frame[lowered["metric"]].astype(str).str.strip(), "capacity": capacity})
    if capacity.isna().any():
        first = int(np.flatnonzero(capacity.isna().to_numpy())[0])
        raise InputError("the capacity is empty", file=file, column=str(lowered["capacity"]), row=first + 2)
    repeated = out.duplicated(["region", "metric"])
    if repeated.any():
        first = int(np.flatnonzero(repeated.to_numpy())[0])
        raise InputError(f"region '{out['region'].iloc[first]}', metric '{out['metric'].iloc[first]}' is given "
                         f"twice", file=file, row=first + 2)
    if data is not None:
        known = set(zip(data.panel["region"], data.panel["metric"], strict=True))
        unknown = [i for i, pair in enumerate(zip(out["region"], out["metric"], strict=True)) if pair not in known]
        if unknown:
            first = unknown[0]
            raise InputError(f"no series for region '{out['region'].iloc[first]}', metric "
                             f"'{out['metric'].iloc[first]}' in the data", file=file, row=first + 2)
    base = out["metric"].str.split(config.QUALIFIER_SEPARATOR).str[0].str.lower()
    out["unit"] = (frame[lowered["unit"]].astype(str).str.strip() if "unit" in lowered
                   else base.map(lambda m: config.METRICS[m].capacity_unit if m in config.METRICS else ""))
    cost = lowered.get("cost_per_unit_month")
    out["cost_per_unit_month"] = (_values(frame, cost, file) if cost is not None
                                  else base.map(config.UNIT_COST_MONTH).astype(float))
    return out[list(CAPACITY_COLUMNS)].reset_index(drop=True)


def read_launches(frame: pd.DataFrame, data: DemandData | None = None, *, file: str | None = None) -> pd.DataFrame:
    """Known product launches ``region, date[, step]`` (a level step from that local day); with ``data``,
    every region must be one of its regions. ``step`` (0.12 = +12 %) is empty when not given."""
    file = file or _file_name(frame)
    lowered = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in ("region", "date") if c not in lowered]
    if missing:
        raise InputError(f"a launch table needs columns region, date; missing {', '.join(missing)}", file=file)
    dates = parse_timestamps(frame[lowered["date"]], column=str(lowered["date"]), file=file)
    out = pd.DataFrame({"region": frame[lowered["region"]].astype(str).str.strip(),
                        "date": pd.to_datetime(dates).dt.tz_localize(None).dt.as_unit("ns")
                        if getattr(dates.dt, "tz", None) is not None else pd.to_datetime(dates).dt.as_unit("ns"),
                        "step": frame[lowered["step"]].astype(float) if "step" in lowered else np.nan})
    if data is not None:
        unknown = ~out["region"].isin(data.region_names)
        if unknown.any():
            first = int(np.flatnonzero(unknown.to_numpy())[0])
            raise InputError(f"no region named '{out['region'].iloc[first]}' in the data", file=file, row=first + 2)
    return out[list(LAUNCH_COLUMNS)].reset_index(drop=True)
