"""Synthetic hourly load, deterministic per device seed and computable for any hour alone.

value(t) = base * shape(local hour, weekday, holiday, profile) * drift(t) * (1 + noise(t)) * spike(t)

- shape: daily and weekly pattern in the device's local time; public holidays of the time
  zone's country look like Sundays;
- noise: AR(1) with coefficient PHI, built as a truncated sum of past innovations so that any
  hour can be generated without the ones before it (idempotent catch-up and backfill);
- spike: rare multiplicative bursts; drift: a slow seasonal wave plus a small trend.
All randomness comes from a counter-based hash of (seed, hour), never from global state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.energy.config import country_of
from core.forecast import calendar

PHI = 0.8  # AR(1) coefficient of the noise
NOISE_SD = 0.06  # innovation sd, as a share of the load
AR_TERMS = 60  # PHI**60 ~ 1e-6: truncation error is negligible
SPIKE_PROBABILITY = 0.004
EPOCH = pd.Timestamp("2020-01-01", tz="UTC")

_DAILY = {
    # 24 multipliers for local hours 0..23
    "residential": np.array([0.55, 0.5, 0.48, 0.47, 0.48, 0.55, 0.75, 1.0, 1.05, 0.9, 0.8, 0.78,
                             0.8, 0.78, 0.76, 0.8, 0.95, 1.2, 1.45, 1.5, 1.4, 1.2, 0.95, 0.7]),
    "commercial": np.array([0.4, 0.38, 0.37, 0.37, 0.38, 0.45, 0.6, 0.9, 1.25, 1.4, 1.45, 1.45,
                            1.4, 1.45, 1.45, 1.4, 1.3, 1.1, 0.8, 0.6, 0.5, 0.45, 0.42, 0.4]),
    "industrial": np.array([0.85, 0.85, 0.85, 0.85, 0.85, 0.9, 1.05, 1.15, 1.15, 1.15, 1.15, 1.1,
                            1.1, 1.15, 1.15, 1.15, 1.1, 1.0, 0.95, 0.95, 0.9, 0.9, 0.88, 0.86]),
}
_WEEKEND = {"residential": 1.1, "commercial": 0.45, "industrial": 0.7}  # weekend/holiday level


@dataclass(frozen=True)
class DeviceSpec:
    device_id: int
    timezone: str
    base_load: float
    profile: str
    seed: int


def _splitmix(x: np.ndarray) -> np.ndarray:
    """A 64-bit mixing hash (splitmix64 finaliser), vectorised; overflow wraps on purpose."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(seed: int, stream: int, hours: np.ndarray) -> np.ndarray:
    key = np.uint64((seed * 1_000_003 + stream * 7919) % (1 << 63))
    with np.errstate(over="ignore"):
        mixed = _splitmix(hours.astype(np.uint64) * np.uint64(0x100000001B3) ^ _splitmix(np.array([key]))[0])
    return ((mixed >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def _normal(seed: int, hours: np.ndarray) -> np.ndarray:
    u1, u2 = _uniform(seed, 1, hours), _uniform(seed, 2, hours)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def holiday_flags(local: pd.DatetimeIndex, tz: str) -> np.ndarray:
    """1.0 where the local date is a public holiday of the zone's country (the forecasting core's calendar)."""
    country = country_of(tz)
    if country is None or len(local) == 0:
        return np.zeros(len(local))
    return calendar.holiday_flags(local, country)


def as_utc(value: object) -> pd.Timestamp:
    """A timestamp in UTC; naive values are taken as UTC."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def hour_numbers(ts_utc: pd.DatetimeIndex) -> np.ndarray:
    """Whole hours since EPOCH, the generator's counter."""
    return ((ts_utc - EPOCH) // pd.Timedelta(hours=1)).to_numpy(dtype=np.int64)


def generate(spec: DeviceSpec, ts_utc: pd.DatetimeIndex) -> np.ndarray:
    """The device's load (kW, average over the hour starting at each ``ts_utc``)."""
    if len(ts_utc) == 0:
        return np.zeros(0)
    ts_utc = pd.DatetimeIndex(ts_utc).tz_convert("UTC")
    hours = hour_numbers(ts_utc)
    local = ts_utc.tz_convert(spec.timezone)
    hour = local.hour.to_numpy()
    off_day = (local.dayofweek.to_numpy() >= 5) | (holiday_flags(local, spec.timezone) > 0)
    daily = _DAILY.get(spec.profile, _DAILY["residential"])[hour]
    level = np.where(off_day, _WEEKEND.get(spec.profile, 1.0), 1.0)
    if spec.profile == "commercial":  # offices are flat when closed, not a scaled-down workday
        daily = np.where(off_day, 0.8 + 0.2 * daily, daily)
    days = (hours / 24.0)
    phase = _uniform(spec.seed, 3, np.array([0]))[0] * 2 * np.pi
    drift = 1.0 + 0.08 * np.sin(2 * np.pi * days / 90.0 + phase) + 0.00005 * (days - 2000)
    # AR(1) noise at hour h = sum_k PHI^k z[h-k]: a convolution over a padded innovation range.
    lo, hi = int(hours.min()) - AR_TERMS, int(hours.max())
    span = np.arange(lo, hi + 1, dtype=np.int64)
    z = _normal(spec.seed, span)
    kernel = PHI ** np.arange(AR_TERMS + 1)
    ar = np.convolve(z, kernel, mode="full")[: len(span)]
    noise = NOISE_SD * ar[hours - lo]
    spike_u = _uniform(spec.seed, 4, hours)
    spike = np.where(spike_u < SPIKE_PROBABILITY, 1.5 + 2.0 * _uniform(spec.seed, 5, hours), 1.0)
    value = spec.base_load * daily * level * drift * (1.0 + noise) * spike
    return np.maximum(value, 0.0)


def generate_frame(specs: list[DeviceSpec], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Readings for every hour ``start <= ts < end`` of every device, long format."""
    ts = pd.date_range(as_utc(start).ceil("h"), as_utc(end), freq="h", inclusive="left")
    parts = [pd.DataFrame({"device_id": s.device_id, "ts_utc": ts, "value": generate(s, ts)}) for s in specs]
    if not parts:
        return pd.DataFrame({"device_id": pd.Series(dtype="int64"), "ts_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                             "value": pd.Series(dtype=float)})
    return pd.concat(parts, ignore_index=True)
