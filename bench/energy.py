"""Energy Device Health figures: tick time at 500 devices, catch-up speed, forecast quality, memory.

Run: .venv/bin/python bench/energy.py [--gru] [--metered CSV [--metered-timezone ZONE]]
Everything runs on a throwaway SQLite database and model store in a temp dir.
- tick: one simulated hour for 500 devices (generate + forecast with the deployed model + store,
  one transaction), the mean and worst of 5;
- catch-up: a simulator starting 30 days behind the wall clock with 10 devices ticks every
  missed hour (720 transactions);
- quality: next-hour RMSE of the deployed model's stored forecasts over those 30 days (which it
  never trained on) divided by the RMSE of same-hour-yesterday on the same hours;
- memory: RSS of this process over 1,000 more ticks of the simulator thread;
- metered (with ``--metered``): ``energy backtest`` of a real metered CSV, LightGBM's next-hour RMSE
  ratio vs same hour yesterday on each meter's last 20%. The figure in docs/energy.md is the Taylor
  half-hourly electricity demand of England and Wales, 5 June to 27 August 2000, that pmdarima ships
  (``pmdarima.datasets.load_taylor()``, 4,032 values), written as ``DateTime`` (``%d-%m-%Y %H:%M``, from
  2000-06-05 00:00, every 30 minutes) and ``demand_mw``, read in Europe/London.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.energy import service  # noqa: E402
from core.energy.config import PROFILES, TIMEZONES, energy_config  # noqa: E402
from core.energy.health import score_window  # noqa: E402
from core.energy.service import HOUR, sim_time  # noqa: E402
from core.energy.simulator import EnergySimulator  # noqa: E402
from core.io import read_csv  # noqa: E402
from core.ml.registry import ModelRegistry  # noqa: E402
from core.storage import create_db_engine, ensure_schema  # noqa: E402
from core.storage import energy_repo as repo  # noqa: E402

NOW = pd.Timestamp.now(tz="UTC").floor("h")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def setup(root: Path, name: str, now: pd.Timestamp, n_devices: int, history_days: int, **overrides: object):  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{root / name}.db")
    ensure_schema(engine)
    registry = ModelRegistry(engine, root / f"{name}-models")
    config = energy_config(poll_seconds=0.001, **overrides)
    service.ensure_seeded(engine, config, now=now)
    zones = list(TIMEZONES)
    for i in range(2, n_devices):
        service.add_device(engine, f"bench-{i:04d}", zones[i % len(zones)], 2.0 + (i % 23), PROFILES[i % 3],
                           history_days=history_days, config=config)
    return engine, registry, config


def bench_tick(root: Path) -> None:
    started = time.perf_counter()
    engine, registry, config = setup(root, "tick", NOW, 500, 8, seed_history_days=30, train_days=30)
    service.ensure_model(engine, registry, config)
    print(f"setup 500 devices: {time.perf_counter() - started:.1f} s")
    sim = EnergySimulator(engine, registry, config=config, clock=lambda: NOW)
    sim.advance(1)  # warm-up: model load
    times = []
    for _ in range(5):
        t = time.perf_counter()
        report = sim.advance(1)
        times.append(time.perf_counter() - t)
        assert report.readings == 500 and report.forecasts == 500, report
    sim.stop()
    print(f"tick, 500 devices (generate + forecast + store, 1 transaction): mean {np.mean(times):.2f} s, "
          f"max {np.max(times):.2f} s over {len(times)} ticks  [target <= 5 s]")


def bench_catch_up_quality_memory(root: Path, with_gru: bool) -> None:
    behind = NOW - pd.Timedelta(days=30)
    engine, registry, config = setup(root, "catchup", behind, 10, 60)
    t = time.perf_counter()
    algorithms = ("lightgbm", "gru", "seasonal-naive") if with_gru else ("lightgbm", "seasonal-naive")
    retraining = service.retrain(engine, registry, algorithms, config=config)
    print(f"training on 60 days x 10 devices: {time.perf_counter() - t:.1f} s")
    c = retraining.comparison
    print(f"  chosen on the held-out hours from {c.choice_start}, scored on the later {c.hours} (from {c.start})")
    for r, row in zip(retraining.records, c.table.itertuples(index=False), strict=False):
        print(f"  {r.algorithm:15s} MAE when chosen {row.choice_mae:.3f}; scored RMSE ratio {r.metrics['rmse_ratio']:.3f}  "
              f"(RMSE {r.metrics['rmse']:.3f}, {r.metrics['n_validation']} hours)"
              + ("  <- deployed (chosen)" if r.notes == service.CHOSEN_NOTE else ""))
    deployed = registry.deployed("energy", "next-hour")
    assert deployed is not None
    sim = EnergySimulator(engine, registry, config=config)  # real clock: 720 hours behind
    t = time.perf_counter()
    sim.start()
    while sim_time(engine) < NOW and time.perf_counter() - t < 600:
        time.sleep(0.05)
    elapsed = time.perf_counter() - t
    status = sim.status()
    print(f"catch-up 30 days x 10 devices: {elapsed:.1f} s for {int((NOW - behind) / HOUR)} ticks, "
          f"errors {status.errors}  [target <= 60 s]")

    with engine.connect() as conn:
        readings = repo.load_readings(conn, behind - 24 * HOUR, NOW)
        forecasts = repo.load_forecasts(conn, behind + HOUR, NOW)
    forecasts = forecasts[forecasts["model_id"] == deployed.model_id]
    values = readings.set_index(["device_id", "ts_utc"])["value"]
    actual = values.reindex(pd.MultiIndex.from_arrays([forecasts["device_id"], forecasts["ts_utc"]])).to_numpy()
    base = values.reindex(pd.MultiIndex.from_arrays([forecasts["device_id"], forecasts["ts_utc"] - 24 * HOUR])).to_numpy()
    overall = score_window(actual, forecasts["y_pred"].to_numpy(), base, config)
    preds = forecasts["y_pred"].to_numpy()
    per_device = []
    for device_id in sorted(forecasts["device_id"].unique()):
        mine = (forecasts["device_id"] == device_id).to_numpy()
        per_device.append(score_window(actual[mine], preds[mine], base[mine], config).rmse_ratio)
    inside = np.mean((actual >= forecasts["lower"].to_numpy()) & (actual <= forecasts["upper"].to_numpy()))
    print(f"deployed {deployed.algorithm} ({deployed.model_id}) next-hour RMSE ratio vs same hour yesterday over the "
          f"30 caught-up days: {overall.rmse_ratio:.3f} (RMSE {overall.rmse:.3f} vs {overall.baseline_rmse:.3f}, "
          f"{overall.n_scored} hours; per device {min(per_device):.3f}..{max(per_device):.3f}); "
          f"{config.interval_level:.0%} interval coverage {inside:.1%}  [target <= 0.7]")

    # Memory over 1,000 more ticks by the running thread at demo speed (ahead of the wall clock).
    sim.stop()
    gc_start = rss_mb()
    sim = EnergySimulator(engine, registry, config=config, speed=600_000).start()
    start_ticks = sim.status().ticks
    samples = []
    t = time.perf_counter()
    while sim.status().ticks < start_ticks + 1000 and time.perf_counter() - t < 900:
        time.sleep(0.5)
        done = sim.status().ticks - start_ticks
        if not samples or done >= samples[-1][0] + 100:
            samples.append((done, rss_mb()))
    sim.stop()
    done = sim.status().ticks - start_ticks
    print(f"memory over {done} ticks ({time.perf_counter() - t:.0f} s): RSS start {gc_start:.0f} MB, "
          + ", ".join(f"after {n}: {mb:.0f} MB" for n, mb in samples[1::2]) + f", end {rss_mb():.0f} MB; "
          f"errors {sim.errors}")


def bench_metered(path: Path, timezone: str) -> None:
    t = time.perf_counter()
    result = service.metered_backtest(read_csv(path), timezone=timezone, file=path.name)
    o = result.overall
    print(f"metered {path.name}: LightGBM next-hour RMSE ratio vs same hour yesterday {o.rmse_ratio:.4f} "
          f"(RMSE {o.rmse:.1f} vs {o.baseline_rmse:.1f}, MAPE {o.mape:.2%}, {o.n_scored} held-out hours, "
          f"{result.report['train_targets']} training hours; {time.perf_counter() - t:.1f} s)  [target < 1]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gru", action="store_true", help="also train the GRU and report its held-out score")
    parser.add_argument("--metered", type=Path, help="a real metered CSV to backtest (see the docstring)")
    parser.add_argument("--metered-timezone", default="Europe/London", help="zone of its timestamps without offset")
    parser.add_argument("--metered-only", action="store_true", help="only the metered backtest")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.metered:
        bench_metered(args.metered, args.metered_timezone)
    if args.metered_only:
        return
    with tempfile.TemporaryDirectory(prefix="headroom-bench-energy-") as tmp:
        root = Path(tmp)
        bench_tick(root)
        bench_catch_up_quality_memory(root, args.gru)


if __name__ == "__main__":
    main()
