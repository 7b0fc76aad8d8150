"""How the AutoML search's choice rule does on new rows, studied offline: one search per outer fold, every
candidate's test predictions stored, then choice rules compared on the same searches.

``collect`` runs, for each set and outer fold of ``bench/automl.py`` (same sets, same outer folds, same
seeds), the search alone (``search.run_search`` with the budget), then refits each model's best trial
and the default LightGBM on all training rows and stores their test predictions with the search's
out-of-fold ones. ``compare`` applies each rule to every stored search; a rule's pick predicts the test
rows as the weighted average of its members' stored predictions (what the refitted soft-voting
ensemble computes). Errors are pooled per set as in ``bench/automl.py`` and compared with the default
LightGBM's on the same rows; each set's reduction is capped at +-20 %.

Rules: ``chosen`` is ``search.finalists`` as the app runs it (only a blend with the default can replace
it); ``unblended`` is the rule before 2026-12-03 (the best plain candidate by CV that beats the default
by the corrected standard error); ``single`` is the "one model only" option (``single_model=True``: a
single model that beats the default that way). ``--sets`` may also name ``iris`` and ``digits`` (scikit-learn's, kept
out of the bench): sets the rules were not compared on while choosing one.

Run: .venv/bin/python bench/automl_selection.py collect --store DIR [--sets mpg,wine] [--outer-repeats 2]
     .venv/bin/python bench/automl_selection.py compare --store DIR [-v]
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import automl as bench  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.automl import config, search  # noqa: E402
from core.automl.artifact import TrainSpec  # noqa: E402
from core.automl.budget import Budget  # noqa: E402
from core.automl.training import prepare  # noqa: E402

HELD_OUT = {"iris": "load_iris", "digits": "load_digits"}  # scikit-learn's own, no download


@dataclass
class Stored:
    """One outer fold: the search's result and every model's test predictions."""

    case: str
    fold: int
    task: str
    problem: search.Problem
    y_train: np.ndarray
    y_test: np.ndarray
    result: search.SearchResult
    test_predictions: dict[str, np.ndarray]


def load(name: str) -> tuple[bench.Case, pd.DataFrame | None]:
    if name in HELD_OUT:
        from sklearn import datasets

        return bench.Case(name, "target"), getattr(datasets, HELD_OUT[name])(as_frame=True).frame
    case = next(c for c in bench.CASES if c.name == name)
    return case, bench.load(case)


def collect(store: Path, names: list[str], budget_seconds: float, outer_folds: int, repeats: int) -> None:
    store.mkdir(parents=True, exist_ok=True)
    for name in names:
        case, frame = load(name)
        if frame is None:
            print(f"{name}: missing")
            continue
        roles, task = bench.roles_and_task(frame, case)
        for fold, test_rows in enumerate(bench.outer_folds(frame, case, outer_folds, repeats)):
            path = store / f"{name}_{fold}.pkl"
            if path.exists():
                continue
            time_col = case.time_col if case.time_col and roles.get(case.time_col) == config.DATETIME else None
            spec = TrainSpec(target=case.target, task=task, roles=roles, budget_seconds=budget_seconds, seed=fold,
                             time_col=time_col)
            data = prepare(frame, spec, [], test_rows=test_rows)
            result = search.run_search(data.X_train, data.y_train, data.schema, data.problem, data.folds,
                                       Budget(time.monotonic(), budget_seconds))
            predictions = {}
            for model, trial in search._best_per_model(result.trials).items():
                pipeline = search.pipeline_of(trial, data.schema, data.problem)
                fitted = search.fit_pipeline(pipeline, data.X_train, data.y_train, balanced=trial.balanced)
                predictions[model] = search.predict_scores(fitted, data.X_test, data.problem)
            stored = Stored(name, fold, task, data.problem, data.y_train, data.y_test, result, predictions)
            path.write_bytes(pickle.dumps(stored))
            print(f"{name} fold {fold}: {result.searched} trials", flush=True)


# --- rules -------------------------------------------------------------------------------------------------------


Rule = Callable[[Stored], search.Candidate]


def chosen(run: Stored) -> search.Candidate:
    return search.finalists(run.result, run.y_train, run.problem).candidates[0]


def unblended(run: Stored) -> search.Candidate:
    ranked = [c for c in search.finalists(run.result, run.y_train, run.problem).candidates
              if not c.name.startswith(f"{search.BLEND}(")]
    ranked.sort(key=lambda c: (c.cv_score, c.name))
    default = next(c for c in ranked if c.name == search.DEFAULT_LGBM)
    better = [c for c in ranked if c is not default and search._beats(c, default, run.result, run.y_train, run.problem)]
    return better[0] if better else default


def single_model(run: Stored) -> search.Candidate:
    return search.finalists(run.result, run.y_train, run.problem, single_model=True).candidates[0]


RULES: dict[str, Rule] = {"chosen": chosen, "unblended": unblended, "single": single_model}


def test_prediction(run: Stored, candidate: search.Candidate) -> np.ndarray:
    parts = [run.test_predictions[m.model] for m in candidate.members]
    return np.average(parts, axis=0, weights=candidate.shares)


def pooled_error(task: str, y: np.ndarray, predicted: np.ndarray) -> float:
    problem = search.Problem(task, predicted.shape[1] if predicted.ndim == 2 else 0)
    return search.cv_loss(problem, y, predicted)


def compare(store: Path, verbose: bool) -> None:
    runs: dict[str, list[Stored]] = {}
    for path in sorted(store.glob("*.pkl")):
        run: Stored = pickle.loads(path.read_bytes())
        runs.setdefault(run.case, []).append(run)
    reductions: dict[str, dict[str, float]] = {rule: {} for rule in RULES}
    for name, group in runs.items():
        group.sort(key=lambda r: r.fold)
        y = np.concatenate([r.y_test for r in group])
        defaults = np.concatenate([r.test_predictions[search.DEFAULT_LGBM] for r in group])
        default = pooled_error(group[0].task, y, defaults)
        line = f"{name:<14}{len(group):>3} runs  default {default:.4g}"
        for rule, pick in RULES.items():
            picks = [pick(r) for r in group]
            predicted = np.concatenate([test_prediction(r, c) for r, c in zip(group, picks, strict=True)])
            error = pooled_error(group[0].task, y, predicted)
            reductions[rule][name] = bench.capped_reduction(error, default)
            line += f"  {rule} {error:.4g} ({reductions[rule][name]:+.1%})"
            if verbose:
                print(f"  {name} {rule}: {[c.name for c in picks]}")
        print(line)
    for rule, by_set in reductions.items():
        if not by_set:
            print(f"no stored searches in {store}")
            return
        for label, names in (("bench sets", [n for n in by_set if n not in HELD_OUT]),
                             ("held-out sets", [n for n in by_set if n in HELD_OUT])):
            if names:
                values = [by_set[n] for n in names]
                below = [n for n in names if by_set[n] < 0]
                print(f"{rule:<10} {label}: mean {np.mean(values):+.1%}, lowest {min(values):+.1%}; "
                      f"below the default: {', '.join(below) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("collect", "compare"))
    parser.add_argument("--store", type=Path, required=True, help="directory of the stored searches")
    parser.add_argument("--sets", default=",".join(c.name for c in bench.CASES))
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--outer-folds", type=int, default=5)
    parser.add_argument("--outer-repeats", type=int, default=2)
    parser.add_argument("-v", "--verbose", action="store_true", help="print each run's pick")
    args = parser.parse_args()
    if args.action == "collect":
        collect(args.store, args.sets.split(","), args.budget, args.outer_folds, args.outer_repeats)
    else:
        compare(args.store, args.verbose)


if __name__ == "__main__":
    main()
