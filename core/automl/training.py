"""One whole training job, under a hard wall-time limit: split, search, refit, test score, importance.

1. Rows without a target are dropped (and said so). The held-out test split is the latest
   ``config.TEST_SHARE`` of rows when a time column is set, else a seeded random split (stratified
   for classification). The schema is built on the training split only.
2. The search (``search.run_search``) runs in a subprocess killed at ``Budget.search_deadline``.
3. The finalists (each model's best trial, the default LightGBM, the best ensemble) are ranked by
   cross-validated score; the best one whose estimated refit still fits in the time left is refitted
   on all training rows (else the next one; the default LightGBM's measured fit is usually the
   cheapest; a prior/mean baseline is the last resort), then the default LightGBM for comparison.
4. Both are scored once on the test split; permutation importance on the test split takes what time
   is left before the hard deadline.

``train`` returns by ``Budget.hard_deadline`` (the budget less the export's share). Classification
pipelines predict class indices into ``schema.classes``.
"""

from __future__ import annotations

import math
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from core.automl import config, features, search
from core.automl.artifact import TrainedModel, TrainSpec
from core.automl.budget import Budget, Ledger, warm_up
from core.automl.schema import Schema, build_schema, category_text
from core.errors import InputError
from core.ml.fingerprint import data_fingerprint

Progress = Callable[[dict[str, Any]], None]
# Kept free before the hard deadline for assembling the result.
FINAL_MARGIN_SECONDS = 0.2
BASELINE = "baseline"
LIBRARIES = ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "flaml")


@dataclass(frozen=True)
class Prepared:
    """The split, the schema and the model frames every later step reads."""

    train: pd.DataFrame  # raw training rows (in time order when a time column is set)
    test: pd.DataFrame  # raw test rows
    schema: Schema
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    problem: search.Problem
    folds: search.Folds


@dataclass
class Refitted:
    name: str
    pipeline: Any
    candidate: search.Candidate | None
    fitted: dict[str, Pipeline] = field(default_factory=dict)  # model -> pipeline fitted on all training rows


def train(frame: pd.DataFrame, spec: TrainSpec, *, progress: Progress | None = None,
          started: float | None = None, test_rows: np.ndarray | None = None) -> TrainedModel:
    """Search, refit and score a model for ``spec`` on ``frame``; returns by the budget's hard deadline,
    counted from ``started`` (a ``time.monotonic()`` value; default now). ``test_rows``: positions in
    ``frame`` to hold out as the test split (an outer cross-validation's fold); default ``split_rows``."""
    began = time.monotonic()
    budget = Budget(began if started is None else started, float(spec.budget_seconds))
    warm_up()  # the search's fork server imports its libraries while the split is prepared
    ledger = Ledger()
    notes: list[str] = []
    if started is not None:
        ledger.record("profiling", began - started)  # the caller's work on this job before training
    report = progress or (lambda _update: None)
    with ledger.phase("split"):
        data = prepare(frame, spec, notes, test_rows=test_rows)
    report({"phase": "split", "train_rows": len(data.y_train), "test_rows": len(data.y_test),
            "validation": data.folds.label, "elapsed": budget.elapsed()})
    with ledger.phase("search"):
        result = search.run_search(data.X_train, data.y_train, data.schema, data.problem, data.folds, budget,
                                   max_trials=spec.max_trials, progress=report)
    notes.extend(result.notes)
    if not result.finished:
        notes.append(f"the search was stopped at its deadline after {result.searched} trials")
    with ledger.phase("selection"):
        ranked = search.finalists(result, data.y_train, data.problem, single_model=spec.single_model)
    report({"phase": "refit", "elapsed": budget.elapsed()})
    with ledger.phase("refit"):
        refitted = refit(ranked, data, budget, notes)
    with ledger.phase("test"):
        test_scores, predictions = score_on_test(refitted, data)
    report({"phase": "importance", "elapsed": budget.elapsed()})
    with ledger.phase("importance"):
        importance = permutation_importance(refitted.pipeline, data, budget.hard_deadline - FINAL_MARGIN_SECONDS)
    board = search.leaderboard(ranked, refitted.name, data.problem, data.folds)
    if refitted.candidate is None:
        board = _with_uncrossvalidated_row(board, refitted.name, data)
    report({"phase": "trained", "model": refitted.name, "elapsed": budget.elapsed()})
    return TrainedModel(spec=spec, schema=data.schema, pipeline=refitted.pipeline, algorithm=refitted.name,
                        leaderboard=board, metric=data.problem.metric, test_scores=test_scores,
                        test_predictions=predictions, test_inputs=kept_test_inputs(data, spec),
                        importance=importance, ledger=ledger.as_dict(), trials=result.searched,
                        fingerprint=data_fingerprint(frame), versions=library_versions(), notes=notes)


# --- split -------------------------------------------------------------------------------------------------------


def prepare(frame: pd.DataFrame, spec: TrainSpec, notes: list[str], *,
            test_rows: np.ndarray | None = None) -> Prepared:
    """Drop rows without a target, split (``test_rows``: positions in ``frame`` held out as the test
    split instead), build the schema on the training rows, encode the target."""
    if spec.target not in frame.columns:
        raise InputError("the target column is not in the data", column=spec.target)
    if spec.time_col is not None and spec.time_col not in frame.columns:
        raise InputError("the time column is not in the data", column=spec.time_col)
    usable = _rows_with_target(frame, spec, notes)
    if test_rows is None:
        train, test = (usable.iloc[rows] for rows in split_rows(usable, spec))
    else:
        held_out = np.zeros(len(frame), dtype=bool)
        held_out[np.asarray(test_rows, dtype=int)] = True
        held_out = held_out[_has_target(frame, spec)]
        train, test = usable.loc[~held_out], usable.loc[held_out]
        if spec.time_col is not None:
            train = train.iloc[time_order(train, spec.time_col)]  # the time-ordered folds need it
        if not len(test) or len(train) < config.MIN_ROWS:
            raise InputError(f"the test rows leave {len(train)} training and {len(test)} test rows with a "
                             f"target value", column=spec.target)
    schema = build_schema(train, spec.roles, spec.target, spec.task, seed=spec.seed)
    if not schema.columns:
        raise InputError("no column is left for the model to learn from (every column is the target, "
                         "an identifier, constant or dropped)")
    if spec.task == config.CLASSIFICATION:
        y_train, y_test, test = _encode_classes(train, test, schema, notes)
    else:
        y_train = _numeric_target(train[spec.target])
        y_test = _numeric_target(test[spec.target])
    problem = search.Problem(spec.task, len(schema.classes), spec.seed)
    folds = search.plan_folds(y_train, problem, time_ordered=spec.time_col is not None)
    return Prepared(train, test, schema, features.model_frame(train, schema), y_train,
                    features.model_frame(test, schema), y_test, problem, folds)


def _numeric_target(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _has_target(frame: pd.DataFrame, spec: TrainSpec) -> np.ndarray:
    """Per row: whether its target value is usable (a finite number for regression, any label otherwise)."""
    values = frame[spec.target]
    if spec.task == config.REGRESSION:
        numbers = pd.to_numeric(values, errors="coerce")
        return (numbers.notna() & np.isfinite(numbers.astype(float))).to_numpy()
    return (category_text(values) != config.MISSING).to_numpy()


def _rows_with_target(frame: pd.DataFrame, spec: TrainSpec, notes: list[str]) -> pd.DataFrame:
    keep = _has_target(frame, spec)
    dropped = int((~keep).sum())
    if dropped:
        notes.append(f"{dropped} rows without a usable target value were left out of training and testing")
    usable = frame.loc[keep]
    if len(usable) < config.MIN_ROWS:
        raise InputError(f"only {len(usable)} rows have a target value; at least {config.MIN_ROWS} are needed",
                         column=spec.target)
    return usable


def time_order(frame: pd.DataFrame, time_col: str) -> np.ndarray:
    """Row positions in time order (rows without a readable time first, ties in their order)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": parsed one by one, as the features do
        stamps = pd.to_datetime(frame[time_col], errors="coerce", utc=True)
    return np.argsort(stamps.rank(method="first", na_option="top").to_numpy(), kind="stable")


def split_rows(frame: pd.DataFrame, spec: TrainSpec) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and test rows. With a time column: training rows in time order (rows
    without a readable time first), the test rows are the latest ``TEST_SHARE``. Otherwise a seeded random
    split, stratified by class when every class has two rows."""
    rows = len(frame)
    n_test = max(1, int(round(rows * config.TEST_SHARE)))
    if spec.time_col is not None:
        order = time_order(frame, spec.time_col)
        return order[: rows - n_test], order[rows - n_test:]
    positions = np.arange(rows)
    stratify = None
    if spec.task == config.CLASSIFICATION:
        labels = category_text(frame[spec.target])
        counts = labels.value_counts()
        if counts.min() >= 2 and n_test >= len(counts):
            stratify = labels.to_numpy()
    train, test = train_test_split(positions, test_size=n_test, random_state=spec.seed, stratify=stratify)
    return np.sort(train), np.sort(test)


def _encode_classes(train: pd.DataFrame, test: pd.DataFrame, schema: Schema,
                    notes: list[str]) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Labels -> indices into ``schema.classes``; test rows of a class training never saw are left out."""
    if len(schema.classes) < 2:
        raise InputError(f"the training rows hold one class only ({schema.classes[0] if schema.classes else '-'}); "
                         "classification needs at least two", column=schema.target)
    y_train = encode_labels(train[schema.target], schema)
    y_test = encode_labels(test[schema.target], schema)
    unseen = y_test < 0
    if unseen.any():
        notes.append(f"{int(unseen.sum())} test rows of classes absent from the training rows were left out")
        test, y_test = test.loc[~unseen], y_test[~unseen]
    return y_train, y_test, test


def encode_labels(values: pd.Series, schema: Schema) -> np.ndarray:
    """Class labels -> indices into ``schema.classes`` (-1 for a label not among them)."""
    return pd.Categorical(category_text(values), categories=list(schema.classes)).codes.astype(int)


# --- refit -------------------------------------------------------------------------------------------------------


def refit(ranked: search.Finalists, data: Prepared, budget: Budget, notes: list[str]) -> Refitted:
    """Refit the best finalist whose estimated refit fits in the time left, on all training rows; then the
    default LightGBM too (for the comparison on the test split) if it fits."""
    keep = budget.scoring_reserve / 2  # the test predictions still have to run after the refit
    fitted: dict[str, Pipeline] = {}
    winner: search.Candidate | None = None
    for candidate in ranked.candidates:
        if budget.fits(candidate.refit_estimate(data.folds) * config.REFIT_SAFETY, keep=keep):
            winner = candidate
            break
    if winner is None:
        default_guess = _default_guess(data)
        if not ranked.named(search.DEFAULT_LGBM) and budget.fits(default_guess * config.REFIT_SAFETY, keep=keep):
            notes.append("no search trial finished in time; the default LightGBM was fitted instead")
            pipeline = _fit_trial_model(search.DEFAULT_LGBM, None, data, fitted)
            return Refitted(search.DEFAULT_LGBM, pipeline, None, fitted)
        notes.append("no model could be refitted within the budget; a baseline predicting the class shares "
                     "(or the mean) was fitted instead")
        baseline = search.fit_pipeline(search.baseline_pipeline(data.schema, data.problem), data.X_train, data.y_train)
        return Refitted(BASELINE, baseline, None, fitted)
    if winner is not ranked.candidates[0]:
        notes.append(f"{ranked.candidates[0].name} scored best but its refit would not fit in the time left; "
                     f"{winner.name} was refitted instead")
    members = [(trial.model, _fit_trial_model(trial.model, trial, data, fitted)) for trial in winner.members]
    pipeline = members[0][1] if len(members) == 1 else search.assemble_ensemble(members, data.problem, winner.shares)
    default = ranked.named(search.DEFAULT_LGBM)
    if search.DEFAULT_LGBM not in fitted and default is not None:
        if budget.fits(default.refit_estimate(data.folds) * config.REFIT_SAFETY, keep=keep):
            _fit_trial_model(search.DEFAULT_LGBM, default.members[0], data, fitted)
        else:
            notes.append("the default LightGBM was not refitted for the test comparison: no time was left")
    return Refitted(winner.name, pipeline, winner, fitted)


def _fit_trial_model(model: str, trial: search.Trial | None, data: Prepared, fitted: dict[str, Pipeline]) -> Pipeline:
    if model not in fitted:
        if trial is None:
            pipeline = search.default_pipeline(data.schema, data.problem)
            balanced = False
        else:
            pipeline = search.pipeline_of(trial, data.schema, data.problem)
            balanced = trial.balanced
        fitted[model] = search.fit_pipeline(pipeline, data.X_train, data.y_train, balanced=balanced)
    return fitted[model]


def _default_guess(data: Prepared) -> float:
    """Seconds a default LightGBM refit may take when the search measured none."""
    return float(data.X_train.shape[0] * max(data.X_train.shape[1], 1) * config.LGBM_SECONDS_PER_CELL)


def _with_uncrossvalidated_row(board: pd.DataFrame, name: str, data: Prepared) -> pd.DataFrame:
    """The leaderboard with the fallback model that was fitted without a cross-validated score."""
    row = {"model": name, "cv_score": float("nan"), "cv_sd": float("nan"), "metric": data.problem.metric,
           "validation": "not cross-validated: fitted when no searched model could be in time", "trials": 0,
           "fit_seconds": float("nan"), "predict_ms_per_row": float("nan"), "params": "{}",
           "exportable": name == search.DEFAULT_LGBM or None, "gain_vs_default": float("nan"), "chosen": True}
    return pd.concat([board, pd.DataFrame([row])], ignore_index=True) if len(board) else pd.DataFrame([row])


# --- test scores ---------------------------------------------------------------------------------------------------


def score_on_test(refitted: Refitted, data: Prepared) -> tuple[dict[str, float], pd.DataFrame]:
    """The winner's (and the default LightGBM's, as ``default_<score>``) scores on the test split, and
    the winner's predictions there (labels, and ``proba_<class>`` for classification)."""
    problem = data.problem
    predicted = search.predict_scores(refitted.pipeline, data.X_test, problem)
    scores = search.report_scores(problem, data.y_test, predicted)
    default = refitted.fitted.get(search.DEFAULT_LGBM)
    if default is not None and refitted.name != search.DEFAULT_LGBM:
        default_scores = search.report_scores(problem, data.y_test, search.predict_scores(default, data.X_test, problem))
        scores.update({f"default_{name}": value for name, value in default_scores.items()})
    elif refitted.name == search.DEFAULT_LGBM:
        scores.update({f"default_{name}": value for name, value in list(scores.items())})
    return scores, _predictions_frame(data, predicted)


def _predictions_frame(data: Prepared, predicted: np.ndarray) -> pd.DataFrame:
    index = data.test.index
    if not data.problem.classification:
        return pd.DataFrame({"y_true": data.y_test, "y_pred": predicted}, index=index)
    classes = np.asarray(data.schema.classes, dtype=object)
    frame = pd.DataFrame({"y_true": classes[data.y_test], "y_pred": classes[predicted.argmax(axis=1)]}, index=index)
    for i, label in enumerate(data.schema.classes):
        frame[f"proba_{label}"] = predicted[:, i]
    return frame


def kept_test_inputs(data: Prepared, spec: TrainSpec) -> pd.DataFrame:
    """Raw input rows of the test split (the target left out), at most ``KEPT_TEST_ROWS``, in their order."""
    inputs = data.test.drop(columns=[spec.target])
    if len(inputs) <= config.KEPT_TEST_ROWS:
        return inputs.copy()
    chosen = np.sort(np.random.default_rng(spec.seed).choice(len(inputs), config.KEPT_TEST_ROWS, replace=False))
    return inputs.iloc[chosen].copy()


# --- importance ----------------------------------------------------------------------------------------------------


def model_columns_of(schema: Schema) -> dict[str, list[str]]:
    """Raw input column -> the model-frame columns made from it."""
    out: dict[str, list[str]] = {}
    for spec in schema.columns:
        if spec.kind == "datetime":
            out[spec.name] = features.datetime_columns(spec.name)
        elif spec.kind == "text":
            out[spec.name] = features.text_columns(spec.name)
        else:
            out[spec.name] = [spec.name]
    return out


def permutation_importance(model: Any, data: Prepared, deadline: float) -> pd.DataFrame:
    """How much the test loss grows when one raw input column's values are shuffled (all the model
    columns made from it together), over up to ``IMPORTANCE_REPEATS`` shuffles, on at most
    ``IMPORTANCE_ROWS`` test rows; stops at ``deadline`` (columns not reached get NaN)."""
    groups = model_columns_of(data.schema)
    columns = ["feature", "importance", "sd"]
    rng = np.random.default_rng(data.problem.seed)
    rows = np.arange(len(data.y_test))
    if len(rows) > config.IMPORTANCE_ROWS:
        rows = np.sort(rng.choice(rows, config.IMPORTANCE_ROWS, replace=False))
    X, y = data.X_test.iloc[rows].reset_index(drop=True), data.y_test[rows]
    if len(y) < 2 or time.monotonic() >= deadline:
        return pd.DataFrame({"feature": list(groups), "importance": np.nan, "sd": np.nan}, columns=columns)
    began = time.monotonic()
    base = search.cv_loss(data.problem, y, search.predict_scores(model, X, data.problem))
    one_predict = time.monotonic() - began
    drops: dict[str, list[float]] = {name: [] for name in groups}
    for _ in range(config.IMPORTANCE_REPEATS):
        for name, model_columns in groups.items():
            if time.monotonic() + 2 * one_predict > deadline:
                break
            shuffled = X.copy()
            order = rng.permutation(len(X))
            shuffled[model_columns] = X[model_columns].to_numpy()[order]
            loss = search.cv_loss(data.problem, y, search.predict_scores(model, shuffled, data.problem))
            drops[name].append(loss - base)
    table = pd.DataFrame({"feature": list(groups),
                          "importance": [float(np.mean(v)) if v else math.nan for v in drops.values()],
                          "sd": [float(np.std(v)) if v else math.nan for v in drops.values()]}, columns=columns)
    return table.sort_values("importance", ascending=False, na_position="last").reset_index(drop=True)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
