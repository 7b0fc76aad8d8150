"""A wide panel that carries each series' calendar: its country's holidays, its local time and its known launches.

Global models (``direct_gbm.DirectBoost``, ``global_lstm.GlobalLSTM``) forecast many series at once and need,
for any series and any target time, what the calendar says about that time *in that series' place*: the
weekday and day of year on the local clock, whether it is a public holiday there, and how much the level has
been stepped up by product launches announced ahead of time. All of it is known in advance, so it is a
legitimate feature for a target after the forecast origin; none of it is read from ``y``.

The second half holds the window normalisation both global models share, so the two read a series alike:
values are divided by their launch factor (a known step is not something to learn), put on a signed log
scale (relative changes, zero stays zero), and compared with the level of the last season before the origin.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.calendar import holiday_flags
from core.forecast.global_forecaster import wide_panel
from core.forecast.seasons import DAY, infer_step

Launch = tuple[pd.Timestamp, float]  # (local calendar day it takes effect, level step: 0.12 = +12 %)
HOLIDAY_REACH = 3  # days to / from a holiday are counted up to this; further away reads HOLIDAY_REACH + 1
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, eq=False)  # eq=False: comparing the value arrays elementwise is not what == means here
class CalendarPanel:
    """A ``WidePanel`` plus one calendar per series (each tuple has one entry per row of ``values``).

    ``countries``: ISO codes for public holidays (None: none). ``timezones``: IANA names; a UTC-aware grid
    (hourly data) is read on each series' local clock, a naive grid (daily dates) is local already.
    ``launches``: known level steps per series, each ``(local day, step)``. ``groups``: a category per
    series (the metric, say) so one model can tell CPU % from active users. Empty tuples mean "none"."""

    grid: pd.DatetimeIndex
    series_ids: pd.Index
    values: np.ndarray
    countries: tuple[str | None, ...] = ()
    timezones: tuple[str | None, ...] = ()
    launches: tuple[tuple[Launch, ...], ...] = ()
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.series_ids)
        values = np.asarray(self.values, dtype=float)
        if values.shape != (n, len(self.grid)):
            raise InputError(f"a panel of {n} series on {len(self.grid)} times needs values of that shape, "
                             f"got {values.shape}")
        object.__setattr__(self, "values", values)
        for name, default in (("countries", None), ("timezones", None), ("launches", ()), ("groups", "")):
            given = tuple(getattr(self, name))
            if not given:
                given = (default,) * n
            if len(given) != n:
                raise InputError(f"'{name}' needs one entry per series ({n}), got {len(given)}")
            object.__setattr__(self, name, given)
        object.__setattr__(self, "launches", tuple(_clean_launches(one) for one in self.launches))

    def with_values(self, values: np.ndarray) -> CalendarPanel:
        """The same series and calendars with other values (``hide_from``'s output, say)."""
        return replace(self, values=values)

    @property
    def step(self) -> pd.Timedelta:
        return infer_step(self.grid)

    @property
    def sub_daily(self) -> bool:
        return bool(self.step < DAY)


def _clean_launches(launches: Iterable[tuple[object, float]]) -> tuple[Launch, ...]:
    """Launches as naive local days, oldest first (a launch is a local calendar day, whatever its zone)."""
    days = []
    for when, step in launches:
        stamp = pd.Timestamp(when)  # type: ignore[arg-type]
        if stamp.tzinfo is not None:
            stamp = stamp.tz_localize(None)
        if not np.isfinite(step) or step <= -1:
            raise InputError(f"a launch step must be a finite share above -1 (0.12 = +12 %), got {step} on {stamp:%Y-%m-%d}")
        days.append((stamp.normalize(), float(step)))
    return tuple(sorted(days, key=lambda d: d[0]))


def _per_series(ids: pd.Index, given: object, default: object) -> tuple[object, ...]:
    """One entry per id from a mapping keyed by series id (missing ids get ``default``), or one value for all."""
    if given is None:
        return (default,) * len(ids)
    if isinstance(given, Mapping):
        return tuple(given.get(i, default) for i in ids)
    return (given,) * len(ids)


def _launch_table(ids: pd.Index, launches: Mapping[Hashable, Iterable[tuple[object, float]]] | pd.DataFrame | None
                  ) -> tuple[tuple[tuple[object, float], ...], ...]:
    if launches is None:
        return ((),) * len(ids)
    if isinstance(launches, pd.DataFrame):
        missing = [c for c in ("series_id", "date", "step") if c not in launches.columns]
        if missing:
            raise InputError(f"a launch table needs columns series_id, date, step; missing {', '.join(missing)}")
        by_id = {sid: list(zip(part["date"], part["step"], strict=True)) for sid, part in launches.groupby("series_id")}
        return tuple(tuple(by_id.get(i, ())) for i in ids)
    return tuple(tuple(launches.get(i, ())) for i in ids)


def calendar_panel(panel_long: pd.DataFrame, *, countries: Mapping[Hashable, str | None] | str | None = None,
                   timezones: Mapping[Hashable, str | None] | str | None = None,
                   launches: Mapping[Hashable, Iterable[tuple[object, float]]] | pd.DataFrame | None = None,
                   groups: Mapping[Hashable, str] | str | None = None) -> CalendarPanel:
    """A ``CalendarPanel`` from the long ``series_id, ds, y`` frame (``wide_panel``'s grid). Each calendar is a
    mapping keyed by series id or one value for every series; launches may also be a ``series_id, date, step``
    table."""
    wide = wide_panel(panel_long)
    ids = wide.series_ids
    return CalendarPanel(
        wide.grid, ids, wide.values,
        countries=_per_series(ids, countries, None),  # type: ignore[arg-type]
        timezones=_per_series(ids, timezones, None),  # type: ignore[arg-type]
        launches=_launch_table(ids, launches),  # type: ignore[arg-type]
        groups=tuple(str(g) for g in _per_series(ids, groups, "")),
    )


# --- calendar features ------------------------------------------------------------------------------

def grid_times(grid: pd.DatetimeIndex, positions: np.ndarray) -> pd.DatetimeIndex:
    """The times of grid positions, also before its start or after its end (targets beyond the data)."""
    step = infer_step(grid)
    return grid[0] + pd.to_timedelta(np.asarray(positions, dtype=np.int64) * step.value, unit="ns")


def local_times(panel: CalendarPanel, rows: np.ndarray, times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Each time on the wall clock of its series (naive). A naive grid is local already; an aware one is
    converted to the series' zone (a series with no zone keeps the grid's own)."""
    if times.tz is None:
        return times
    out = np.empty(len(times), dtype="datetime64[ns]")
    zones = np.asarray(panel.timezones, dtype=object)[rows]
    for zone in pd.unique(zones):
        pick = zones == zone
        part = times[pick]
        out[pick] = (part if zone is None else part.tz_convert(str(zone))).tz_localize(None).to_numpy()
    return pd.DatetimeIndex(out)


def _day_numbers(local: pd.DatetimeIndex) -> np.ndarray:
    """Local calendar days as integers (days since 1970-01-01), so calendars compare with searchsorted."""
    return local.to_numpy().astype("datetime64[D]").astype(np.int64)


@lru_cache(maxsize=2048)
def _holidays_of_year(country: str, year: int) -> tuple[int, ...]:
    # Cached per (country, year): the holidays package builds a calendar per call, which is slow in a loop.
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    return tuple(_day_numbers(days[holiday_flags(days, country) > 0]).tolist())


def holiday_days(country: str, first_year: int, last_year: int) -> np.ndarray:
    """The public holidays of ``country`` over the years (inclusive) as sorted day numbers."""
    days = [d for year in range(first_year, last_year + 1) for d in _holidays_of_year(country.upper(), year)]
    return np.asarray(days, dtype=np.int64)


def _holiday_columns(days: np.ndarray, country: str | None) -> dict[str, np.ndarray]:
    far = float(HOLIDAY_REACH + 1)
    if country is None or len(days) == 0:
        zeros = np.zeros(len(days))
        return {"is_holiday": zeros, "days_to_holiday": zeros + far, "days_from_holiday": zeros + far}
    epoch_years = (days // DAYS_PER_YEAR).astype(int) + 1970
    # One year either side, so a holiday just across New Year still counts as near.
    known = holiday_days(country, int(epoch_years.min()) - 1, int(epoch_years.max()) + 1)
    if len(known) == 0:
        return _holiday_columns(days, None)
    after = np.searchsorted(known, days, side="left")
    before = np.searchsorted(known, days, side="right") - 1
    to_next = np.where(after < len(known), known[np.minimum(after, len(known) - 1)] - days, far)
    from_last = np.where(before >= 0, days - known[np.maximum(before, 0)], far)
    return {"is_holiday": (to_next == 0).astype(float),
            "days_to_holiday": np.minimum(to_next, far).astype(float),
            "days_from_holiday": np.minimum(from_last, far).astype(float)}


def launch_columns(launches: tuple[Launch, ...], days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(launch factor, days since the latest launch) on each local day: the product of ``1 + step`` over the
    launches on or before it (1 before any), and NaN days when none has happened yet."""
    if not launches:
        return np.ones(len(days)), np.full(len(days), np.nan)
    when = _day_numbers(pd.DatetimeIndex([d for d, _ in launches]))
    factors = np.concatenate([[1.0], np.cumprod([1.0 + s for _, s in launches])])
    done = np.searchsorted(when, days, side="right")
    since = np.where(done > 0, days - when[np.maximum(done - 1, 0)], np.nan)
    return factors[done], since.astype(float)


def calendar_features(panel: CalendarPanel, rows: np.ndarray, times: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """What the calendar says about each (series row, time) pair, on the series' local clock: ``dow`` (0 =
    Monday), ``doy`` with ``doy_sin``/``doy_cos``, ``month``, ``hour`` (sub-daily grids only), ``is_holiday``,
    ``days_to_holiday``/``days_from_holiday`` (capped at ``HOLIDAY_REACH + 1``), ``launch_factor`` and
    ``days_since_launch``. Computed from the calendar only, never from ``y``."""
    rows = np.asarray(rows, dtype=int)
    if len(rows) != len(times):
        raise ValueError("calendar_features needs one time per row")
    local = local_times(panel, rows, pd.DatetimeIndex(times))
    days = _day_numbers(local)
    doy = local.day_of_year.to_numpy(dtype=float)
    angle = 2 * np.pi * (doy - 1) / DAYS_PER_YEAR
    out: dict[str, np.ndarray] = {
        "dow": ((days + 3) % 7).astype(float),  # 1970-01-01 was a Thursday
        "doy": doy, "doy_sin": np.sin(angle), "doy_cos": np.cos(angle),
        "month": local.month.to_numpy(dtype=float),
    }
    if panel.sub_daily:
        out["hour"] = local.hour.to_numpy(dtype=float) + local.minute.to_numpy(dtype=float) / 60
    holiday = {k: np.zeros(len(rows)) for k in ("is_holiday", "days_to_holiday", "days_from_holiday")}
    factor, since = np.ones(len(rows)), np.full(len(rows), np.nan)
    countries = np.asarray(panel.countries, dtype=object)[rows]
    for country in pd.unique(countries):
        pick = countries == country
        for key, column in _holiday_columns(days[pick], None if country is None else str(country)).items():
            holiday[key][pick] = column
    for row in np.unique(rows):
        if panel.launches[row]:
            pick = rows == row
            factor[pick], since[pick] = launch_columns(panel.launches[row], days[pick])
    out.update(holiday)
    out["launch_factor"], out["days_since_launch"] = factor, since
    return out


# --- the normalisation both global models share ----------------------------------------------------

def signed_log(x: np.ndarray) -> np.ndarray:
    """``log1p`` for non-negative values, mirrored for negative ones, so a series below zero still maps."""
    return np.sign(x) * np.log1p(np.abs(x))


def signed_exp(z: np.ndarray) -> np.ndarray:
    """The inverse of ``signed_log``."""
    return np.sign(z) * np.expm1(np.abs(z))


def launch_factors(panel: CalendarPanel) -> np.ndarray:
    """``(n_series, len(grid))``: each series' launch factor at each grid time (1 where it has no launch)."""
    out = np.ones(panel.values.shape)
    for row in np.flatnonzero([bool(one) for one in panel.launches]):
        rows = np.full(len(panel.grid), row)
        out[row] = launch_columns(panel.launches[row], _day_numbers(local_times(panel, rows, panel.grid)))[0]
    return out


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the known values among the last ``window`` positions up to and including each one (NaN
    where none is known): only the past, so reading it at an origin leaks nothing."""
    known = ~np.isnan(values)
    sums = np.cumsum(np.where(known, values, 0.0), axis=1)
    counts = np.cumsum(known, axis=1)
    pad = np.zeros((values.shape[0], 1))
    sums, counts = np.hstack([pad, sums]), np.hstack([pad, counts])
    lo = np.maximum(np.arange(values.shape[1]) + 1 - window, 0)
    hi = np.arange(values.shape[1]) + 1
    n = counts[:, hi] - counts[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[:, hi] - sums[:, lo]) / np.maximum(n, 1), np.nan)


def forward_filled(values: np.ndarray) -> np.ndarray:
    """The last known value at each position (NaN before the first): never back-filled."""
    idx = np.where(~np.isnan(values), np.arange(values.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out = values[np.arange(values.shape[0])[:, None], idx]
    return out


def trailing_level(values: np.ndarray, season: int) -> np.ndarray:
    """The level at each position from the past only: the mean of the last season's known values, else of
    the last four seasons' (an outage), else the last known value; NaN before the series starts."""
    level = trailing_mean(values, season)
    level = np.where(np.isnan(level), trailing_mean(values, 4 * season), level)
    return np.where(np.isnan(level), forward_filled(values), level)


@dataclass(frozen=True)
class LogPanel:
    """A panel on the shared scale: ``z`` = signed log of launch-free values, ``level`` = signed log of the
    trailing level, ``factor`` = launch factors on the grid."""

    z: np.ndarray
    level: np.ndarray
    factor: np.ndarray


def log_panel(panel: CalendarPanel, season: int) -> LogPanel:
    """The shared scale of a panel (computed on all of it; every reader indexes only up to its origin)."""
    factor = launch_factors(panel)
    free = panel.values / factor
    return LogPanel(signed_log(free), signed_log(trailing_level(free, max(season, 1))), factor)


def take(matrix: np.ndarray, rows: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``matrix[rows, positions]`` with NaN where a position falls off the grid."""
    inside = (positions >= 0) & (positions < matrix.shape[1])
    out = matrix[rows, np.clip(positions, 0, matrix.shape[1] - 1)]
    return np.where(inside, out, np.nan)
