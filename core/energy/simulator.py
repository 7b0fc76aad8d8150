"""The background simulator: one daemon thread per process that ticks simulated hours.

- Real time (speed 0): one tick per wall-clock hour; on start it catches up every missed hour.
- ``speed`` > 0: that many simulated hours per real minute (demos); it first catches up to now.
- Only the holder of the database lease writes; a lease expires ``lease_seconds`` after its
  last renewal, so if the holder dies another process takes over.
- A failing tick is logged and counted and the loop goes on; ``stop()`` ends it.
No Streamlit here: the page polls the database for what this thread wrote.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from core.energy.config import EnergyConfig, energy_config
from core.energy.service import (
    HOUR,
    Lease,
    LeaseLost,
    TickReport,
    bootstrap,
    maybe_auto_retrain,
    new_holder_id,
    run_hours,
    utc_now,
)
from core.errors import HeadroomError
from core.ml.registry import ModelRegistry
from core.storage import energy_repo as repo

log = logging.getLogger(__name__)
THREAD_NAME = "headroom-energy-simulator"
MAX_HOURS_PER_STEP = 168  # a long catch-up commits hour by hour but plans a week at a time
_INSTANCES: weakref.WeakSet[EnergySimulator] = weakref.WeakSet()

TickFn = Callable[[list[pd.Timestamp]], TickReport]


@dataclass(frozen=True)
class SimulatorStatus:
    alive: bool
    writer: bool  # holds the lease in this process
    holder: str | None  # who holds the lease in the database
    mode: str
    sim_time: pd.Timestamp | None
    last_tick_at: pd.Timestamp | None
    lag_hours: float | None  # wall clock minus simulated clock; negative = ahead (demo speed)
    ticks: int  # committed ticks in the database (all processes)
    errors: int  # failed ticks in this process
    last_error: str | None


class EnergySimulator:
    def __init__(self, engine: Engine, registry: ModelRegistry, *, speed: float = 0.0,
                 config: EnergyConfig | None = None, holder: str | None = None,
                 clock: Callable[[], pd.Timestamp] = utc_now, tick: TickFn | None = None) -> None:
        self.engine = engine
        self.registry = registry
        self.speed = max(float(speed), 0.0)
        self.config = config or energy_config()
        self.holder = holder or new_holder_id()
        self.clock = clock
        self._tick_override = tick
        self._stop = threading.Event()
        self._lock = threading.RLock()  # one writer inside this process: loop, advance, backfill
        self._thread: threading.Thread | None = None
        self._writer = False
        self._last_speed_tick = time.monotonic()
        self.errors = 0
        self.last_error: str | None = None
        _INSTANCES.add(self)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> EnergySimulator:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            with self.engine.begin() as conn:
                repo.release_lease(conn, self.holder)
        except Exception:  # noqa: BLE001 - the database may be gone at shutdown
            log.warning("could not release the simulator lease", exc_info=True)
        self._writer = False

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - a failed tick must not end the simulation
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("energy simulator tick failed; continuing")
            self._stop.wait(self.config.poll_seconds)

    def _renew_lease(self) -> bool:
        now = utc_now()
        with self.engine.begin() as conn:
            self._writer = repo.take_lease(conn, self.holder, now.to_pydatetime(),
                                           (now + pd.Timedelta(seconds=self.config.lease_seconds)).to_pydatetime())
        return self._writer

    def step_lease_only(self) -> bool:
        """Claim or renew the lease without ticking."""
        with self._lock:
            return self._renew_lease()

    def due_hours(self) -> list[pd.Timestamp]:
        """Hour boundaries to tick now, oldest first: every missed hour up to the wall clock,
        then (demo speed) one more hour each 60/speed seconds."""
        state = repo.read_state(self.engine) or {}
        current = state.get("sim_time")
        if current is None:
            return []
        now_hour = self.clock().floor("h")
        if current < now_hour:
            count = min(int((now_hour - current) / HOUR), MAX_HOURS_PER_STEP)
            return [current + HOUR * k for k in range(1, count + 1)]
        if self.speed > 0 and time.monotonic() - self._last_speed_tick >= 60.0 / self.speed:
            return [current + HOUR]
        return []

    def _run(self, targets: list[pd.Timestamp]) -> TickReport:
        if self._tick_override is not None:
            return self._tick_override(targets)
        return run_hours(self.engine, self.registry, targets, lease=Lease(self.holder, self.config.lease_seconds),
                         config=self.config)

    def step(self) -> int:
        """One pass of the loop: renew the lease, tick whatever is due. Returns hours ticked."""
        with self._lock:
            if not self._renew_lease():
                return 0
            targets = self.due_hours()
            if not targets:
                return 0
            self._last_speed_tick = time.monotonic()
            report = self._run(targets)
        if report.red_devices:
            maybe_auto_retrain(self.engine, self.registry, report, self.config)
        return report.hours

    # --- controls used by the page and the CLI ---------------------------------------------------
    def advance(self, hours: int) -> TickReport:
        """Tick the next ``hours`` simulated hours now (ahead of the wall clock if need be)."""
        if hours < 1 or hours > 24 * 90:
            raise HeadroomError("advance between 1 and 2160 hours")
        with self._lock:
            if not self._renew_lease():
                raise LeaseLost("another process holds the simulator lease; it does the writing")
            state = repo.read_state(self.engine) or {}
            current = state.get("sim_time")
            if current is None:
                raise HeadroomError("the simulation has not been seeded yet")
            report = TickReport()
            for first in range(1, hours + 1, MAX_HOURS_PER_STEP):
                last = min(first + MAX_HOURS_PER_STEP - 1, hours)
                part = self._run([current + HOUR * k for k in range(first, last + 1)])
                report.hours += part.hours
                report.readings += part.readings
                report.forecasts += part.forecasts
                report.health_windows += part.health_windows
                report.model_id = part.model_id
                if part.red_devices:
                    maybe_auto_retrain(self.engine, self.registry, part, self.config)
            return report

    def status(self) -> SimulatorStatus:
        state = repo.read_state(self.engine) or {}
        current = state.get("sim_time")
        now = utc_now()
        lease_ok = state.get("lease_until") is not None and state["lease_until"] > now
        return SimulatorStatus(
            alive=self.alive,
            writer=self._writer and state.get("holder") == self.holder and lease_ok,
            holder=state.get("holder") if lease_ok else None,
            mode="real time" if self.speed == 0 else f"{self.speed:g} simulated h per minute",
            sim_time=current,
            last_tick_at=state.get("last_tick_at"),
            lag_hours=None if current is None else (now - current) / HOUR,
            ticks=int(state.get("ticks") or 0),
            errors=self.errors,
            last_error=self.last_error,
        )


def start_simulator(engine: Engine, registry: ModelRegistry, *, speed: float,
                    config: EnergyConfig | None = None) -> EnergySimulator:
    """Seed/bootstrap once, then start the thread (it catches up on missed hours first)."""
    bootstrap(engine, registry, config)
    simulator = EnergySimulator(engine, registry, speed=speed, config=config)
    simulator.step_lease_only()  # so the first page render already knows who writes
    return simulator.start()


def running_simulators() -> list[EnergySimulator]:
    """Simulators created in this process that are still alive (tests stop them)."""
    return [s for s in list(_INSTANCES) if s.alive]
