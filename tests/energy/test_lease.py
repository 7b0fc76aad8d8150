"""Two simulators on one real PostgreSQL: exactly one writes; the other takes over when it stops."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from core.energy.service import HOUR, LeaseLost, bootstrap, sim_time
from core.energy.simulator import EnergySimulator
from core.storage import energy_repo as repo
from tests.energy.conftest import NOW, make_env
from tests.support import reset_postgres


def _wait(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_only_one_simulator_writes_and_the_other_takes_over(pg_url: str, tmp_path: Path) -> None:
    reset_postgres(pg_url)
    env = make_env(pg_url, tmp_path / "models", lease_seconds=2.0)
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    start = sim_time(env.engine)
    # Two "processes": separate engines, holders and threads, demo speed (a tick every ~0.02 s).
    other_engine = make_env(pg_url, tmp_path / "models", lease_seconds=2.0)
    first = EnergySimulator(env.engine, env.registry, config=env.config, speed=3000, clock=lambda: NOW).start()
    assert _wait(lambda: first.status().writer)
    second = EnergySimulator(other_engine.engine, other_engine.registry, config=env.config, speed=3000,
                             clock=lambda: NOW).start()
    assert _wait(lambda: sim_time(env.engine) >= start + 10 * HOUR)
    time.sleep(0.5)
    assert first.status().writer and not second.status().writer
    assert repo.read_state(env.engine)["holder"] == first.holder
    try:
        second.advance(1)
        raise AssertionError("the standby simulator must not write")
    except LeaseLost:
        pass
    # No duplicates and no gaps: one writer ticked every hour exactly once.
    clock = sim_time(env.engine)
    with env.engine.connect() as conn:
        readings = repo.load_readings(conn, start, clock)
    assert len(readings) == 2 * int((clock - start) / HOUR)

    first.stop()  # releases the lease
    assert _wait(lambda: second.status().writer, timeout=30)
    taken_over_at = sim_time(env.engine)
    assert _wait(lambda: sim_time(env.engine) >= taken_over_at + 5 * HOUR)
    assert repo.read_state(env.engine)["holder"] == second.holder
    second.stop()
    clock = sim_time(env.engine)
    with env.engine.connect() as conn:
        readings = repo.load_readings(conn, start, clock)
    assert not readings.duplicated(["device_id", "ts_utc"]).any()
    assert len(readings) == 2 * int((clock - start) / HOUR)


def test_a_dead_holders_lease_expires(pg_url: str, tmp_path: Path) -> None:
    reset_postgres(pg_url)
    env = make_env(pg_url, tmp_path / "models", lease_seconds=1.0)
    now = pd.Timestamp.now(tz="UTC")
    with env.engine.begin() as conn:
        assert repo.take_lease(conn, "dead-process", now.to_pydatetime(), (now + pd.Timedelta(seconds=1)).to_pydatetime())
    with env.engine.begin() as conn:
        assert not repo.take_lease(conn, "alive", now.to_pydatetime(), (now + pd.Timedelta(seconds=1)).to_pydatetime())
    later = now + pd.Timedelta(seconds=1.5)
    with env.engine.begin() as conn:
        assert repo.take_lease(conn, "alive", later.to_pydatetime(), (later + pd.Timedelta(seconds=1)).to_pydatetime())
