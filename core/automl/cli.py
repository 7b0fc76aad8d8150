"""``python -m core automl train|predict``: AutoML from the command line, under the same hard budget.

The budget of ``train`` counts from the start of the process (interpreter and imports included), so
the wall time measured around the whole command stays within the budget plus its tolerance.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from core.automl import config
from core.cli import add_json_flag
from core.errors import InputError
from core.io.export import safe_csv_bytes

TASK_AUTO = "auto"


def process_age() -> float:
    """Seconds since this process started (0 where /proc is not available)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started_ticks = float(fields[19])  # field 22 of stat: start time in clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _csv(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"--csv '{path}' is not a file")
    return path


def _model_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise InputError(f"--model-dir '{path}' is a file; give a folder")
    if not path.parent.exists():
        raise InputError(f"--model-dir '{path}': folder '{path.parent}' does not exist")
    return path


def _train(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic() - process_age()
    from core.automl import service  # heavy (scikit-learn, FLAML): only when a verb runs, not for --help
    directory = _model_dir(args.model_dir)
    path = _csv(args.csv)
    frame = service.read_upload(path, path.name)
    profile = service.profile(frame, args.target)
    task = profile.task if args.task == TASK_AUTO else args.task
    budget = float(args.budget) if args.budget is not None else float(profile.budget_seconds)
    time_column = profile.time_column if args.time_col is None else (None if args.time_col == "none" else args.time_col)
    spec = service.make_spec(frame, args.target, profile.role_of, task=task, budget_seconds=budget, seed=args.seed,
                             time_column=time_column, max_trials=args.trials, single_model=args.single_model)
    model = service.train_now(frame, spec, directory, started=started)
    board = model.leaderboard
    roles = {r["column"]: {"role": r["role"], "reason": r["reason"]} for r in profile.roles.to_dict("records")}
    return {"task": task, "task_reason": profile.task_reason if args.task == TASK_AUTO else "set with --task",
            "roles": roles, "time_column": time_column, "winner": model.algorithm, "metric": model.metric,
            "leaderboard": board.to_dict("records"), "test_score": model.test_scores, "trials": model.trials,
            "exportable": model.exportable, "parity": model.parity, "ledger": model.ledger, "notes": list(model.notes),
            "budget_seconds": budget, "wall_seconds": round(time.monotonic() - started, 2),
            "model_dir": str(directory)}


def _predict(args: argparse.Namespace) -> dict[str, Any]:
    from core.automl import service
    model = service.load_model(args.model_dir)
    path = _csv(args.csv)
    out: Path = args.out
    if out.is_dir() or not out.parent.exists():
        raise InputError(f"--out '{out}': give a file name in an existing folder")
    raw = service.read_upload(path, path.name, min_rows=1)
    predictions, warnings, drift = service.predict_batch(model, raw)
    out.write_bytes(safe_csv_bytes(predictions))
    return {"rows": len(predictions), "out": str(out), "target": model.schema.target, "task": model.schema.task,
            "warnings": warnings, "drift": drift.to_dict("records")}


def register(subparsers: argparse._SubParsersAction) -> None:
    automl = subparsers.add_parser("automl", help="any CSV to a model under a hard time budget, and predictions")
    verbs = automl.add_subparsers(dest="verb", metavar="<verb>", parser_class=type(automl))
    tr = verbs.add_parser("train", help="detect roles and task, search under the budget, refit, export")
    tr.add_argument("--csv", type=Path, required=True, help="training data")
    tr.add_argument("--target", required=True, help="the column to predict")
    tr.add_argument("--task", choices=(TASK_AUTO, *config.TASKS), default=TASK_AUTO,
                    help="auto: detected from the target's values (the reason is in the JSON)")
    tr.add_argument("--budget", type=float, help="seconds for the whole run, search, refit and export included "
                                                 "(default: from the row count)")
    tr.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    tr.add_argument("--trials", type=int, help="reproducible mode: this many trials with the seed")
    tr.add_argument("--single-model", dest="single_model", action="store_true",
                    help="one model, no ensembles or blends: smaller and faster to predict, but on new rows "
                         "more often worse than the default LightGBM (docs/automl.md)")
    tr.add_argument("--time-col", dest="time_col", help="split in time order on this column ('none': a random "
                                                        "split; default: a detected datetime column)")
    tr.add_argument("--model-dir", dest="model_dir", type=Path, required=True, help="folder for model.joblib and "
                                                                                     "model.onnx")
    add_json_flag(tr)
    tr.set_defaults(handler=_train)

    pr = verbs.add_parser("predict", help="predict a CSV with a trained model (input row order kept)")
    pr.add_argument("--model-dir", dest="model_dir", type=Path, required=True)
    pr.add_argument("--csv", type=Path, required=True)
    pr.add_argument("--out", type=Path, required=True, help="predictions CSV: prediction (+ proba_<class>)")
    add_json_flag(pr)
    pr.set_defaults(handler=_predict)
