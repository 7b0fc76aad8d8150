"""Energy settings in one place: health thresholds, simulator timing, model sizes, time zones,
and the energy page's widget defaults, limits and help texts.

Every threshold can be overridden with a ``HEADROOM_ENERGY_<NAME>`` environment variable
(e.g. ``HEADROOM_ENERGY_RATIO_GREEN=0.7``); pages, the CLI and the simulator read them here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

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
ALGORITHMS = ("lightgbm", "gru", "seasonal-naive")  # every next-hour model the registry can hold
DEFAULT_ALGORITHMS = ("lightgbm", "seasonal-naive")  # trained when nobody chose: fast, plus the baseline

# Device rules the service enforces and the device editor offers (one source for both).
BASE_LOAD_MIN_KW = 0.1
BASE_LOAD_MAX_KW = 100_000.0
DEVICE_NAME_MAX_CHARS = 120  # the width of energy_devices.name
BACKFILL_MAX_DAYS = 120  # one backfill request writes at most this many days


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
    # Any: each value was converted to its field's type above (or is a caller's own override).
    values: dict[str, Any] = {}
    for field in fields(EnergyConfig):
        variable = f"HEADROOM_ENERGY_{field.name.upper()}"
        raw = os.environ.get(variable)
        if raw:
            kind = int if field.type in ("int", int) else float
            try:
                values[field.name] = kind(raw)
            except ValueError as exc:
                raise ValueError(f"{variable} must be a number") from exc
    values.update(overrides)
    return replace(config, **values)


@dataclass(frozen=True)
class EnergyPageConfig:
    """Defaults, limits and help texts of the energy page's widgets (the page reads them here)."""

    # Live panel.
    max_grid_devices: int = 40  # a fleet of hundreds shows its worst devices, plus the selected one
    grid_days: int = 7
    history_hours: int = 24  # readings shown beside the chart
    health_table_days: int = 30
    refresh_min_seconds: float = 2.0  # at demo speed: poll about once per simulated hour, never faster
    refresh_real_time_seconds: float = 30.0
    view_cache_seconds: int = 60  # cached views also change key with the clock, so this only bounds memory
    # Device editor.
    base_load_default_kw: float = 5.0
    base_load_step_kw: float = 0.5
    # Simulation admin.
    advance_hours_default: int = 24
    advance_hours_min: int = 1
    advance_hours_max: int = 24 * 30
    backfill_default_days: int = 7
    # Models.
    default_algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    # Backtest of an uploaded CSV.
    backtest_timezone: str = "UTC"
    backtest_results_max_items: int = 4  # results kept per process, so picking a meter to chart reruns nothing
    backtest_results_max_mb: float = 256.0
    # Help texts.
    help_name: str = f"Unique, 1 to {DEVICE_NAME_MAX_CHARS} characters."
    help_timezone: str = "The device's local clock: its daily shape and public holidays follow it."
    help_base_load: str = (f"Typical load in kW ({BASE_LOAD_MIN_KW:g} to {BASE_LOAD_MAX_KW:,.0f}); the daily "
                           "and weekly shape of the profile is scaled by it.")
    help_profile: str = ("Residential: evening peak, busier weekends. Commercial: office hours, quiet weekends. "
                         "Industrial: near-flat, lower at weekends.")
    help_advance: str = "Tick this many simulated hours now, ahead of the wall clock if need be."
    help_backfill: str = ("Fills missing readings, forecasts of the deployed model and daily health in the range; "
                          "rows already stored are kept, and nothing is written past the simulated clock.")
    help_algorithms: str = ("GRU loads TensorFlow (slower). Same hour yesterday (seasonal naive) is always trained "
                            "beside them. The new models and the deployed one forecast the same held-out hours: the "
                            "lowest MAE on the earlier half is deployed if it beats same hour yesterday there, and "
                            "all are scored on the later half.")
    choice_rule: str = ("the lowest MAE there wins if it beats same hour yesterday (else same hour yesterday does); "
                        "a tie keeps the deployed model, then the simpler one. The chosen model (✓) is deployed.")
    help_model_versions: str = ("Each version's scores come from its own retrain, on that retrain's held-out hours, "
                                "so versions of different retrains are not comparable here: the last retrain above "
                                "compares them on the same hours.")
    help_simulator: str = ("Alive: the simulation thread runs in this app process. Below: whether this process "
                           "writes (several processes on one database: one writes, the others stand by).")
    help_lag: str = ("Wall clock minus simulated clock. Behind: up to 1 h is normal in real time, as the clock "
                     "ticks on each full hour; more means a catch-up is under way. Ahead: demo speed or 'Advance' "
                     "ran the simulation past the wall clock; in real time it waits for the wall clock to catch up.")
    help_ticks: str = "Simulated hours committed (all processes) / ticks that failed in this process and were skipped."
    help_meter_column: str = ("Detected when timestamps repeat across a column's values: several meters' "
                              "readings of one hour are never averaged together.")
    help_backtest_timezone: str = "Timestamps written without an offset are read as wall-clock time in this zone."


PAGE = EnergyPageConfig()
