"""The Home page's one-line status for Energy Device Health (cheap: a few small queries)."""

from __future__ import annotations

from sqlalchemy import Engine

from core.config import Settings
from core.energy.service import daily_health, sim_time
from core.storage import energy_repo as repo
from core.storage import ensure_schema


def status_line(settings: Settings, engine: Engine) -> str:
    """Devices, the simulated clock and yesterday's health counts, in one line."""
    ensure_schema(engine)
    clock = sim_time(engine)
    if clock is None:
        return "not started yet: open the page to seed two devices and start the simulation"
    with engine.connect() as conn:
        n = repo.count_devices(conn)
        daily = daily_health(conn, clock, 1)
    counts = daily["status"].value_counts().to_dict() if not daily.empty else {}
    health = ", ".join(f"{counts[s]} {s}" for s in ("green", "red", "grey") if counts.get(s)) or "no health yet"
    return f"{n} device(s), simulated up to {clock:%Y-%m-%d %H:%M} UTC; last day: {health}"
