"""Synthetic regional cloud demand: deterministic per seed, documented in docs/demand.md.

For each region (its own country, time zone and public holidays) and each time step:

    users(t)   = base x growth(t) x yearly(t) x weekly(t) x daily(t) x holiday(t) x launch(t) x noise(t)
    cpu(t)     = 100 x (background share + users(t) x vCPU per user / installed vCPU) x noise(t), within 0-100
    storage(t) = start + cumulative ingest (proportional to users) - a rare clean-up

- growth: exponential, per region (15-35 % a year);
- yearly: a fourth-quarter peak and a May trough (+-12 %), plus the region's holiday season
  (European August, Brazil's January, Japan's Obon) and the Christmas week;
- weekly: weekends at 70-75 % of a weekday; daily (hourly data only): office hours in local time;
- holiday: public holidays of the region's country (the core's calendar) at 60 % of a normal day;
- launch: a product launch raises the level by 8-20 % from a date per region;
- noise: AR(1) on the log scale; outages: 2-3 stretches per region where every metric is missing;
- installed capacity: sized so the peak of the last 90 days uses a set share of it (22-95 %).

Daily data is dated by each region's local calendar day; hourly data is stamped in UTC, with its
daily and weekly shape in the region's local time. All randomness comes from numpy Generators seeded
by (seed, region name, stream), never from global state, so the same seed gives the same data.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.demand import config
from core.demand.data import CAPACITY_COLUMNS, LAUNCH_COLUMNS, DemandData, build_demand
from core.demand.regions import COUNTRIES, CountryGuess
from core.errors import InputError
from core.forecast.calendar import holiday_flags

Freq = Literal["daily", "hourly"]


@dataclass(frozen=True)
class RegionSpec:
    """One generated region: where it is, how big, how fast it grows, when its launch lands, and how
    full its installed capacity is at the end of the history."""

    name: str
    country: str
    timezone: str
    users: float  # active users per weekday at the start, before seasonality
    growth: float  # a year's growth (0.2 = +20 % a year)
    launch: str  # the product-launch date (local)
    launch_step: float  # the level step at the launch (0.1 = +10 %)
    storage_tb: float  # storage in use at the start
    vacation: tuple[int, float, float]  # the holiday season's (day of year, depth, width in days)
    # Installed capacity is sized so the peak of the last 90 days uses this share of it (cpu, storage,
    # users): regions near exhaustion, comfortable ones and an over-provisioned one.
    peak_use: tuple[float, float, float]
    vcpu_per_user: float = 0.05  # vCPU busy per active user


REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec("France Central", "FR", "Europe/Paris", 40_000, 0.22, "2024-03-12", 0.12, 310.0,
               (222, 0.18, 12.0), (0.93, 0.90, 0.88)),
    RegionSpec("Germany West Central", "DE", "Europe/Berlin", 55_000, 0.18, "2024-09-03", 0.10, 520.0,
               (215, 0.12, 14.0), (0.86, 0.72, 0.80)),
    RegionSpec("UK South", "GB", "Europe/London", 60_000, 0.15, "2023-10-10", 0.08, 640.0,
               (225, 0.08, 12.0), (0.62, 0.55, 0.60)),
    RegionSpec("East US", "US", "America/New_York", 120_000, 0.25, "2024-05-21", 0.15, 1_500.0,
               (186, 0.05, 6.0), (0.88, 0.80, 0.85)),
    RegionSpec("Japan East", "JP", "Asia/Tokyo", 45_000, 0.20, "2025-04-08", 0.12, 380.0,
               (227, 0.10, 4.0), (0.25, 0.40, 0.25)),
    RegionSpec("Brazil South", "BR", "America/Sao_Paulo", 25_000, 0.35, "2024-11-05", 0.20, 150.0,
               (20, 0.15, 14.0), (0.95, 0.92, 0.90)),
)

_WEEKDAY = np.array([1.0, 1.02, 1.03, 1.02, 0.97, 0.75, 0.70])  # Monday..Sunday
_HOURLY = np.array([0.45, 0.40, 0.38, 0.37, 0.38, 0.45, 0.60, 0.82, 1.05, 1.25, 1.35, 1.38,
                    1.30, 1.35, 1.38, 1.34, 1.25, 1.10, 0.95, 0.88, 0.82, 0.72, 0.60, 0.50])  # local hours
_HOURLY = _HOURLY / _HOURLY.mean()
YEARLY_AMPLITUDE = 0.12
YEARLY_PEAK_DAY = 319  # mid-November: the fourth-quarter peak (the trough is six months earlier, mid-May)
HOLIDAY_LEVEL = 0.60
CPU_BACKGROUND = 0.10  # share of installed vCPU busy with no users (batch, platform services)
# AR(1) coefficient and innovation sd on the log scale: a region's aggregate of ~100k users is smooth (about 2 %
# day to day); noisier data left even a model knowing the noise-free signal at MASE ~0.7 (daily users).
NOISE = {"daily": (0.5, 0.02), "hourly": (0.7, 0.025)}
OUTAGES = {"daily": (1, 3), "hourly": (2, 10)}  # outage length range, in steps
DAILY_INGEST = 0.0015  # storage grows by this share of the start level per day at the start's user level
CLEANUP_PER_YEAR = 1.0  # expected clean-ups (storage drops by 1-2.5 %) per region and year


def _rng(seed: int, region: str, stream: int) -> np.random.Generator:
    # crc32 of the name, not the position: adding or removing a region leaves the others unchanged.
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(region.encode()), stream]))


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    shocks = rng.normal(0.0, sd, n)
    out = np.empty(n)
    level = shocks[0] / np.sqrt(1 - phi**2)
    for i in range(n):
        level = phi * level + shocks[i] if i else level
        out[i] = level
    return out


def _yearly(day_of_year: np.ndarray, vacation: tuple[int, float, float]) -> np.ndarray:
    def bump(centre: float, width: float) -> np.ndarray:
        distance = (day_of_year - centre + 182.5) % 365.25 - 182.5  # wraps around the new year
        return np.exp(-0.5 * (distance / width) ** 2)

    centre, depth, width = vacation
    return (1.0 + YEARLY_AMPLITUDE * np.cos(2 * np.pi * (day_of_year - YEARLY_PEAK_DAY) / 365.25)
            - depth * bump(centre, width) - 0.15 * bump(361, 4.0))


def _outage_mask(rng: np.random.Generator, n: int, freq: Freq) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    low, high = OUTAGES[freq]
    margin = max(n // 20, high)  # none at the very start or end: the first and last values are known
    for _ in range(int(rng.integers(2, 4))):
        length = int(rng.integers(low, high + 1))
        start = int(rng.integers(margin, max(margin + 1, n - margin - length)))
        mask[start:start + length] = True
    return mask


def _sized(peak: float, use: float, grain: float) -> float:
    """Installed capacity whose ``use`` share is ``peak``, rounded up to a purchasable ``grain``."""
    return float(np.ceil(peak / use / grain) * grain)


def _region_frame(spec: RegionSpec, times: pd.DatetimeIndex, freq: Freq, seed: int) -> tuple[pd.DataFrame, dict]:
    local = times if times.tz is None else times.tz_convert(spec.timezone)
    wall = local if local.tz is None else local.tz_localize(None)  # local wall-clock time
    n = len(times)
    days = ((wall - wall[0].normalize()) / pd.Timedelta(days=1)).to_numpy()
    holiday = holiday_flags(local, spec.country)
    weekday = _WEEKDAY[local.day_of_week.to_numpy()]
    level = np.exp(np.log1p(spec.growth) * days / 365.25) * _yearly(local.day_of_year.to_numpy(), spec.vacation)
    level = level * np.where(wall >= pd.Timestamp(spec.launch), 1.0 + spec.launch_step, 1.0)
    off_day = np.where(holiday > 0, HOLIDAY_LEVEL, weekday)
    if freq == "hourly":
        shape = _HOURLY[local.hour.to_numpy()]
        quiet = (holiday > 0) | (local.day_of_week.to_numpy() >= 5)
        shape = np.where(quiet, 0.5 + 0.5 * shape, shape)  # a flatter day when offices are closed
    else:
        shape = np.ones(n)
    phi, sd = NOISE[freq]
    users = spec.users * level * off_day * shape * np.exp(_ar1(_rng(seed, spec.name, 1), n, phi, sd))
    recent = days >= days[-1] - 90
    cpu_use, storage_use, users_use = spec.peak_use
    # CPU % = background share + the users' vCPU over installed vCPU, sized from the recent peak.
    vcpu = _sized(users[recent].max() * spec.vcpu_per_user, cpu_use - CPU_BACKGROUND, 100.0)
    cpu_noise = np.exp(_ar1(_rng(seed, spec.name, 2), n, phi, sd / 2))
    cpu = np.clip(100.0 * (CPU_BACKGROUND + users * spec.vcpu_per_user / vcpu) * cpu_noise, 0.0, 100.0)
    steps_per_day = pd.Timedelta(days=1) / (times[1] - times[0])
    ingest = spec.storage_tb * DAILY_INGEST / steps_per_day * users / spec.users
    cleanup_rng = _rng(seed, spec.name, 3)
    cleanups = cleanup_rng.random(n) < CLEANUP_PER_YEAR / (365.25 * steps_per_day)
    storage = np.empty(n)
    used = spec.storage_tb
    for i in range(n):
        used = used * (1 - cleanup_rng.uniform(0.01, 0.025)) if cleanups[i] else used + ingest[i]
        storage[i] = used
    outage = _outage_mask(_rng(seed, spec.name, 4), n, freq)
    values = {"cpu": np.round(cpu, 2), "storage": np.round(storage, 3), "users": np.round(users)}
    frame = pd.concat([pd.DataFrame({"region": spec.name, "metric": metric, "ds": times,
                                     "y": np.where(outage, np.nan, value)}) for metric, value in values.items()],
                      ignore_index=True)
    capacity = {"cpu": vcpu, "storage": _sized(storage[recent].max(), storage_use, 10.0),
                "users": _sized(users[recent].max(), users_use, 1000.0)}
    return frame, capacity


def _capacity_table(installed: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Installed capacity per region and metric, in each metric's capacity unit (vCPU, TB, users)."""
    rows = [{"region": region, "metric": metric, "capacity": amount, "unit": config.METRICS[metric].capacity_unit,
             "cost_per_unit_month": config.UNIT_COST_MONTH[metric]}
            for region, per_metric in installed.items() for metric, amount in per_metric.items()]
    return pd.DataFrame(rows, columns=list(CAPACITY_COLUMNS))


def generate_demand(freq: Freq = "daily", *, seed: int = config.DEFAULT_SEED, start: object | None = None,
                    periods: int | None = None, regions: Sequence[RegionSpec] = REGIONS) -> DemandData:
    """Regional CPU %, storage TB and active users: daily for three years or hourly for 90 days by default."""
    if freq not in config.GENERATOR_FREQS:
        raise InputError(f"the generator's frequency is one of {', '.join(config.GENERATOR_FREQS)}, not '{freq}'")
    periods = config.GENERATOR_PERIODS[freq] if periods is None else int(periods)
    if periods < 14 * (24 if freq == "hourly" else 1):
        raise InputError("generate at least two weeks of data")
    if not regions:
        raise InputError("generate at least one region")
    first = pd.Timestamp(config.GENERATOR_START[freq] if start is None else start)  # type: ignore[arg-type]
    if freq == "hourly" and first.tzinfo is None:
        first = first.tz_localize("UTC")
    times = pd.date_range(first, periods=periods, freq=config.GENERATOR_FREQS[freq], unit="ns")
    frames, installed = [], {}
    for spec in regions:
        frame, installed[spec.name] = _region_frame(spec, times, freq, seed)
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    rows["row"] = np.nan
    given = {spec.name: CountryGuess(spec.name, spec.country, spec.timezone, "generator",
                                     f"{COUNTRIES.get(spec.country, (spec.country,))[0]}: set by the generator")
             for spec in regions}
    units = {metric: info.unit for metric, info in config.METRICS.items()}
    launches = pd.DataFrame([{"region": spec.name, "date": pd.Timestamp(spec.launch), "step": spec.launch_step}
                             for spec in regions], columns=list(LAUNCH_COLUMNS))
    launches["date"] = launches["date"].astype("datetime64[ns]")
    return build_demand(rows, layout="generated", from_data=given, units=units, capacity=_capacity_table(installed),
                        launches=launches,
                        notes=[f"generated ({freq}, seed {seed}): {len(regions)} regions x 3 metrics"])
