"""``python -m core jobs train | predict | backtest``."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from core.cli import add_json_flag
from core.config import get_settings
from core.errors import InputError
from core.io import safe_csv_bytes
from core.jobs.evaluation import DEFAULT_QUANTILE, QUANTILES
from core.jobs.parsing import MEMORY_UNITS
from core.jobs.service import (
    DOMAIN,
    compare_records,
    load_source,
    predict,
    prepare,
    register_models,
    write_predictions,
)
from core.jobs.training import MODEL_ALGORITHMS, JobModel, TrainConfig, backtest, train_models
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine, mask_url


def _source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", type=Path, help="a CSV file of stage runs")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the source database")
    parser.add_argument("--table", help="the source table (must exist in --db)")
    parser.add_argument("--limit", type=int, help="read at most this many rows of --table")
    parser.add_argument("--memory-unit", choices=list(MEMORY_UNITS), default="M",
                        help="unit of memory values written without one (default M = MB)")


def _algorithms(text: str) -> tuple[str, ...]:
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    return names or MODEL_ALGORITHMS


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    if args.csv is not None and args.db:
        raise InputError("give either --csv or --db/--table, not both")
    if args.db and not args.table:
        raise InputError("--db needs --table")
    frame = load_source(csv=args.csv, db_url=args.db, table=args.table, limit=args.limit,
                        max_rows=get_settings().max_upload_rows)
    source = str(args.csv) if args.csv is not None else f"table {args.table} on {mask_url(args.db)}"
    return frame, source


def _registry(model_dir: Path | None) -> ModelRegistry:
    settings = get_settings()
    return ModelRegistry(create_db_engine(settings.database_url), model_dir or settings.model_dir)


def _scores(frame: pd.DataFrame, by: str | None = None) -> dict[str, Any]:
    """Score rows nested as algorithm -> target (-> value of ``by``, e.g. the history basis)."""
    out: dict[str, Any] = {}
    for row in frame.to_dict("records"):
        keys = [str(row.pop("algorithm")), str(row.pop("target")), *([str(row.pop(by))] if by else [])]
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = row
    return out


def _train(args: argparse.Namespace) -> dict[str, Any]:
    frame, source = _load(args)
    prepared = prepare(frame, memory_unit=args.memory_unit, file=str(args.csv) if args.csv else args.table)
    config = TrainConfig(algorithms=_algorithms(args.algorithms),
                         test_start=pd.Timestamp(args.test_start) if args.test_start else None)
    started = time.perf_counter()
    result = train_models(prepared, config)
    records = register_models(_registry(args.model_dir), result, prepared, config, source=source)
    return {
        "source": source,
        "rows_used": len(prepared.runs),
        "rows_excluded": int(prepared.rejected["row"].nunique()),
        "split": result.split,
        "scores": _scores(result.scores),
        "scores_by_history": _scores(result.history_scores, by="history"),
        "models": {r.algorithm: r.model_id for r in records},
        "seconds": round(time.perf_counter() - started, 2),
    }


def _pick_model(registry: ModelRegistry, model_id: str | None) -> tuple[str, JobModel]:
    if model_id:
        return model_id, registry.load(model_id)
    chosen = registry.deployed(DOMAIN)
    if chosen is None:
        records = registry.list(DOMAIN)
        if not records:
            raise InputError("no jobs model in the registry: run 'python -m core jobs train' first")
        chosen = next((r for r in records if r.algorithm == "lightgbm"), records[0])
    return chosen.model_id, registry.load(chosen.model_id)


def _predict(args: argparse.Namespace) -> dict[str, Any]:
    if bool(args.out_db) != bool(args.out_table):
        raise InputError("--out-db and --out-table go together")
    if args.quantile not in QUANTILES:
        raise InputError(f"--quantile must be one of {', '.join(str(q) for q in QUANTILES)}")
    frame, source = _load(args)
    model_id, model = _pick_model(_registry(args.model_dir), args.model_id)
    output = predict(model, frame, model_id=model_id, quantile=args.quantile,
                     file=str(args.csv) if args.csv else args.table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(safe_csv_bytes(output.predictions))
    result: dict[str, Any] = {"source": source, "model_id": model_id, "rows": len(output.predictions),
                              "rows_excluded": int(output.rejected["row"].nunique()), "out": str(args.out),
                              "unseen": output.unseen}
    if args.out_db:
        # The command line runs as the user who typed the URL: no visitor policy applies here.
        engine = create_db_engine(args.out_db)
        try:
            result["out_db"] = {**asdict(write_predictions(engine, args.out_table, output.predictions)),
                                "url": mask_url(args.out_db)}
        finally:
            engine.dispose()
    result["preview"] = output.predictions.head(5)[
        ["block", "stage", "predicted_runtime", "predicted_memory"]].to_dict("records")
    return result


def _backtest(args: argparse.Namespace) -> dict[str, Any]:
    frame, source = _load(args)
    prepared = prepare(frame, memory_unit=args.memory_unit, file=str(args.csv) if args.csv else args.table)
    started = time.perf_counter()
    result = backtest(prepared, args.test_start, retrain_every=args.retrain_every,
                      config=TrainConfig(algorithms=_algorithms(args.algorithms)))
    return {
        "source": source,
        "test_start": args.test_start,
        "retrain_every": args.retrain_every,
        "folds": len(result.folds),
        "test_rows": int(result.folds["test_rows"].sum()),
        "default_quantile": DEFAULT_QUANTILE,
        "scores": _scores(result.scores),
        "scores_by_history": _scores(result.history_scores, by="history"),
        "seconds": round(time.perf_counter() - started, 2),
    }


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    jobs = subparsers.add_parser("jobs", help="job runtime & memory: train, predict, backtest")
    verbs = jobs.add_subparsers(dest="verb", metavar="<verb>", parser_class=type(jobs))
    jobs.set_defaults(handler=lambda _args: jobs.print_help() or {})

    train = verbs.add_parser("train", help="train and register runtime/memory models")
    _source_args(train)
    train.add_argument("--model-dir", type=Path, help="model store (default: the configured one)")
    train.add_argument("--test-start", help="hold out runs from this date (default: the latest 20%%)")
    train.add_argument("--algorithms", default=",".join(MODEL_ALGORITHMS),
                       help="comma-separated: lightgbm, dense-nn (the history baseline is always added)")
    add_json_flag(train)
    train.set_defaults(handler=_train)

    predict = verbs.add_parser("predict", help="predict runtime and memory for new runs")
    _source_args(predict)
    predict.add_argument("--model-dir", type=Path, help="model store (default: the configured one)")
    predict.add_argument("--model-id", help="registry id (default: the deployed jobs model, else the newest LightGBM)")
    predict.add_argument("--out", type=Path, required=True, help="CSV file to write")
    predict.add_argument("--out-db", metavar="URL", help="database for the output table")
    predict.add_argument("--out-table", help="output table (created if missing, appended with a run id)")
    predict.add_argument("--quantile", type=float, default=DEFAULT_QUANTILE, help="request quantile: 0.9, 0.95, 0.99")
    add_json_flag(predict)
    predict.set_defaults(handler=_predict)

    back = verbs.add_parser("backtest", help="rolling-origin backtest with monthly retraining")
    _source_args(back)
    back.add_argument("--test-start", required=True, help="first month to predict, e.g. 2023-07-01")
    back.add_argument("--retrain-every", default="month", choices=["month"])
    back.add_argument("--algorithms", default=",".join(MODEL_ALGORITHMS),
                      help="comma-separated: lightgbm, dense-nn (the history baseline is always added)")
    add_json_flag(back)
    back.set_defaults(handler=_backtest)


__all__ = ["register", "compare_records"]
