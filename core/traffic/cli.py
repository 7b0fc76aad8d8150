"""``python -m core traffic backtest | autoscale | forecast``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from core.cli import add_json_flag
from core.config import get_settings
from core.errors import InputError
from core.io import read_csv
from core.io.export import safe_csv_bytes
from core.traffic import config, service
from core.traffic.autoscale import ScalingParams
from core.traffic.models import MODEL_NAMES
from core.traffic.series import FREQUENCIES, TrafficSeries, load_series

DEFAULT_MODELS = ",".join(config.DEFAULTS.models)


def _freq_label(freq: str) -> str:
    """Accept both '5m' and pandas rules like '5min'."""
    for label, rule in FREQUENCIES.items():
        if freq in (label, rule):
            return label
    raise InputError(f"--freq must be one of {', '.join(FREQUENCIES)} (or {', '.join(FREQUENCIES.values())})")


def _series(args: argparse.Namespace) -> TrafficSeries:
    if not args.csv.exists():
        raise InputError(f"file '{args.csv}' does not exist")
    frame = read_csv(args.csv, max_rows=get_settings().max_upload_rows)
    return load_series(frame, _freq_label(args.freq), time_col=args.time_col, value_col=args.value_col,
                       file=args.csv.name, zero_runs_as_traffic=args.zero_runs_as_traffic)


def _models(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODEL_NAMES]
    if unknown or not names:
        raise InputError(f"--models takes a comma list of {', '.join(MODEL_NAMES)}")
    return names


def _write(df: Any, path: Path | None) -> str | None:
    if path is None:
        return None
    path.write_bytes(safe_csv_bytes(df))
    return str(path)


def _backtest(args: argparse.Namespace) -> dict[str, Any]:
    series = _series(args)
    settings = service.backtest_settings(series, test_start=args.test_start, horizon=args.horizon,
                                         models=_models(args.models), refit_every=args.refit_every)
    result = service.backtest(series, settings, n_jobs=config.CLI_N_JOBS)
    board = result.leaderboard()
    out = _write(result.predictions(), args.out)
    every = settings.refit_every
    return {"file": str(args.csv), "freq": series.freq, "test_start": str(result.test_start),
            "horizon": args.horizon, "notes": series.notes, "predictions_csv": out,
            "refit_every": None if every is None else str(every), "refit": config.refit_label(every),
            "metrics": {row["model"]: {k: row[k] for k in ("mae", "rmse", "smape", "mase", "coverage", "n")}
                        for row in board.to_dict("records")},
            "ensemble": "recent-error weights (naive always in the pool) with adaptive conformal intervals",
            # Each member's mean weight in the ensemble over the test window.
            "ensemble_weights": {k: round(v, 4) for k, v in result.ensemble_shares(args.horizon).items()},
            "ensemble_stacked_weights": result.calibrated.weights.iloc[args.horizon - 1].round(4).to_dict()}


# Flags of the per-interval units (before capacity became per second and durations minutes): still read,
# converted at the chosen granularity, with a note on stderr (stdout stays one JSON object).
_DEPRECATED = {"capacity_per_server": ("--capacity-per-server", "--capacity-rps", "capacity_rps"),
               "boot_delay": ("--boot-delay", "--boot-minutes", "boot_minutes"),
               "scale_in_window": ("--scale-in-window", "--scale-in-minutes", "scale_in_minutes"),
               "cooldown": ("--cooldown", "--cooldown-minutes", "cooldown_minutes")}


def _params(args: argparse.Namespace) -> ScalingParams:
    names = {f.name for f in fields(ScalingParams)}
    values = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    minutes = _series_minutes(args.freq)
    values["interval_minutes"] = minutes
    for old, (flag, new_flag, field) in _DEPRECATED.items():
        given = getattr(args, old, None)
        if given is None:
            continue
        converted = given / (60.0 * minutes) if old == "capacity_per_server" else given * minutes
        if field in values:
            raise InputError(f"give {new_flag} or the deprecated {flag}, not both")
        values[field] = converted
        sys.stderr.write(f"note: {flag} is deprecated (per interval at --freq); use {new_flag} "
                         f"{converted:.4g} for the same setting at {args.freq}\n")
    return service.policy_params(changes=values)


def _series_minutes(freq: str) -> float:
    import pandas as pd

    return pd.Timedelta(FREQUENCIES[_freq_label(freq)]) / pd.Timedelta("1min")


def _params_json(params: ScalingParams) -> dict[str, Any]:
    """The parameters as given, and what they are per interval at this granularity."""
    return {**{f.name: getattr(params, f.name) for f in fields(params)},
            "capacity_per_interval": params.capacity_per_server, "boot_intervals": params.boot_delay,
            "scale_in_intervals": params.scale_in_window, "cooldown_intervals": params.cooldown}


def _autoscale(args: argparse.Namespace) -> dict[str, Any]:
    params = _params(args)
    series = _series(args)
    settings = service.backtest_settings(series, test_start=args.test_start, horizon=1, models=_models(args.models),
                                         refit_every=args.refit_every)
    result = service.backtest(series, settings, extra_steps=service.forecast_lead(params), n_jobs=config.CLI_N_JOBS)
    study = service.scaling_study(result, params, quantile=args.quantile)
    table = study.policies
    out = _write(study.decisions, args.out)
    return {"file": str(args.csv), "freq": series.freq, "test_start": str(result.test_start),
            "forecast_model": study.model, "quantile": study.quantile, "slo_quantile": study.slo_quantile,
            "quantile_chosen_on": {"window": "calibration", "start": str(study.choice.start),
                                   "end": str(study.choice.end), "intervals": study.choice.intervals,
                                   "judged_on_slo": study.choice.judged, "text": study.choice.text,
                                   "frontier": study.choice.frontier.to_dict("records")},
            "hindsight_slo_quantile": study.hindsight_quantile,
            "cost_optimal_quantile": study.best_quantile, "newsvendor_quantile": study.newsvendor,
            "headline": study.headline.replace("**", ""), "warnings": study.warnings,
            "params": _params_json(params),
            "policies": {row.pop("policy"): row for row in table.reset_index().to_dict("records")},
            "frontier": study.frontier.to_dict("records"),
            "frontier_note": "frontier, hindsight_slo_quantile and cost_optimal_quantile are computed in hindsight on "
                             "the test window (explanatory only); the default quantile is chosen on the calibration "
                             "window before it (quantile_chosen_on)",
            "decisions_csv": out}


def _forecast(args: argparse.Namespace) -> dict[str, Any]:
    series = _series(args)
    ahead = service.forward(series, _models(args.models), args.steps, quantiles=config.CLI_FORWARD_QUANTILES,
                            n_jobs=config.CLI_N_JOBS)
    forward = ahead.frame
    out = _write(forward.reset_index(), args.out)
    return {"file": str(args.csv), "freq": series.freq, "model": ahead.model,
            "from": str(forward.index[0]), "to": str(forward.index[-1]), "forecast_csv": out,
            "forecast": forward.reset_index().astype({"timestamp": str}).to_dict("records")}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", type=Path, required=True, help="CSV with a timestamp and a request-count column")
    parser.add_argument("--time-col", help="timestamp column (default: detected)")
    parser.add_argument("--value-col", help="count column (default: request_count, requests, count, y, value, ...)")
    parser.add_argument("--freq", default="5m", help="granularity: 1m, 5m, 15m or 1h (sums; default 5m)")
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"comma list of {', '.join(MODEL_NAMES)}")
    parser.add_argument("--zero-runs-as-traffic", action="store_true",
                        help="keep runs of zeros far longer than any other quiet spell as traffic (default: they are "
                             "read as a collection gap and treated as missing)")
    parser.add_argument("--out", type=Path, help="write the table as CSV here")
    add_json_flag(parser)


def _refit_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refit-every", default="auto",
                        help="refit the learned models on all earlier data this often during the test window: a "
                             "duration (1d, 6h), never, or auto (default: daily for data finer than a day)")


def register(subparsers: argparse._SubParsersAction) -> None:
    traffic = subparsers.add_parser("traffic", help="request forecasts and autoscaling replays")
    verbs = traffic.add_subparsers(dest="verb", metavar="<verb>", parser_class=type(traffic))
    bt = verbs.add_parser("backtest", help="score models on a test window (time-ordered, held out)")
    _common(bt)
    bt.add_argument("--test-start", help="first test time, in the data's zone (default: 1995-08-23 for NASA, "
                    "else 85%% of the span)")
    bt.add_argument("--horizon", type=int, default=1, help="steps ahead to score (1 .. one day; default 1)")
    _refit_flag(bt)
    bt.set_defaults(handler=_backtest)
    sc = verbs.add_parser("autoscale", help="replay static, reactive, predictive and oracle scaling policies")
    _common(sc)
    sc.add_argument("--test-start", help="first replayed interval (default as for backtest)")
    _refit_flag(sc)
    sc.add_argument("--quantile", type=float, help="forecast quantile the predictive policy provisions for "
                    "(default: chosen on the calibration window before the test window: the cheapest that meets the SLO there)")
    sc.add_argument("--slo-overload-pct", dest="slo_overload_pct", type=float,
                    help=f"the SLO: at most this %% of intervals overloaded (default {config.SCENARIO.slo_overload_pct:g}); "
                         "the oracle meets it too")
    sc.add_argument("--capacity-rps", dest="capacity_rps", type=float,
                    help=f"requests per second one server serves (default {config.SCENARIO.capacity_rps:.4g}: 50 per "
                         "5-minute interval)")
    sc.add_argument("--min-servers", dest="min_servers", type=int)
    sc.add_argument("--max-servers", dest="max_servers", type=int)
    sc.add_argument("--boot-minutes", dest="boot_minutes", type=float,
                    help=f"minutes before a new server serves (default {config.SCENARIO.boot_minutes:g}; rounded up "
                         "to whole intervals)")
    sc.add_argument("--scale-in-minutes", dest="scale_in_minutes", type=float,
                    help=f"HPA scale-in stabilisation window (default {config.SCENARIO.scale_in_minutes:g})")
    sc.add_argument("--cooldown-minutes", dest="cooldown_minutes", type=float,
                    help="minutes between reactive scaling actions (default 0)")
    for old_name, (flag, new_flag, _) in _DEPRECATED.items():
        sc.add_argument(flag, dest=old_name, type=float if old_name == "capacity_per_server" else int,
                        help=f"deprecated: per interval; use {new_flag}")
    sc.add_argument("--target-utilisation", dest="target_utilisation", type=float)
    sc.add_argument("--price-per-server-hour", dest="price_per_server_hour", type=float)
    sc.add_argument("--penalty-per-dropped", dest="penalty_per_dropped", type=float)
    sc.set_defaults(handler=_autoscale)
    fc = verbs.add_parser("forecast", help="forecast past the end of the data with intervals")
    _common(fc)
    fc.add_argument("--steps", type=int, default=12, help="intervals to forecast (up to one day; default 12)")
    fc.set_defaults(handler=_forecast)
