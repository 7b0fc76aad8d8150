"""``python -m core demand generate``: write the default demand data (and its capacity and launches) as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.cli import add_json_flag
from core.demand import config
from core.demand.formats import long_table
from core.demand.generator import generate_demand
from core.errors import InputError
from core.io.export import safe_csv_bytes


def _target(path: Path, flag: str) -> Path:
    if path.is_dir():
        raise InputError(f"{flag} '{path}' is a folder; give a file name")
    if not path.parent.exists():
        raise InputError(f"{flag} '{path}': folder '{path.parent}' does not exist")
    return path


def _generate(args: argparse.Namespace) -> dict[str, Any]:
    out = _target(args.out, "--out")
    capacity_out = None if args.capacity_out is None else _target(args.capacity_out, "--capacity-out")
    launches_out = None if args.launches_out is None else _target(args.launches_out, "--launches-out")
    if args.seed < 0:
        raise InputError("--seed must be zero or more")
    data = generate_demand(args.freq, seed=args.seed)
    table = long_table(data)
    out.write_bytes(safe_csv_bytes(table))
    if capacity_out is not None:
        capacity_out.write_bytes(safe_csv_bytes(data.capacity))
    launches = data.launches.assign(date=data.launches["date"].dt.strftime("%Y-%m-%d"))
    if launches_out is not None:
        launches_out.write_bytes(safe_csv_bytes(launches))
    stamps = data.panel["ds"]
    return {"file": str(out), "capacity_csv": None if capacity_out is None else str(capacity_out),
            "freq": args.freq, "seed": args.seed, "rows": len(table), "columns": list(table.columns),
            "start": str(stamps.min()), "end": str(stamps.max()), "missing": data.missing,
            "regions": data.regions[["region", "country", "timezone"]].to_dict("records"),
            "metrics": {m: data.units.get(m, "") for m in data.metric_names},
            "launches_csv": None if launches_out is None else str(launches_out),
            "capacity": data.capacity.to_dict("records"), "launches": launches.to_dict("records")}


def register(subparsers: argparse._SubParsersAction) -> None:
    demand = subparsers.add_parser("demand", help="regional cloud demand: default data")
    verbs = demand.add_subparsers(dest="verb", metavar="<verb>", parser_class=type(demand))
    gen = verbs.add_parser("generate", help="write the generated regional demand (long CSV: time, region, metric, "
                                            "value)")
    gen.add_argument("--out", type=Path, required=True, help="CSV file to write")
    gen.add_argument("--freq", choices=tuple(config.GENERATOR_FREQS), default="daily",
                     help="daily: three years (default); hourly: 90 days, stamped in UTC")
    gen.add_argument("--seed", type=int, default=config.DEFAULT_SEED, help=config.HELP["seed"])
    gen.add_argument("--capacity-out", type=Path, help="also write the installed capacity per region and metric here")
    gen.add_argument("--launches-out", type=Path, help="also write the product launches (region, date, step) here")
    add_json_flag(gen)
    gen.set_defaults(handler=_generate)
