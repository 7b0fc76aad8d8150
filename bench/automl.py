"""AutoML search benchmark: the searched winner against a default LightGBM on the same held-out rows.

For each data set (default target; taxis: ``tip`` without the ``total`` leakage trap, split in time
order on ``pickup``), ``training.train`` runs with the budget. Small sets (under 2,000 rows) are scored
by a repeated outer cross-validation: ``--outer-folds`` runs per repeat (``--outer-repeats``, each
another shuffle), each holding out one fold (stratified for classification) as its test split, so
every row is tested once per repeat; a 36-row test split alone cannot tell two good models apart.
Larger sets run once on the seeded random (or time-ordered) split. Test error: log loss for classification (the metric the search minimises; 1 - ROC AUC is printed beside it), RMSE
for regression, pooled over a set's test rows. The default LightGBM (``LGBMClassifier``/
``LGBMRegressor`` with default parameters, same preprocessing) is refitted on the same training rows
inside ``train`` and scored on the same test rows.

Figures: each set's relative error reduction (pooled errors), capped at +-20 %, and its mean across
sets; whether a set's winner was below the default; per run, how often the winner lost its fold; the
wall time of ``train`` (the export and a CLI's process start-up come on top; the import time of the
training module is printed). Targets: mean reduction >= 3 %, never below the default, wall <= 66 s per
60 s run, <= 11 s for 10 s.
Run: .venv/bin/python bench/automl.py [--budget 60] [--sets titanic,penguins] [--outer-folds 5] [--outer-repeats 1]
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
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold  # noqa: E402

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
    test_rows: int
    error: float
    default_error: float
    auc_gap: float  # 1 - ROC AUC of the winner (classification), else NaN
    default_auc_gap: float
    wall: float

    @property
    def reduction(self) -> float:
        return capped_reduction(self.error, self.default_error)


def capped_reduction(error: float, default_error: float) -> float:
    raw = (default_error - error) / default_error if default_error else 0.0
    return float(np.clip(raw, -CAP, CAP))


def pooled(errors: pd.Series, rows: pd.Series, task: str) -> float:
    """A set's error over all its runs' test rows: the row-weighted mean log loss, or the RMSE of all rows."""
    weights = rows / rows.sum()
    if task == config.CLASSIFICATION:
        return float((errors * weights).sum())
    return float(np.sqrt((errors**2 * weights).sum()))


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


def outer_folds(frame: pd.DataFrame, case: Case, folds: int, repeats: int = 1) -> list[np.ndarray | None]:
    """Test rows of each run: the folds of a seeded, repeated outer K-fold for a small set, else one default
    split."""
    if len(frame) >= SMALL_ROWS or folds < 2:
        return [None]
    _roles, task = roles_and_task(frame, case)
    labels = frame[case.target].astype(str).to_numpy()
    splitter = (RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=0)
                if task == config.CLASSIFICATION else RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=0))
    return [test for _train, test in splitter.split(np.zeros(len(frame)), labels)]


def run_case(case: Case, frame: pd.DataFrame, budget: float, seed: int,
             test_rows: np.ndarray | None = None) -> Run:
    roles, task = roles_and_task(frame, case)
    time_col = case.time_col if case.time_col and roles.get(case.time_col) == config.DATETIME else None
    spec = TrainSpec(target=case.target, task=task, roles=roles, budget_seconds=budget, seed=seed, time_col=time_col)
    started = time.monotonic()
    model = train(frame, spec, started=started, test_rows=test_rows)
    wall = time.monotonic() - started
    scores = model.test_scores
    key = "log_loss" if task == config.CLASSIFICATION else "rmse"
    auc, default_auc = scores.get("roc_auc", np.nan), scores.get("default_roc_auc", np.nan)
    return Run(case.name, seed, task, model.algorithm, model.trials, len(model.test_predictions), scores[key],
               scores.get(f"default_{key}", np.nan),
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
    parser.add_argument("--outer-folds", type=int, default=5,
                        help=f"outer cross-validation folds (runs) per set under {SMALL_ROWS:,} rows")
    parser.add_argument("--outer-repeats", type=int, default=1,
                        help="repeats of the outer cross-validation, each with another shuffle")
    parser.add_argument("--skip-quick", action="store_true", help=f"skip the {QUICK_BUDGET:.0f} s budget check")
    args = parser.parse_args()
    chosen = [c for c in CASES if c.name in set(args.sets.split(","))]
    began = time.monotonic()
    print(f"budget {args.budget:.0f} s per run; {os.cpu_count()} cores; error: log loss (classification), "
          f"RMSE (regression); reduction = (default - winner) / default, capped at ±{CAP:.0%}")
    print(f"{'set':<14}{'fold':>5}{'test':>8}  {'winner':<34}{'trials':>7}{'error':>11}{'default':>11}"
          f"{'reduct.':>9}{'1-AUC':>8}{'dflt':>8}{'wall s':>8}")
    runs: list[Run] = []
    for case in chosen:
        frame = load(case)
        if frame is None:
            print(f"{case.name:<14} missing: no {case.name}.csv in {', '.join(str(d) for d in DATA_DIRS)}")
            continue
        for seed, test_rows in enumerate(outer_folds(frame, case, args.outer_folds, args.outer_repeats)):
            run = run_case(case, frame, args.budget, seed, test_rows)
            runs.append(run)
            print(f"{run.case:<14}{run.seed:>5}{run.test_rows:>8}  {run.algorithm[:33]:<34}{run.trials:>7}"
                  f"{run.error:>11.4g}{run.default_error:>11.4g}{run.reduction:>+9.1%}{run.auc_gap:>8.3f}"
                  f"{run.default_auc_gap:>8.3f}{run.wall:>8.1f}", flush=True)
    if runs:
        summarise(runs, args.budget)
    if not args.skip_quick:
        quick_check(chosen[0] if chosen else CASES[0])
    print(f"import of the training module in a fresh process: {import_seconds():.1f} s (not in the walls above)")
    print(f"bench wall time: {time.monotonic() - began:.0f} s")


def summarise(runs: list[Run], budget: float) -> None:
    table = pd.DataFrame([{"set": r.case, "task": r.task, "rows": r.test_rows, "error": r.error,
                           "default": r.default_error, "worse": r.error > r.default_error, "wall": r.wall}
                          for r in runs])
    print("\nper set: errors pooled over its test rows (all runs), reduction capped at "
          f"±{CAP:.0%}; runs where the winner lost its own test split")
    reductions = {}
    for name, group in table.groupby("set", sort=False):
        task = group["task"].iloc[0]
        error, default = pooled(group["error"], group["rows"], task), pooled(group["default"], group["rows"], task)
        reductions[name] = capped_reduction(error, default)
        print(f"  {name:<14}{error:>10.4g}{default:>10.4g}{reductions[name]:>+8.1%}  ({len(group)} runs, "
              f"{int(group['worse'].sum())} lost their split, {int(group['rows'].sum())} test rows, "
              f"max wall {group['wall'].max():.1f} s)")
    mean = float(np.mean(list(reductions.values())))
    below = [name for name, value in reductions.items() if value < 0]
    limit = budget * (1 + config.BUDGET_TOLERANCE)
    print(f"mean reduction across sets: {mean:+.1%} (target >= {TARGET_MEAN_REDUCTION:.0%}: "
          f"{'met' if mean >= TARGET_MEAN_REDUCTION else 'NOT met'})")
    print(f"never below the default: {'yes' if not below else 'no: ' + ', '.join(below)}; "
          f"runs that lost their own test split: {int(table['worse'].sum())} of {len(table)}")
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
