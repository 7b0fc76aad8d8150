"""Ticks, catch-up, crash safety and the simulator thread (SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.energy import service
from core.energy.service import HOUR, TickReport, bootstrap, run_hours, sim_time
from core.energy.simulator import THREAD_NAME, EnergySimulator
from core.errors import InputError
from core.storage import energy_repo as repo
from tests.energy.conftest import NOW, EnergyEnv
from tests.support import ROOT


def _counts(env: EnergyEnv) -> tuple[int, int, int]:
    with env.engine.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(t)).scalar())  # type: ignore[return-value]
                     for t in (repo.readings, repo.forecasts, repo.health))


def _assert_whole_hours(env: EnergyEnv) -> None:
    """Every ticked hour has a reading and a forecast for every device; nothing after the clock."""
    clock = sim_time(env.engine)
    with env.engine.connect() as conn:
        n_devices = len(repo.list_devices(conn))
        readings = repo.load_readings(conn, clock - 30 * 24 * HOUR, clock + 1000 * HOUR)
        forecasts = repo.load_forecasts(conn, clock - 30 * 24 * HOUR, clock + 1000 * HOUR)
    assert readings["ts_utc"].max() == clock - HOUR
    assert forecasts["ts_utc"].max() == clock
    per_hour = readings.groupby("ts_utc").size()
    assert (per_hour == n_devices).all()
    assert not readings.duplicated(["device_id", "ts_utc"]).any()


def test_first_start_seeds_two_devices_history_model_and_health(env: EnergyEnv) -> None:
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    devices = service.list_devices(env.engine)
    assert list(devices["timezone"]) == ["America/New_York", "Europe/Berlin"]
    assert sim_time(env.engine) == NOW.floor("h")
    assert _counts(env)[0] == 2 * 21 * 24
    assert env.registry.deployed("energy", "next-hour") is not None
    with env.engine.connect() as conn:
        daily = service.daily_health(conn, NOW, 7)
    assert set(daily["status"]) <= {"green", "red", "grey"} and len(daily) == 2 * 2
    # a second start (another process) seeds nothing more
    assert service.ensure_seeded(env.engine, env.config, now=NOW + 5 * HOUR) is False
    assert _counts(env)[0] == 2 * 21 * 24


def test_catch_up_is_idempotent(any_db_env: EnergyEnv) -> None:
    env = any_db_env
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    start = sim_time(env.engine)
    targets = [start + HOUR * k for k in range(1, 40)]
    first = run_hours(env.engine, env.registry, targets, config=env.config)
    assert first.hours == 39 and first.readings == 78 and first.forecasts == 78
    after_first = _counts(env)
    again = run_hours(env.engine, env.registry, targets, config=env.config)
    assert again.readings == 0 and again.forecasts == 0
    assert _counts(env) == after_first
    assert sim_time(env.engine) == targets[-1]
    _assert_whole_hours(env)


def test_failure_inside_a_tick_rolls_the_whole_hour_back(any_db_env: EnergyEnv) -> None:
    env = any_db_env
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    start = sim_time(env.engine)
    targets = [start + HOUR * k for k in range(1, 6)]

    def crash(target: pd.Timestamp) -> None:
        if target == targets[2]:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        run_hours(env.engine, env.registry, targets, config=env.config, before_commit=crash)
    assert sim_time(env.engine) == targets[1]
    _assert_whole_hours(env)  # the third hour left nothing behind
    run_hours(env.engine, env.registry, targets, config=env.config)
    assert sim_time(env.engine) == targets[-1]
    _assert_whole_hours(env)


_CHILD = """
import sys, time, pandas as pd
from pathlib import Path
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine
from core.energy.service import run_hours, sim_time, HOUR
engine = create_db_engine(sys.argv[1]); registry = ModelRegistry(engine, Path(sys.argv[2]))
start = sim_time(engine)
def slow(target):
    print("in-tick", target, flush=True)
    time.sleep(0.3)
run_hours(engine, registry, [start + HOUR * k for k in range(1, 200)], before_commit=slow)
"""


def test_restart_after_a_kill_mid_tick_leaves_no_partial_hour(env: EnergyEnv, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    start = sim_time(env.engine)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, env.url, str(env.registry.model_dir)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        seen = 0
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("in-tick"):
                seen += 1
                if seen == 4:  # the 4th tick has written its rows but not committed
                    child.kill()
                    break
    finally:
        child.kill()
        child.wait(30)
    assert sim_time(env.engine) == start + 3 * HOUR
    _assert_whole_hours(env)
    # restart: catch up from where the clock stopped
    clock = sim_time(env.engine)
    run_hours(env.engine, env.registry, [clock + HOUR * k for k in range(1, 5)], config=env.config)
    assert sim_time(env.engine) == start + 7 * HOUR
    _assert_whole_hours(env)


def test_simulator_catches_up_missed_hours_in_order_on_start(env: EnergyEnv) -> None:
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    seen: list[pd.Timestamp] = []

    def tick(targets: list[pd.Timestamp]) -> TickReport:
        seen.extend(targets)
        return run_hours(env.engine, env.registry, targets, config=env.config)

    later = NOW + 30 * HOUR
    sim = EnergySimulator(env.engine, env.registry, config=env.config, clock=lambda: later, tick=tick).start()
    deadline = time.monotonic() + 60
    while sim_time(env.engine) < later.floor("h") and time.monotonic() < deadline:
        time.sleep(0.1)
    sim.stop()
    assert seen == [NOW.floor("h") + HOUR * k for k in range(1, 31)]
    _assert_whole_hours(env)


def test_a_raising_tick_does_not_stop_the_thread(env: EnergyEnv) -> None:
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    calls = {"n": 0}

    def flaky(targets: list[pd.Timestamp]) -> TickReport:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("tick failed on purpose")
        return run_hours(env.engine, env.registry, targets, config=env.config)

    sim = EnergySimulator(env.engine, env.registry, config=env.config, speed=6000, clock=lambda: NOW,
                          tick=flaky).start()
    deadline = time.monotonic() + 60
    while sim_time(env.engine) < NOW.floor("h") + 3 * HOUR and time.monotonic() < deadline:
        time.sleep(0.05)
    status = sim.status()
    assert status.alive and status.writer
    assert status.errors == 2 and "tick failed on purpose" in (status.last_error or "")
    assert status.sim_time >= NOW.floor("h") + 3 * HOUR
    assert [t.name for t in threading.enumerate()].count(THREAD_NAME) == 1
    sim.stop()
    assert not sim.alive


def test_advance_and_backfill_are_idempotent(env: EnergyEnv) -> None:
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    sim = EnergySimulator(env.engine, env.registry, config=env.config, clock=lambda: NOW)
    report = sim.advance(26)
    assert report.hours == 26 and report.health_windows >= 1
    clock = sim_time(env.engine)
    before = _counts(env)
    result = service.backfill(env.engine, env.registry, clock - 72 * HOUR, clock, config=env.config)
    assert result.readings == 0  # all readings were there
    assert _counts(env)[:2] == before[:2]
    with pytest.raises(InputError):
        service.backfill(env.engine, env.registry, clock, clock - HOUR, config=env.config)
    sim.stop()


def test_device_crud(env: EnergyEnv) -> None:
    bootstrap(env.engine, env.registry, env.config, now=NOW)
    new_id = service.add_device(env.engine, "Plant", "Asia/Tokyo", 50.0, "industrial", history_days=3,
                                config=env.config)
    with env.engine.connect() as conn:
        assert len(repo.load_readings(conn, NOW - 100 * HOUR, NOW, [new_id])) == 72
    with pytest.raises(InputError):
        service.add_device(env.engine, "Plant", "Asia/Tokyo", 50.0, "industrial", config=env.config)
    with pytest.raises(InputError):
        service.add_device(env.engine, "X", "Mars/Olympus", 50.0, "industrial", config=env.config)
    service.edit_device(env.engine, new_id, name="Plant 2", timezone="Europe/Paris", base_load=40.0,
                        profile="industrial")
    assert "Plant 2" in set(service.list_devices(env.engine)["name"])
    service.remove_device(env.engine, new_id)
    assert len(service.list_devices(env.engine)) == 2
    with env.engine.connect() as conn:
        assert repo.load_readings(conn, NOW - 100 * HOUR, NOW, [new_id]).empty


def test_red_for_n_days_triggers_one_automatic_retrain(env: EnergyEnv) -> None:
    from datetime import UTC, datetime

    bootstrap(env.engine, env.registry, env.config, now=NOW)
    clock = sim_time(env.engine).floor("D")
    days = env.config.red_days_to_retrain
    rows = pd.DataFrame([{"device_id": 1, "window_end": clock - pd.Timedelta(days=k), "model_id": "m", "n_scored": 24,
                          "rmse": 2.0, "mape": 0.5, "bias": 0.0, "baseline_rmse": 1.0, "rmse_ratio": 2.0,
                          "status": "red"} for k in range(days)])
    with env.engine.begin() as conn:
        repo.upsert_health(conn, rows, datetime.now(UTC))
        red = service.red_streak_devices(conn, clock, days)
        assert red == [1]
        assert service.red_streak_devices(conn, clock, days + 1) == []  # only N days of red, not N+1
    models_before = len(env.registry.list("energy"))
    report = TickReport(red_devices=red)
    assert service.maybe_auto_retrain(env.engine, env.registry, report, env.config)
    assert len(env.registry.list("energy")) == models_before + 2
    assert not service.maybe_auto_retrain(env.engine, env.registry, report, env.config)  # not again within N days
