"""``python -m core demand generate``: write the default demand data (and its capacity and launches) as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from core.cli import add_json_flag
from core.demand import config, service
from core.demand.data import DemandData
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


def _countries(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        region, sep, code = pair.partition("=")
        if not sep or not region.strip() or not code.strip():
            raise InputError(f"--country '{pair}': write REGION=CC, e.g. 'France Central=FR' (or REGION=none)")
        out[region.strip()] = code.strip()
    return out


def _data(args: argparse.Namespace) -> DemandData:
    if not args.csv.is_file():
        raise InputError(f"--csv '{args.csv}' is not a file")
    data = service.load_upload(args.csv)
    overrides = _countries(args.country)
    unknown = sorted(set(overrides) - set(data.region_names))
    if unknown:
        raise InputError(f"--country names unknown region(s) {', '.join(unknown)} (regions: "
                         f"{', '.join(data.region_names)})")
    data = data.with_countries(overrides) if overrides else data
    return service.at_frequency(data, getattr(args, "freq", None))


def _options(args: argparse.Namespace) -> service.BacktestSettings:
    start = None
    if args.test_start:
        try:
            start = pd.Timestamp(args.test_start)
        except ValueError:
            raise InputError(f"--test-start '{args.test_start}' is not a date") from None
    models = tuple(m.strip() for m in args.models.split(",")) if args.models else config.DEFAULT_MODELS
    horizon = getattr(args, "backtest_horizon", None)
    if horizon is not None and horizon < 1:
        raise InputError("--horizon must be at least 1")
    return service.BacktestSettings(horizon=horizon, test_start=start, models=models)


def _backtest(args: argparse.Namespace) -> dict[str, Any]:
    data = _data(args)
    out = None if args.out is None else _target(args.out, "--out")
    result = service.backtest(data, _options(args))
    if out is not None:
        out.write_bytes(safe_csv_bytes(result.predictions()))
    board = result.leaderboard
    return {"file": str(args.csv), "freq": data.freq_label, "horizon": result.horizon,
            "test_start": str(result.windows.test_start), "predictions_csv": None if out is None else str(out),
            "summary": result.summary, "strategies": result.strategies.to_dict("records"),
            "choice": {r["series_id"]: r["uses"] for r in result.choice_table.to_dict("records")},
            "leaderboard": board.drop(columns=["region", "metric"]).to_dict("records"),
            "totals": result.totals_table.to_dict("records"), "notes": list(data.notes)}


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    out = _target(args.out, "--out")
    data = _data(args)
    if args.capacity is not None:
        if not args.capacity.is_file():
            raise InputError(f"--capacity '{args.capacity}' is not a file")
        data = service.with_capacity(data, args.capacity)
    if args.quantile is not None and (args.shortage_cost is not None or args.idle_cost is not None):
        raise InputError("give --quantile or --shortage-cost with --idle-cost, not both")
    quantile = service.quantile_for(args.quantile, args.shortage_cost, args.idle_cost)
    options = service.PlanSettings(quantile=quantile, headroom=args.headroom, lead_time_days=args.lead_time_days)
    result = service.backtest(data, _options(args))
    plan = service.plan(data, result, options, args.horizon)
    out.write_bytes(safe_csv_bytes(plan.download()))
    return {"file": str(args.csv), "plan_csv": str(out), "horizon_days": args.horizon, "quantile": quantile,
            "headroom": options.headroom, "lead_time_days": options.lead_time_days,
            "strategy": result.strategy, "interval_coverage": plan.coverage,
            "breach_rate": plan.breaches.to_dict("records")[-1], "plan": plan.table.to_dict("records"),
            "n_minus_one": plan.n_minus_one.to_dict("records"), "notes": [*data.notes, *plan.notes]}


def _holidays(args: argparse.Namespace) -> dict[str, Any]:
    data = _data(args)
    return {"file": str(args.csv), "holiday_impact": service.holiday_impact(data).to_dict("records")}


def _input_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", type=Path, required=True, help="demand CSV (long, one column per metric, or one "
                                                                "column per region)")
    parser.add_argument("--country", action="append", metavar="REGION=CC",
                        help="a region's country for its public holidays (repeatable; REGION=none for none)")


def _model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--freq", choices=("D", "H"), help="aggregate finer data to daily (D) or hourly (H) means")
    parser.add_argument("--test-start", help="first scored time; before it the models are fitted and the choice made "
                        f"(default: the last {config.DEFAULT_EVAL_WINDOWS[0]} windows, at least "
                        f"{config.DEFAULT_EVAL_WINDOWS[1]} days, are scored)")
    parser.add_argument("--models", help=f"comma-separated models (default {','.join(config.DEFAULT_MODELS)}; "
                        f"all: {','.join(config.ALL_MODELS)})")


def register(subparsers: argparse._SubParsersAction) -> None:
    demand = subparsers.add_parser("demand", help="regional cloud demand: data, backtests, capacity plans")
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

    bt = verbs.add_parser("backtest", help="score every model and the honest choice on rolling windows")
    _input_flags(bt)
    _model_flags(bt)
    bt.add_argument("--horizon", dest="backtest_horizon", type=int,
                    help="steps per window (default 28 for daily data, 24 for hourly)")
    bt.add_argument("--out", type=Path, help="predictions CSV: series, model, cutoff, ds, y_true, y_pred, lo, hi")
    add_json_flag(bt)
    bt.set_defaults(handler=_backtest)

    pl = verbs.add_parser("plan", help="capacity plan: required capacity, exhaustion and order-by dates, N-1")
    _input_flags(pl)
    _model_flags(pl)
    pl.add_argument("--horizon", type=int, required=True, help="planning horizon in days (30, 90, 180)")
    pl.add_argument("--quantile", type=float, help="service level: the forecast quantile planned for (default 0.95)")
    pl.add_argument("--shortage-cost", dest="shortage_cost", type=float, help="cost of one unit short (with "
                    "--idle-cost: the quantile is short / (short + idle))")
    pl.add_argument("--idle-cost", dest="idle_cost", type=float, help="cost of one unit idle")
    pl.add_argument("--headroom", type=float, default=config.PLAN_HEADROOM, help="extra share above the quantile")
    pl.add_argument("--lead-time-days", dest="lead_time_days", type=int, default=config.PLAN_LEAD_TIME_DAYS,
                    help="procurement lead time: order this long before the headroom runs out")
    pl.add_argument("--capacity", type=Path, help="installed capacity CSV: region, metric, capacity[, unit, "
                                                  "cost_per_unit_month]")
    pl.add_argument("--out", type=Path, required=True, help="plan CSV to write")
    add_json_flag(pl)
    pl.set_defaults(handler=_plan, backtest_horizon=None)

    ho = verbs.add_parser("holidays", help="holiday impact per region (weekday holidays vs the same weekday "
                                           "a week before and after)")
    _input_flags(ho)
    add_json_flag(ho)
    ho.set_defaults(handler=_holidays)
