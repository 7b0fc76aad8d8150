"""The demand data every reader and the generator return: a panel, its regions and their capacity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from core.demand import config
from core.demand.regions import CountryGuess, resolve_regions
from core.errors import InputError
from core.forecast.panel import series_of, validate_panel
from core.forecast.seasons import infer_step

PANEL_COLUMNS = ("series_id", "ds", "y", "region", "metric")
REGION_COLUMNS = ("region", "country", "timezone", "source", "note")
CAPACITY_COLUMNS = ("region", "metric", "capacity", "unit", "cost_per_unit_month")
LAUNCH_COLUMNS = ("region", "date", "step")


def series_name(region: str, metric: str) -> str:
    """The panel's series id: ``<region>/<metric>``."""
    return f"{region}/{metric}"


def empty_capacity() -> pd.DataFrame:
    return pd.DataFrame({"region": pd.Series(dtype=object), "metric": pd.Series(dtype=object),
                         "capacity": pd.Series(dtype=float), "unit": pd.Series(dtype=object),
                         "cost_per_unit_month": pd.Series(dtype=float)})


def empty_launches() -> pd.DataFrame:
    return pd.DataFrame({"region": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]"),
                         "step": pd.Series(dtype=float)})


@dataclass(frozen=True)
class DemandData:
    """Regional demand, ready for the forecasting core.

    - ``panel``: the core's long panel ``series_id, ds, y`` plus ``region, metric``; sorted; every series on
      its regular grid from its first to its last time, with missing intervals as NaN (never zero);
    - ``regions``: ``region, country, timezone, source, note`` (country None: no public holidays);
    - ``capacity``: ``region, metric, capacity, unit, cost_per_unit_month`` (empty when the data has none);
    - ``launches``: ``region, date, step``: known product launches (a level step from ``date``, local
      calendar day; ``step`` 0.12 = +12 %), a feature models may read ahead of time (empty when unknown);
    - ``step``: the time between rows, read from the data; ``layout``: how the file was read.
    """

    panel: pd.DataFrame
    regions: pd.DataFrame
    step: pd.Timedelta
    layout: str
    capacity: pd.DataFrame = field(default_factory=empty_capacity)
    launches: pd.DataFrame = field(default_factory=empty_launches)
    units: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    source: str = ""

    @property
    def series_ids(self) -> list[str]:
        return list(self.panel["series_id"].unique())

    @property
    def region_names(self) -> list[str]:
        return list(self.regions["region"])

    @property
    def metric_names(self) -> list[str]:
        return list(dict.fromkeys(self.panel["metric"]))

    @property
    def freq_label(self) -> str:
        """'daily', 'hourly' or the step itself ('5min')."""
        for label, step in config.GENERATOR_FREQS.items():
            if step == self.step:
                return label
        return pd.tseries.frequencies.to_offset(self.step).freqstr

    @property
    def missing(self) -> int:
        """Intervals without a value (outages, gaps) across all series."""
        return int(self.panel["y"].isna().sum())

    def series(self, series_id: str) -> pd.Series:
        """One series on its regular grid (missing intervals NaN)."""
        if series_id not in set(self.panel["series_id"]):
            raise InputError(f"no series '{series_id}' (series: {', '.join(self.series_ids)})")
        return series_of(self.panel, series_id)

    def country_of(self, region: str) -> str | None:
        row = self.regions.loc[self.regions["region"] == region]
        if row.empty:
            raise InputError(f"no region named '{region}'")
        value = row["country"].iloc[0]
        return None if pd.isna(value) else str(value)

    def with_countries(self, overrides: Mapping[str, str]) -> DemandData:
        """The same data with some regions' countries set by the user (code, name, or 'none'); the
        other regions keep theirs, including earlier choices of the user."""
        kept = {str(r["region"]): CountryGuess(**r) for r in self.regions.to_dict("records")}
        regions = resolve_regions(self.region_names, overrides=overrides, from_data=kept)
        return replace(self, regions=regions)


def build_demand(rows: pd.DataFrame, *, layout: str, countries: Mapping[str, str] | None = None,
                 from_data: Mapping[str, CountryGuess] | None = None, notes: list[str] | None = None,
                 units: Mapping[str, str] | None = None, capacity: pd.DataFrame | None = None,
                 launches: pd.DataFrame | None = None, file: str | None = None) -> DemandData:
    """DemandData from long rows ``region, metric, ds, y, row`` (``row``: the file's spreadsheet row).

    Refuses a repeated (region, metric, time), naming both rows; a time off the data's step; more
    series or grid points than the limits. Fills each series' missing intervals with NaN.
    """
    notes = list(notes or [])
    rows = rows.copy()
    rows["region"] = rows["region"].astype(str).str.strip()
    rows["metric"] = rows["metric"].astype(str).str.strip()
    blank = (rows["region"] == "") | rows["region"].str.lower().isin(("nan", "none"))
    if blank.any():
        first = rows.loc[blank].iloc[0]
        raise InputError("the region is empty", file=file, row=_row(first))
    rows["ds"] = _as_ns(rows["ds"])
    times = pd.DatetimeIndex(rows["ds"].drop_duplicates().sort_values())
    if len(times) < config.MIN_TIMESTAMPS:
        only = f" ({times[0]})" if len(times) else ""
        raise InputError(f"has only {len(times)} distinct time{only}: a demand history needs at least "
                         f"{config.MIN_TIMESTAMPS}", file=file)
    step = infer_step(times)
    if step > config.MAX_STEP:
        raise InputError(f"its times are {step} apart: demand data must be weekly or finer (daily, hourly, "
                         f"5-minute...)", file=file)
    rows = rows.sort_values(["region", "metric", "ds", "row"], kind="stable")
    repeated = rows.duplicated(["region", "metric", "ds"], keep="first")
    if repeated.any():
        later = rows.loc[repeated].iloc[0]
        earlier = rows.loc[(rows["region"] == later["region"]) & (rows["metric"] == later["metric"])
                           & (rows["ds"] == later["ds"])].iloc[0]
        raise InputError(f"region '{later['region']}', metric '{later['metric']}' has time {_when(later['ds'])} twice "
                         f"(rows {_row(earlier)} and {_row(later)}); duplicates are refused, not added up: "
                         f"remove or combine them", file=file, row=_row(later))
    keys = rows[["region", "metric"]].drop_duplicates()
    if len(keys) > config.MAX_SERIES:
        raise InputError(f"has {len(keys):,} region x metric series; the limit is {config.MAX_SERIES:,}", file=file)
    parts = []
    total = 0
    for (region, metric), group in rows.groupby(["region", "metric"], sort=False):
        start = group["ds"].iloc[0]
        offsets = (group["ds"] - start) / step
        off = ~np.isclose(offsets, np.round(offsets))
        if off.any():
            bad = group.loc[off].iloc[0]
            raise InputError(f"time {_when(bad['ds'])} of region '{region}', metric '{metric}' is off the data's "
                             f"{_step_words(step)} grid", file=file, row=_row(bad))
        grid = pd.date_range(start, group["ds"].iloc[-1], freq=step, unit="ns")
        total += len(grid)
        if total > config.MAX_GRID_POINTS:
            raise InputError(f"its times span {grid[-1] - grid[0]} at a {_step_words(step)} step, more than "
                             f"{config.MAX_GRID_POINTS:,} points: look for a stray date", file=file)
        y = pd.Series(group["y"].to_numpy(dtype=float), index=pd.DatetimeIndex(group["ds"])).reindex(grid)
        parts.append(pd.DataFrame({"series_id": series_name(str(region), str(metric)), "ds": grid,
                                   "y": y.to_numpy(), "region": str(region), "metric": str(metric)}))
    panel = validate_panel(pd.concat(parts, ignore_index=True))[list(PANEL_COLUMNS)]
    filled = len(panel) - len(rows)
    if filled:
        notes.append(f"{filled:,} intervals with no row are kept as missing (not zero)")
    missing = int(panel["y"].isna().sum())
    if missing:
        notes.append(f"{missing:,} of {len(panel):,} values are missing (outages or gaps): they stay missing")
    region_names = sorted(panel["region"].unique())
    regions = resolve_regions(region_names, overrides=countries, from_data=from_data)
    for row in regions.itertuples():
        if row.country is None:
            notes.append(f"region '{row.region}': {row.note}")
    return DemandData(panel=panel, regions=regions, step=step, layout=layout,
                      capacity=empty_capacity() if capacity is None else capacity,
                      launches=empty_launches() if launches is None else launches,
                      units=dict(units or {}), notes=tuple(notes), source=file or "")


def _as_ns(values: pd.Series) -> pd.Series:
    """Nanosecond datetimes (pandas 3 reads text at other resolutions; frames must compare equal)."""
    out = pd.to_datetime(values)
    return out.dt.as_unit("ns")


def _when(stamp: pd.Timestamp) -> str:
    """A time as people write it: the date alone at midnight."""
    stamp = pd.Timestamp(stamp)
    return str(stamp.date()) if stamp.tzinfo is None and stamp == stamp.normalize() else str(stamp)


def _row(record: pd.Series) -> int | None:
    value = record.get("row")
    return None if value is None or pd.isna(value) else int(value)


def _step_words(step: pd.Timedelta) -> str:
    if step == pd.Timedelta(days=1):
        return "daily"
    if step == pd.Timedelta(hours=1):
        return "hourly"
    return str(pd.tseries.frequencies.to_offset(step).freqstr)
