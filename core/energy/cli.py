"""``python -m core energy backtest | simulate``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from core.cli import add_json_flag
from core.config import get_settings
from core.energy.config import PROFILES, TIMEZONES, energy_config
from core.energy.service import add_device, bootstrap, list_devices, metered_backtest, sim_time
from core.energy.simulator import EnergySimulator
from core.errors import InputError
from core.io import read_csv
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine, ensure_schema, mask_url


def _backtest(args: argparse.Namespace) -> dict[str, Any]:
    if not args.csv.exists():
        raise InputError(f"file '{args.csv}' does not exist")
    frame = read_csv(args.csv, max_rows=get_settings().max_upload_rows)
    result = metered_backtest(frame, time_col=args.time_col, value_col=args.value_col, device_col=args.device_col,
                              detect_device=not args.single_meter, timezone=args.timezone, file=args.csv.name)
    return {"file": str(args.csv), **result.report}


def _simulate(args: argparse.Namespace) -> dict[str, Any]:
    if args.hours < 1:
        raise InputError("--hours must be at least 1")
    if args.devices is not None and not 1 <= args.devices <= 5000:
        raise InputError("--devices must be between 1 and 5000")
    settings = get_settings()
    engine = create_db_engine(settings.database_url)
    ensure_schema(engine)
    registry = ModelRegistry(engine, settings.model_dir)
    config = energy_config()
    bootstrap(engine, registry, config)
    added = 0
    if args.devices is not None:
        present = len(list_devices(engine))
        zones = list(TIMEZONES)
        for i in range(present, args.devices):
            add_device(engine, f"sim-{i + 1:04d}", zones[i % len(zones)], 2.0 + (i % 17), PROFILES[i % 3],
                       history_days=config.train_days, config=config)
            added += 1
    started = time.perf_counter()
    simulator = EnergySimulator(engine, registry, config=config)
    try:
        report = simulator.advance(args.hours)
    finally:
        simulator.stop()  # release the writer lease for the app or the next run
    seconds = time.perf_counter() - started
    return {"database": mask_url(settings.database_url), "devices": len(list_devices(engine)), "devices_added": added,
            "hours": report.hours, "readings": report.readings, "forecasts": report.forecasts,
            "health_days": report.health_windows, "model_id": report.model_id,
            "sim_time": str(sim_time(engine)), "seconds": round(seconds, 3),
            "seconds_per_tick": round(seconds / max(report.hours, 1), 4)}


def register(subparsers: argparse._SubParsersAction) -> None:
    energy = subparsers.add_parser("energy", help="energy devices: backtest on metered data, run the simulation")
    verbs = energy.add_subparsers(dest="verb", metavar="<verb>", parser_class=type(energy))
    bt = verbs.add_parser("backtest", help="next-hour forecasts on a metered CSV vs same hour yesterday")
    bt.add_argument("--csv", type=Path, required=True, help="CSV of readings: time, load and optionally device")
    bt.add_argument("--time-col", help="timestamp column (default: detected)")
    bt.add_argument("--value-col", help="load column (default: the only numeric column)")
    bt.add_argument("--device-col", help="device/meter column (default: detected when timestamps repeat, else one "
                                         "device)")
    bt.add_argument("--single-meter", action="store_true", help="read the whole file as one meter")
    bt.add_argument("--timezone", default="UTC", help="zone of timestamps written without an offset (default UTC)")
    add_json_flag(bt)
    bt.set_defaults(handler=_backtest)
    sim = verbs.add_parser("simulate", help="advance the simulation N hours against DATABASE_URL (headless)")
    sim.add_argument("--hours", type=int, required=True, help="simulated hours to tick")
    sim.add_argument("--devices", type=int, help="add simulated devices until there are this many")
    add_json_flag(sim)
    sim.set_defaults(handler=_simulate)
