"""AutoML search benchmark: the searched winner against a default LightGBM on the same held-out split.

For each data set (default target; taxis: ``tip`` without the ``total`` leakage trap, split in time
order on ``pickup``), ``training.train`` runs with the budget; small sets (under 2,000 rows) run
``--repeats`` times with different seeds (a different random split each time). Test error: log loss for
classification (the metric the search minimises; 1 - ROC AUC is printed beside it), RMSE for regression.
The default LightGBM (``LGBMClassifier``/``LGBMRegressor`` with default parameters, same preprocessing)
is refitted on the same training rows inside ``train`` and scored on the same test rows.

Figures: relative error reduction per run, capped at +-20 %, its mean per set and across sets, whether
the winner was ever worse than the default on the test split, and the wall time of ``train`` (the
export and a CLI's process start-up come on top; the import time of the training module is printed).
Targets: mean reduction >= 3 %, never below the default, wall <= 66 s per 60 s run, <= 11 s for 10 s.
Run: .venv/bin/python bench/automl.py [--budget 60] [--sets titanic,penguins] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the worker runs a job: one thread per process

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.automl import config  # noqa: E402
from core.automl.artifact import TrainSpec  # noqa: E402
from core.automl.training import train  # noqa: E402
from core.io import read_csv  # noqa: E402

DATA_DIRS = (ROOT / "data" / "automl", ROOT.parent / "shared" / "data" / "tabular")
SMALL_ROWS = 2_000
CAP = 0.20
TARGET_MEAN_REDUCTION = 0.03
QUICK_BUDGET = 10.0


@dataclass(frozen=True)
class Case:
    name: str
    target: str
    time_col: str | None = None
    drop: tuple[str, ...] = ()


CASES = (
    Case("titanic", "Survived"),
    Case("penguins", "species"),
    Case("diamonds", "price"),
    Case("taxis", "tip", time_col="pickup", drop=("total",)),
    Case("mpg", "mpg"),
    Case("breast_cancer", "target"),
    Case("diabetes", "target"),
    Case("wine", "target"),
)


@dataclass(frozen=True)
class Run:
    case: str
    seed: int
    task: str
    algorithm: str
    trials: int
    error: float
    default_error: float
    auc_gap: float  # 1 - ROC AUC of the winner (classification), else NaN
    default_auc_gap: float
    wall: float

    @property
    def reduction(self) -> float:
        raw = (self.default_error - self.error) / self.default_error if self.default_error else 0.0
        return float(np.clip(raw, -CAP, CAP))


def load(case: Case) -> pd.DataFrame | None:
    for directory in DATA_DIRS:
        path = directory / f"{case.name}.csv"
        if path.exists():
            return read_csv(path)
    return None


def roles_and_task(frame: pd.DataFrame, case: Case) -> tuple[dict[str, str], str]:
    """Roles and problem type by ``core.automl.detection`` when it is there, else a simple local rule."""
    try:
        from core.automl import detection
    except ImportError:
        return _simple_roles(frame, case), _simple_task(frame[case.target])
    roles = detection.roles_dict(detection.detect_roles(frame, case.target))
    roles.update({column: config.DROP for column in case.drop})
    task, _reason = detection.detect_task(frame[case.target])
    return roles, task


def _simple_roles(frame: pd.DataFrame, case: Case) -> dict[str, str]:
    roles = {}
    for column in frame.columns:
        values = frame[column]
        if column == case.target:
            roles[column] = config.TARGET
        elif column in case.drop or values.nunique() <= 1:
            roles[column] = config.DROP
        elif column == case.time_col:
            roles[column] = config.DATETIME
        elif values.dtype == object and values.nunique() > config.MAX_CATEGORIES:
            roles[column] = config.HIGH_CARDINALITY
        else:
            roles[column] = config.FEATURE
    return roles


def _simple_task(values: pd.Series) -> str:
    numeric = pd.api.types.is_numeric_dtype(values)
    return config.REGRESSION if numeric and values.nunique() > 10 else config.CLASSIFICATION


def run_case(case: Case, frame: pd.DataFrame, budget: float, seed: int) -> Run:
    roles, task = roles_and_task(frame, case)
    time_col = case.time_col if case.time_col and roles.get(case.time_col) == config.DATETIME else None
    spec = TrainSpec(target=case.target, task=task, roles=roles, budget_seconds=budget, seed=seed, time_col=time_col)
    started = time.monotonic()
    model = train(frame, spec, started=started)
    wall = time.monotonic() - started
    scores = model.test_scores
    key = "log_loss" if task == config.CLASSIFICATION else "rmse"
    auc, default_auc = scores.get("roc_auc", np.nan), scores.get("default_roc_auc", np.nan)
    return Run(case.name, seed, task, model.algorithm, model.trials, scores[key], scores.get(f"default_{key}", np.nan),
               1.0 - auc, 1.0 - default_auc, wall)


def import_seconds() -> float:
    """A fresh process's time to import the training module (a CLI pays it before the budget starts)."""
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "import core.automl.training, core.automl.search"], cwd=ROOT, check=True)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--sets", default=",".join(c.name for c in CASES))
    parser.add_argument("--repeats", type=int, default=3, help=f"runs (seeds) per set under {SMALL_ROWS:,} rows")
    parser.add_argument("--skip-quick", action="store_true", help=f"skip the {QUICK_BUDGET:.0f} s budget check")
    args = parser.parse_args()
    chosen = [c for c in CASES if c.name in set(args.sets.split(","))]
    began = time.monotonic()
    print(f"budget {args.budget:.0f} s per run; {os.cpu_count()} cores; error: log loss (classification), "
          f"RMSE (regression); reduction = (default - winner) / default, capped at ±{CAP:.0%}")
    print(f"{'set':<14}{'seed':>5}{'rows':>8}  {'winner':<34}{'trials':>7}{'error':>11}{'default':>11}"
          f"{'reduct.':>9}{'1-AUC':>8}{'dflt':>8}{'wall s':>8}")
    runs: list[Run] = []
    for case in chosen:
        frame = load(case)
        if frame is None:
            print(f"{case.name:<14} missing: no {case.name}.csv in {', '.join(str(d) for d in DATA_DIRS)}")
            continue
        for seed in range(args.repeats if len(frame) < SMALL_ROWS else 1):
            run = run_case(case, frame, args.budget, seed)
            runs.append(run)
            print(f"{run.case:<14}{run.seed:>5}{len(frame):>8}  {run.algorithm[:33]:<34}{run.trials:>7}"
                  f"{run.error:>11.4g}{run.default_error:>11.4g}{run.reduction:>+9.1%}{run.auc_gap:>8.3f}"
                  f"{run.default_auc_gap:>8.3f}{run.wall:>8.1f}", flush=True)
    if runs:
        summarise(runs, args.budget)
    if not args.skip_quick:
        quick_check(chosen[0] if chosen else CASES[0])
    print(f"import of the training module in a fresh process: {import_seconds():.1f} s (not in the walls above)")
    print(f"bench wall time: {time.monotonic() - began:.0f} s")


def summarise(runs: list[Run], budget: float) -> None:
    table = pd.DataFrame([{"set": r.case, "reduction": r.reduction, "worse": r.error > r.default_error,
                           "wall": r.wall} for r in runs])
    per_set = table.groupby("set", sort=False).agg(reduction=("reduction", "mean"), runs=("reduction", "size"),
                                                   worse=("worse", "sum"), wall=("wall", "max"))
    print("\nper set: mean reduction over runs, runs where the winner's test error was above the default's")
    for name, row in per_set.iterrows():
        print(f"  {name:<14}{row['reduction']:>+8.1%}  ({int(row['runs'])} runs, {int(row['worse'])} worse, "
              f"max wall {row['wall']:.1f} s)")
    mean = float(per_set["reduction"].mean())
    worse_runs = int(table["worse"].sum())
    limit = budget * (1 + config.BUDGET_TOLERANCE)
    print(f"mean reduction across sets: {mean:+.1%} (target >= {TARGET_MEAN_REDUCTION:.0%}: "
          f"{'met' if mean >= TARGET_MEAN_REDUCTION else 'NOT met'})")
    print(f"never below the default: {'yes' if worse_runs == 0 else f'no, {worse_runs} of {len(runs)} runs'}; "
          f"every set's mean at or above it: {'yes' if (per_set['reduction'] >= 0).all() else 'no'}")
    print(f"wall per {budget:.0f} s run: max {table['wall'].max():.1f} s, mean {table['wall'].mean():.1f} s "
          f"(target <= {limit:.0f} s for train + export; train alone must end by "
          f"{budget * (1 - config.EXPORT_RESERVE_SHARE):.1f} s)")


def quick_check(case: Case) -> None:
    frame = load(case)
    if frame is None:
        return
    run = run_case(case, frame, QUICK_BUDGET, 0)
    limit = QUICK_BUDGET * (1 + config.BUDGET_TOLERANCE)
    print(f"\n{QUICK_BUDGET:.0f} s budget on {case.name}: train returned in {run.wall:.1f} s (target <= {limit:.0f} s), "
          f"{run.trials} trials, winner {run.algorithm}, error {run.error:.4g} vs default {run.default_error:.4g}")


if __name__ == "__main__":
    main()
