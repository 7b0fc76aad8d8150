"""Energy settings in one place: health thresholds, simulator timing, model sizes, time zones.

Every threshold can be overridden with a ``HEADROOM_ENERGY_<NAME>`` environment variable
(e.g. ``HEADROOM_ENERGY_RATIO_GREEN=0.7``); pages, the CLI and the simulator read them here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

DOMAIN = "energy"
MODEL_NAME = "next-hour"  # registry name shared by every next-hour model version

# Time zones offered in the device editor, with the country whose holidays apply.
TIMEZONES: dict[str, str | None] = {
    "America/New_York": "US", "America/Chicago": "US", "America/Denver": "US",
    "America/Los_Angeles": "US", "America/Toronto": "CA", "America/Mexico_City": "MX",
    "America/Sao_Paulo": "BR", "Europe/London": "GB", "Europe/Berlin": "DE", "Europe/Paris": "FR",
    "Europe/Madrid": "ES", "Europe/Rome": "IT", "Europe/Amsterdam": "NL", "Europe/Stockholm": "SE",
    "Europe/Warsaw": "PL", "Africa/Johannesburg": "ZA", "Asia/Kolkata": "IN", "Asia/Shanghai": "CN",
    "Asia/Singapore": "SG", "Asia/Tokyo": "JP", "Australia/Sydney": "AU", "UTC": None,
}
PROFILES = ("residential", "commercial", "industrial")


@lru_cache(maxsize=1)
def _zone_tab() -> dict[str, str]:
    """IANA zone -> ISO country from the system tz database, for zones outside TIMEZONES."""
    out: dict[str, str] = {}
    path = Path("/usr/share/zoneinfo/zone.tab")
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and not line.startswith("#"):
                out[parts[2]] = parts[0]
    return out


def country_of(tz: str) -> str | None:
    """The country whose public holidays apply in time zone ``tz`` (None: no holidays)."""
    if tz in TIMEZONES:
        return TIMEZONES[tz]
    return _zone_tab().get(tz)


@dataclass(frozen=True)
class EnergyConfig:
    # Health rule: green if rmse_ratio <= ratio_green or mape <= mape_green; grey below min_scored.
    ratio_green: float = 0.8
    mape_green: float = 0.2
    min_scored_hours: int = 12
    mape_floor_fraction: float = 0.1  # MAPE denominator floored at this share of the window's mean load
    red_days_to_retrain: int = 3  # automatic retrain after a device is red this many days in a row
    # Simulator.
    lease_seconds: float = 30.0  # a PostgreSQL writer lease expires this long after its last renewal
    poll_seconds: float = 1.0  # how often the loop wakes to check the clock and its stop event
    seed_history_days: int = 60
    seed_forecast_days: int = 7  # held-out days forecast at first start so the grid is not empty
    # Models.
    train_days: int = 60  # history used for (re)training
    max_train_rows: int = 300_000
    validation_fraction: float = 0.2
    gru_epochs: int = 15
    gru_window: int = 48
    interval_level: float = 0.8  # central coverage of stored forecast intervals


def energy_config(**overrides: object) -> EnergyConfig:
    """Defaults, then ``HEADROOM_ENERGY_*`` environment variables, then ``overrides``."""
    config = EnergyConfig()
    values: dict[str, object] = {}
    for field in fields(EnergyConfig):
        raw = os.environ.get(f"HEADROOM_ENERGY_{field.name.upper()}")
        if raw not in (None, ""):
            kind = int if field.type in ("int", int) else float
            try:
                values[field.name] = kind(raw)
            except ValueError as exc:
                raise ValueError(f"HEADROOM_ENERGY_{field.name.upper()} must be a number") from exc
    values.update(overrides)
    return replace(config, **values)
