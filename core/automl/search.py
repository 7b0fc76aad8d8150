"""The model search: FLAML's AutoML over five learners, every candidate scored by the same
cross-validation, a default LightGBM as a standing candidate, an ensemble of the best models, and
blends of each with the default LightGBM, the only candidates that may replace it (``finalists``).

How FLAML is used: ``flaml.AutoML`` picks the learner to try next (by its estimated cost for
improvement; round robin in reproducible mode) and each learner's next configuration (CFO over FLAML's
own search space for that learner). Each learner is added with ``AutoML.add_learner`` as a subclass of
``SKLearnEstimator`` that keeps FLAML's search space, cost and parameter mapping (``LGBMEstimator``,
``XGBoostSklearnEstimator``, ``RandomForestEstimator``, ``ExtraTreesEstimator``, ``LRL2Classifier`` or
``ElasticNetEstimator``) but fits on our folds:

- FLAML runs cross-validation with a splitter that yields our fixed folds, so every candidate, the
  default LightGBM included, is scored on the same rows, and their out-of-fold predictions can be
  averaged to score an ensemble without any extra fit;
- preprocessing is fitted inside each fold (``features.make_preprocessor`` on the fold's training rows
  only; ``FoldCache`` fits it once per fold and family and every trial reuses it);
- the metric FLAML minimises is ours (log loss or RMSE on the fold's validation rows); it also collects
  the fold's predictions, and the fold aggregation writes each finished trial to a log
  (``TrialLog``) the parent reads while the search runs, so the best found so far survives when the
  search process is killed at its deadline (``budget``).

Classification minimises log loss, regression RMSE (the leaderboard reads lower = better). Class
imbalance: under ``config.IMBALANCE_SHARE`` each learner's space gains a ``balanced`` switch (balanced
sample weights), kept only where it lowers the cross-validated log loss.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from sklearn.utils.class_weight import compute_sample_weight

from core.automl import config, features
from core.automl.budget import Budget, run_until
from core.automl.schema import Schema
from core.ml import metrics

DEFAULT_LGBM = "default_lgbm"
ENSEMBLE = "ensemble"
BLEND = "blend"
TRIALS_FILE = "trials.jsonl"
Split = tuple[np.ndarray, np.ndarray]
Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Learner:
    """A searched model family: its FLAML estimator class (search space, cost and parameter mapping,
    by ``module:Class`` so the learner list pickles into the search process) and its preprocessing."""

    name: str
    estimator: str
    family: features.Family
    tasks: tuple[str, ...] = config.TASKS
    exportable: bool | None = True


LEARNERS: tuple[Learner, ...] = (
    Learner("lgbm", "flaml.automl.model:LGBMEstimator", "tree"),
    Learner("xgboost", "flaml.automl.model:XGBoostSklearnEstimator", "tree"),
    Learner("rf", "flaml.automl.model:RandomForestEstimator", "tree"),
    Learner("extra_trees", "flaml.automl.model:ExtraTreesEstimator", "tree"),
    Learner("linear", "flaml.automl.model:LRL2Classifier", "linear", (config.CLASSIFICATION,)),
    Learner("linear", "flaml.automl.model:ElasticNetEstimator", "linear", (config.REGRESSION,)),
)


def learners_for(task: str) -> tuple[Learner, ...]:
    return tuple(learner for learner in LEARNERS if task in learner.tasks)


@dataclass(frozen=True)
class Problem:
    """What every candidate is fitted on and scored by."""

    task: str  # config.CLASSIFICATION | config.REGRESSION
    n_classes: int = 0  # classification: labels are 0 .. n_classes - 1
    seed: int = config.DEFAULT_SEED

    @property
    def classification(self) -> bool:
        return self.task == config.CLASSIFICATION

    @property
    def flaml_task(self) -> str:
        if not self.classification:
            return "regression"
        return "binary" if self.n_classes == 2 else "multiclass"

    @property
    def metric(self) -> str:
        return config.CLASSIFICATION_METRIC if self.classification else config.REGRESSION_METRIC


# --- scores ----------------------------------------------------------------------------------------------------


def cv_loss(problem: Problem, y_true: np.ndarray, predicted: np.ndarray) -> float:
    """The metric the search minimises: log loss over all classes, or RMSE."""
    if problem.classification:
        proba = np.clip(predicted, 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        return float(log_loss(y_true, proba, labels=np.arange(problem.n_classes)))
    if not np.isfinite(predicted).all():  # the shared RMSE skips NaN pairs; a model predicting NaN has failed
        return float("inf")
    return metrics.rmse(y_true, predicted)


def report_scores(problem: Problem, y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The scores a user reads: ROC AUC (macro one-vs-rest for several classes), log loss, accuracy,
    balanced accuracy and macro F1; or RMSE, MAE and R²."""
    if not problem.classification:
        return {"rmse": metrics.rmse(y_true, predicted), "mae": metrics.mae(y_true, predicted),
                "r2": metrics.r2(y_true, predicted)}
    labels = predicted.argmax(axis=1)
    scores = {"roc_auc": _roc_auc(problem, y_true, predicted), "log_loss": cv_loss(problem, y_true, predicted),
              "accuracy": float(accuracy_score(y_true, labels))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class absent from the test rows
        scores["balanced_accuracy"] = float(balanced_accuracy_score(y_true, labels))
        scores["f1_macro"] = float(f1_score(y_true, labels, average="macro"))
    return scores


def _roc_auc(problem: Problem, y_true: np.ndarray, proba: np.ndarray) -> float:
    present = np.unique(y_true)
    if len(present) < 2:
        return float("nan")
    if problem.n_classes == 2:
        return float(roc_auc_score(y_true, proba[:, 1]))
    if len(present) < problem.n_classes:  # OvR AUC is undefined for a class with no test row
        return float("nan")
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=np.arange(problem.n_classes)))


# --- folds -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Folds:
    """Fixed (train rows, validation rows) pairs every candidate is scored on, and how a user reads them."""

    splits: tuple[Split, ...]
    label: str
    # Repeated CV: the repetition each split belongs to (a row is validated once per repetition).
    repetitions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.repetitions:
            object.__setattr__(self, "repetitions", (0,) * len(self.splits))

    @property
    def repeats(self) -> int:
        return max(self.repetitions) + 1

    @property
    def train_share(self) -> float:
        """Mean share of the rows a fold trains on (scales a fold's fit time to a refit on all rows)."""
        total = sum(len(t) + len(v) for t, v in self.splits) / len(self.splits)
        return float(np.mean([len(t) for t, _ in self.splits]) / max(total, 1.0))


def plan_folds(y: np.ndarray, problem: Problem, *, time_ordered: bool) -> Folds:
    """CV_FOLDS folds (fewer for large data, one holdout for very large data; repeated with other shuffles
    for small data, where one split's luck decides too much): time-ordered (rows must be sorted by time)
    when a time column is set, stratified for classification, shuffled otherwise."""
    rows = len(y)
    index = np.arange(rows)
    if rows > config.CV_HOLDOUT_ROWS:
        return _holdout(y, problem, time_ordered=time_ordered)
    n_splits = config.CV_FOLDS if rows <= config.CV_REDUCED_ROWS else config.CV_REDUCED_FOLDS
    size = "" if n_splits == config.CV_FOLDS else ", fewer folds for large data"
    if time_ordered:
        splits = TimeSeriesSplit(n_splits=n_splits).split(index)
        return Folds(_as_splits(splits), f"{n_splits}-fold time-ordered CV{size}")
    repeats = config.CV_REPEATS if rows <= config.CV_REPEAT_ROWS else 1
    kind, splits = "", []
    for repetition in range(repeats):
        seed = problem.seed + 1000 * repetition
        if problem.classification and np.bincount(y.astype(int)).max() >= n_splits:
            kind = " stratified"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a class with fewer rows than folds
                split = list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(index, y))
        else:
            split = list(KFold(n_splits, shuffle=True, random_state=seed).split(index))
        splits += [(repetition, train, valid) for train, valid in split]
    if repeats == 1:
        return Folds(_as_splits((t, v) for _, t, v in splits), f"{n_splits}-fold{kind} CV{size}")
    return _repeated(splits, f"{n_splits}-fold{kind} CV, {repeats} repeats (small data)")


def _repeated(splits: list[tuple[int, np.ndarray, np.ndarray]], label: str) -> Folds:
    """Folds of several repetitions; a split whose training rows an earlier one already had is dropped
    (the search tells folds apart by their training rows)."""
    seen: set[bytes] = set()
    kept = []
    for repetition, train, valid in splits:
        key = np.sort(train).tobytes()
        if key not in seen:
            seen.add(key)
            kept.append((repetition, np.asarray(train), np.asarray(valid)))
    return Folds(tuple((t, v) for _, t, v in kept), label, tuple(r for r, _, _ in kept))


def _holdout(y: np.ndarray, problem: Problem, *, time_ordered: bool) -> Folds:
    index = np.arange(len(y))
    share = f"{config.HOLDOUT_SHARE:.0%}"
    if time_ordered:
        cut = int(len(y) * (1 - config.HOLDOUT_SHARE))
        return Folds(((index[:cut], index[cut:]),), f"holdout (latest {share} of rows; large data)")
    stratify = y if problem.classification and np.bincount(y.astype(int)).min() >= 2 else None
    train, valid = train_test_split(index, test_size=config.HOLDOUT_SHARE, random_state=problem.seed,
                                    stratify=stratify)
    return Folds(((np.sort(train), np.sort(valid)),), f"holdout ({share} of rows; large data)")


def _as_splits(splits: Any) -> tuple[Split, ...]:
    return tuple((np.asarray(train), np.asarray(valid)) for train, valid in splits)


# --- pipelines -------------------------------------------------------------------------------------------------


def _resolve(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def estimator_for(learner: Learner, params: dict[str, Any], problem: Problem) -> Any:
    """The sklearn estimator FLAML's estimator class maps ``params`` to (one thread, our seed)."""
    flaml_class = _resolve(learner.estimator)
    wrapped = flaml_class(task=problem.flaml_task, n_jobs=1, **params)
    settings = dict(wrapped.params)
    if "max_features" in settings:
        # FLAML's regression start point is the int 1, which sklearn reads as "one feature", not "all".
        settings["max_features"] = float(settings["max_features"])
    estimator_class = wrapped.estimator_class
    if "random_state" in estimator_class().get_params():
        settings["random_state"] = problem.seed
    return estimator_class(**settings)


def build_pipeline(learner: Learner, params: dict[str, Any], schema: Schema, problem: Problem) -> Pipeline:
    """The learner with these hyperparameters behind its in-fold preprocessing."""
    return Pipeline([("prep", features.make_preprocessor(schema, learner.family)),
                     ("model", estimator_for(learner, params, problem))])


def default_estimator(problem: Problem) -> Any:
    """LightGBM with its default parameters (one thread, quiet)."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    model_class = LGBMClassifier if problem.classification else LGBMRegressor
    return model_class(n_jobs=1, verbose=-1, random_state=problem.seed)


def default_pipeline(schema: Schema, problem: Problem) -> Pipeline:
    """The default LightGBM behind the tree preprocessing."""
    return Pipeline([("prep", features.make_preprocessor(schema, "tree")), ("model", default_estimator(problem))])


def fit_pipeline(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, *, balanced: bool = False) -> Pipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and feature-name chatter of the estimators
        if balanced:
            return pipeline.fit(X, y, model__sample_weight=compute_sample_weight("balanced", y))
        return pipeline.fit(X, y)


def predict_scores(model: Any, X: pd.DataFrame, problem: Problem) -> np.ndarray:
    """Class probabilities in columns 0 .. n_classes - 1 (a fold may have missed a class), or predictions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not problem.classification:
            return np.asarray(model.predict(X), dtype=float)
        proba = np.asarray(model.predict_proba(X), dtype=float)
    out = np.zeros((len(X), problem.n_classes))
    out[:, np.asarray(model.classes_, dtype=int)] = proba
    return out


def assemble_ensemble(members: Sequence[tuple[str, Any]], problem: Problem,
                      weights: Sequence[float] | None = None) -> VotingClassifier | VotingRegressor:
    """A soft-voting ensemble of already fitted pipelines, weighted as the ensemble's cross-validated
    score was computed (``weights``; equal when not given). sklearn's voting estimators only fit their
    members themselves, each with the same sample weights; ours were refitted one by one, so the fitted
    attributes are set here."""
    named = list(members)
    fitted = [model for _, model in named]
    shares = None if weights is None else [float(w) for w in weights]
    if problem.classification:
        ensemble: VotingClassifier | VotingRegressor = VotingClassifier(named, voting="soft", weights=shares)
        encoder = LabelEncoder().fit(np.arange(problem.n_classes))
        ensemble.le_ = encoder
        ensemble.classes_ = encoder.classes_
    else:
        ensemble = VotingRegressor(named, weights=shares)
    ensemble.estimators_ = fitted
    ensemble.named_estimators_ = Bunch(**dict(named))
    return ensemble


# --- cross-validation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoldMatrices:
    """One fold's rows after the preprocessing fitted on its training rows only."""

    prep: Any  # the fitted ColumnTransformer
    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    valid_rows: np.ndarray
    repetition: int
    # What the preprocessing costs, measured once but charged to every trial: a pipeline refit pays it too.
    fit_seconds: float  # fit and transform of the training rows
    transform_seconds: float  # transform of the validation rows


class FoldCache:
    """The in-fold preprocessing, fitted once per fold and model family: it does not depend on a
    trial's hyperparameters, so refitting it for every trial would only cost time."""

    def __init__(self, X: pd.DataFrame, y: np.ndarray, schema: Schema, folds: Folds) -> None:
        self.X, self.y, self.schema, self.folds = X.reset_index(drop=True), y, schema, folds
        self._fold_by_rows = {_rows_key(train): i for i, (train, _) in enumerate(folds.splits)}
        self._matrices: dict[tuple[int, str], FoldMatrices] = {}

    def fold_of(self, rows: Any) -> int | None:
        """The fold whose training rows these are (by position), or None."""
        return self._fold_by_rows.get(_rows_key(np.asarray(rows)))

    def matrices(self, fold: int, family: features.Family) -> FoldMatrices:
        key = (fold, family)
        if key not in self._matrices:
            train, valid = self.folds.splits[fold]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                began = time.perf_counter()
                prep = features.make_preprocessor(self.schema, family)
                X_train = prep.fit_transform(self.X.iloc[train])
                fitted = time.perf_counter()
                X_valid = prep.transform(self.X.iloc[valid])
                self._matrices[key] = FoldMatrices(prep, X_train, self.y[train], X_valid, valid,
                                                   self.folds.repetitions[fold], fitted - began,
                                                   time.perf_counter() - fitted)
        return self._matrices[key]


def _rows_key(rows: np.ndarray) -> bytes:
    return np.sort(rows.astype(np.int64)).tobytes()


def fit_on_fold(model: Any, fold: FoldMatrices, *, balanced: bool = False) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights = compute_sample_weight("balanced", fold.y_train) if balanced else None
        return model.fit(fold.X_train, fold.y_train, sample_weight=weights)


@dataclass(frozen=True)
class CrossValidated:
    fold_scores: tuple[float, ...]
    oof: np.ndarray  # out-of-fold predictions per repetition: [repetition, row(, class)]; NaN where not validated
    fit_seconds: float  # mean per fold
    predict_ms_per_row: float

    @property
    def score(self) -> float:
        scores = np.asarray(self.fold_scores, dtype=float)
        return float(scores.mean()) if np.isfinite(scores).all() else float("inf")

    @property
    def sd(self) -> float:
        return float(np.std(self.fold_scores))


class FoldCollector:
    """Collects one trial's fold results (predictions, times) into a ``CrossValidated``."""

    def __init__(self, y: np.ndarray, problem: Problem, repeats: int = 1) -> None:
        self.y, self.problem = y, problem
        self.shape = (repeats, len(y), problem.n_classes) if problem.classification else (repeats, len(y))
        self.reset()

    def reset(self) -> None:
        self.oof = np.full(self.shape, np.nan)
        self.scores: list[float] = []
        self.fit_times: list[float] = []
        self.predict_seconds = 0.0
        self.predicted_rows = 0

    def add(self, model: Any, fold: FoldMatrices, fit_seconds: float) -> float:
        """Predict the fold's validation rows; the fold's loss. Times include the preprocessing's."""
        began = time.perf_counter()
        predicted = predict_scores(model, fold.X_valid, self.problem)
        self.predict_seconds += time.perf_counter() - began + fold.transform_seconds
        self.predicted_rows += len(fold.valid_rows)
        self.oof[fold.repetition, fold.valid_rows] = predicted
        self.fit_times.append(fit_seconds + fold.fit_seconds)
        score = cv_loss(self.problem, self.y[fold.valid_rows], predicted)
        self.scores.append(score if math.isfinite(score) else float("inf"))
        return self.scores[-1]

    def add_failure(self, fit_seconds: float) -> float:
        self.fit_times.append(fit_seconds)  # (the preprocessing's time is not charged: the model never ran)
        self.scores.append(float("inf"))
        return float("inf")

    def result(self) -> CrossValidated:
        return CrossValidated(tuple(self.scores), self.oof, float(np.mean(self.fit_times)) if self.fit_times else 0.0,
                              1000.0 * self.predict_seconds / max(self.predicted_rows, 1))


def cross_validate(make_model: Callable[[], Any], family: features.Family, cache: FoldCache, problem: Problem, *,
                   balanced: bool = False) -> CrossValidated:
    """Fit a fresh model on each fold's preprocessed training rows, score it on the validation rows."""
    collector = FoldCollector(cache.y, problem, cache.folds.repeats)
    for fold in range(len(cache.folds.splits)):
        matrices = cache.matrices(fold, family)
        began = time.perf_counter()
        model = fit_on_fold(make_model(), matrices, balanced=balanced)
        collector.add(model, matrices, time.perf_counter() - began)
    return collector.result()


def fold_scores_of(oof: np.ndarray, y: np.ndarray, folds: Folds, problem: Problem) -> tuple[float, ...]:
    """Per-fold scores of given out-of-fold predictions (an ensemble's average)."""
    return tuple(cv_loss(problem, y[valid], oof[repetition, valid])
                 for (_, valid), repetition in zip(folds.splits, folds.repetitions, strict=True))


# --- the search process ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchJob:
    """Everything the search process needs; pickled into it."""

    X: pd.DataFrame
    y: np.ndarray
    schema: Schema
    problem: Problem
    folds: Folds
    learners: tuple[Learner, ...]
    deadline: float  # time.monotonic(): the search is killed then
    workdir: str
    planned_seconds: float = 0.0  # the search's share of the budget (a plan: the same on every run)
    max_trials: int | None = None  # reproducible mode: this many trials, round robin, no time dependence
    imbalanced: bool = False


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class TrialLog:
    """The search process's record of finished trials: one JSON line per trial (written whole and
    flushed, so a kill leaves at most a partial last line, which the reader skips), and the out-of-fold
    predictions of each model's best trial so far in ``.npy`` files (renamed into place when complete)."""

    def __init__(self, workdir: str) -> None:
        self.workdir = Path(workdir)
        self.count = 0
        self.best: dict[str, float] = {}

    def append(self, model: str, learner: str, params: dict[str, Any], result: CrossValidated | None, *,
               balanced: bool = False, error: str | None = None) -> float:
        self.count += 1
        score = result.score if result is not None and error is None else float("inf")
        oof_file = None
        if result is not None and math.isfinite(score) and score < self.best.get(model, float("inf")):
            self.best[model] = score
            oof_file = f"oof_{self.count:05d}.npy"
            partial = self.workdir / f"{oof_file}.part"
            with partial.open("wb") as handle:
                np.save(handle, result.oof)
            os.replace(partial, self.workdir / oof_file)
        record = {"number": self.count, "model": model, "learner": learner, "params": _jsonable(params),
                  "balanced": balanced, "cv_score": score, "cv_sd": result.sd if result else None,
                  "fold_scores": list(result.fold_scores) if result else [],
                  "fit_seconds": result.fit_seconds if result else None,
                  "predict_ms_per_row": result.predict_ms_per_row if result else None,
                  "oof": oof_file, "error": error}
        self._write(record)
        return score

    def note(self, text: str) -> None:
        """Something the user should read about the search itself (it ended early, and why)."""
        self._write({"note": text})

    def _write(self, record: dict[str, Any]) -> None:
        with (self.workdir / TRIALS_FILE).open("a") as handle:
            handle.write(json.dumps(record, allow_nan=True) + "\n")
            handle.flush()


class FixedFolds:
    """A splitter FLAML's ``split_type`` accepts that yields our folds (never reshuffled)."""

    shuffle = False  # FLAML would otherwise permute each fold's training rows

    def __init__(self, folds: Folds) -> None:
        self.splits = folds.splits

    def get_n_splits(self, *_args: Any, **_kwargs: Any) -> int:
        return len(self.splits)

    def split(self, *_args: Any, **_kwargs: Any) -> Any:
        return iter(self.splits)


class TrialRecorder:
    """The glue between FLAML's cross-validation and the trial log: the metric FLAML calls per fold
    scores our fold and keeps its predictions; the fold aggregation FLAML calls per trial writes the trial."""

    def __init__(self, cache: FoldCache, problem: Problem, log: TrialLog) -> None:
        self.cache, self.problem, self.log = cache, problem, log
        self.collector = FoldCollector(cache.y, problem, cache.folds.repeats)
        self.current: Any = None

    def metric(self, _X_val: Any, _y_val: Any, estimator: Any, *_args: Any, **_kwargs: Any) -> tuple[float, dict[str, float]]:
        self.current = estimator
        if estimator.fold is None:  # AutoML's own refit on all rows, skipped by the learner
            return float("inf"), {}
        if estimator.failure is not None:
            return self.collector.add_failure(estimator.fit_seconds), {}
        matrices = self.cache.matrices(estimator.fold, estimator.family)
        return self.collector.add(estimator.model_, matrices, estimator.fit_seconds), {}

    def aggregate(self, losses: list[float], _logged: list[Any]) -> tuple[float, dict[str, float]]:
        estimator, result = self.current, self.collector.result()
        self.collector.reset()
        if estimator is None or estimator.fold is None:
            return float(np.mean(losses)), {}
        score = self.log.append(estimator.learner.name, estimator.learner.name, estimator.hyperparameters, result,
                                balanced=estimator.balanced, error=estimator.failure)
        return score, {}


# LightGBM's defaults in FLAML's search space (its lowest regularisation stands for none).
LGBM_DEFAULT_START = {"n_estimators": 100, "num_leaves": 31, "min_child_samples": 20, "learning_rate": 0.1,
                      "log_max_bin": 8, "colsample_bytree": 1.0, "reg_alpha": 1 / 1024, "reg_lambda": 1 / 1024}


def starting_points(job: SearchJob) -> dict[str, list[dict[str, Any]]]:
    """Where FLAML's search starts besides its low-cost points: at LightGBM's defaults when a default
    LightGBM is expensive for the budget (estimated from the data's size, so the same on every run)."""
    if not any(learner.name == "lgbm" for learner in job.learners):
        return {}
    rows = float(np.mean([len(train) for train, _ in job.folds.splits]))
    default_seconds = rows * max(job.X.shape[1], 1) * len(job.folds.splits) * config.LGBM_SECONDS_PER_CELL
    if default_seconds > config.DEFAULT_START_SHARE * job.planned_seconds:
        return {"lgbm": [dict(LGBM_DEFAULT_START)]}
    return {}


# FLAML prices logistic regression at 25 LightGBMs (its large-data benchmarks); behind our scaler, lbfgs on
# tabular data costs about a small LightGBM, and trying it early gives the ensemble a different member.
LINEAR_RELATIVE_COST = 2.0


def flaml_learner(learner: Learner, cache: FoldCache, problem: Problem, *, balanced_switch: bool) -> type:
    """A FLAML estimator class for ``learner``: FLAML's search space, cost and parameter mapping for it,
    fitted on the cached, in-fold preprocessed rows of the fold FLAML hands it."""
    from flaml import tune
    from flaml.automl.model import SKLearnEstimator

    base = _resolve(learner.estimator)

    class FoldLearner(SKLearnEstimator):  # type: ignore[misc]
        @classmethod
        def search_space(cls, data_size: Any, task: Any, **params: Any) -> dict[str, Any]:
            space = dict(base.search_space(data_size=data_size, task=task, **params))
            if balanced_switch:
                space["balanced"] = {"domain": tune.choice([False, True]), "init_value": False}
            return space

        @classmethod
        def cost_relative2lgbm(cls) -> float:
            return LINEAR_RELATIVE_COST if learner.family == "linear" else float(base.cost_relative2lgbm())

        @classmethod
        def size(cls, config: dict[str, Any]) -> float:
            return float(base.size(config))

        def fit(self, X_train: Any, y_train: Any, budget: Any = None, free_mem_ratio: float = 0, **kwargs: Any) -> float:
            self.learner, self.family = learner, learner.family
            self.hyperparameters = {k: v for k, v in self.params.items() if k not in ("n_jobs", "balanced")}
            self.balanced = bool(self.params.get("balanced", False))
            self.fold, self.failure, self.model_, self.fit_seconds = cache.fold_of(X_train.index), None, None, 0.0
            if self.fold is None:  # AutoML's final refit on all rows: training refits the winner itself
                return 0.0
            matrices = cache.matrices(self.fold, learner.family)  # its own time is charged by the collector
            began = time.perf_counter()
            try:
                model = estimator_for(learner, self.hyperparameters, problem)
                self.model_ = fit_on_fold(model, matrices, balanced=self.balanced)
            except Exception as error:  # noqa: BLE001 - a config that fails is a bad config, not a crash
                self.failure = f"{type(error).__name__}: {error}"
            self.fit_seconds = time.perf_counter() - began
            return self.fit_seconds

    FoldLearner.__name__ = FoldLearner.__qualname__ = f"FoldLearner_{learner.name}"
    return FoldLearner


def search_process(job: SearchJob) -> None:
    """The body of the search process: the default LightGBM first (the standing candidate and the
    fallback), then FLAML's AutoML until its time (or trial count) is up. Every result goes to the log."""
    warnings.filterwarnings("ignore")
    logging.getLogger("flaml").setLevel(logging.ERROR)
    log = TrialLog(job.workdir)
    cache = FoldCache(job.X, job.y, job.schema, job.folds)
    try:
        result = cross_validate(lambda: default_estimator(job.problem), "tree", cache, job.problem)
        log.append(DEFAULT_LGBM, "lgbm", {}, result)
    except Exception as error:  # noqa: BLE001 - a failed candidate is a leaderboard fact, not a crash
        log.append(DEFAULT_LGBM, "lgbm", {}, None, error=f"{type(error).__name__}: {error}")
    if job.learners:
        try:
            _automl(job, cache, log)
        except Exception as error:  # noqa: BLE001 - what was found before stays usable
            log.note(f"the search ended early on an error: {type(error).__name__}: {error}")


def _automl(job: SearchJob, cache: FoldCache, log: TrialLog) -> None:
    from flaml import AutoML

    reproducible = job.max_trials is not None
    budget = -1.0 if reproducible else job.deadline - config.SEARCH_SOFT_MARGIN_SECONDS - time.monotonic()
    if not reproducible and budget <= 0:
        return
    recorder = TrialRecorder(cache, job.problem, log)
    automl = AutoML()
    for learner in job.learners:
        automl.add_learner(learner.name, flaml_learner(learner, cache, job.problem, balanced_switch=job.imbalanced))
    settings: dict[str, Any] = {"time_budget": budget}
    start = starting_points(job)
    if start:
        settings["starting_points"] = start
    if reproducible:
        # A fixed trial count, learners in turn: nothing depends on how long a trial took.
        settings.update(max_iter=job.max_trials, learner_selector="roundrobin")
    automl.fit(X_train=cache.X, y_train=job.y, task=job.problem.task, metric=recorder.metric,
               cv_score_agg_func=recorder.aggregate, eval_method="cv", split_type=FixedFolds(job.folds),
               n_splits=len(job.folds.splits), estimator_list=[learner.name for learner in job.learners],
               seed=job.problem.seed, n_jobs=1, retrain_full=False, skip_transform=True, auto_augment=False,
               sample=False, verbose=0, model_history=False, keep_search_state=False, **settings)


# --- the parent's side -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    number: int
    model: str  # a learner's name or DEFAULT_LGBM
    learner: str
    params: dict[str, Any]
    balanced: bool
    cv_score: float
    cv_sd: float | None
    fold_scores: tuple[float, ...]
    fit_seconds: float | None
    predict_ms_per_row: float | None
    oof: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and math.isfinite(self.cv_score)


class TrialReader:
    """Reads the trial log as it grows; skips a last line the kill cut short."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / TRIALS_FILE
        self.offset = 0
        self.trials: list[Trial] = []
        self.notes: list[str] = []

    def read(self) -> list[Trial]:
        """Trials finished since the last call."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        new: list[Trial] = []
        for line in chunk.split(b"\n")[:-1]:  # the part after the last newline is incomplete
            self.offset += len(line) + 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "note" in record:
                self.notes.append(str(record["note"]))
                continue
            new.append(Trial(record["number"], record["model"], record["learner"], record["params"],
                             bool(record["balanced"]), float(record["cv_score"]), record["cv_sd"],
                             tuple(record["fold_scores"]), record["fit_seconds"], record["predict_ms_per_row"],
                             record["oof"], record["error"]))
        self.trials.extend(new)
        return new


@dataclass
class SearchResult:
    trials: list[Trial]
    oof: dict[str, np.ndarray]  # model -> out-of-fold predictions of its best trial
    folds: Folds
    finished: bool  # the search ended by itself (False: killed at its deadline)
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def searched(self) -> int:
        """Trials of the search proper (the default LightGBM not counted)."""
        return sum(1 for t in self.trials if t.model != DEFAULT_LGBM)


def run_search(X: pd.DataFrame, y: np.ndarray, schema: Schema, problem: Problem, folds: Folds, budget: Budget, *,
               max_trials: int | None = None, learners: Sequence[Learner] | None = None,
               progress: Progress | None = None) -> SearchResult:
    """The search in a child process killed at ``budget.search_deadline``; returns every trial that
    finished by then and the out-of-fold predictions of each model's best one."""
    chosen = tuple(learners) if learners is not None else learners_for(problem.task)
    imbalanced = problem.classification and float(np.bincount(y.astype(int)).min()) / len(y) < config.IMBALANCE_SHARE
    with tempfile.TemporaryDirectory(prefix="headroom-search-") as workdir:
        job = SearchJob(X, y, schema, problem, folds, chosen, budget.search_deadline, workdir, budget.search_seconds,
                        max_trials, imbalanced)
        reader = TrialReader(Path(workdir))
        report = _reporter(reader, problem, budget, progress)
        outcome = run_until("core.automl.search:search_process", job, budget.search_deadline, on_poll=report)
        best = _best_per_model(reader.trials)
        oof = {model: np.load(Path(workdir) / trial.oof) for model, trial in best.items() if trial.oof}
    return SearchResult(reader.trials, oof, folds, outcome.finished, outcome.seconds, reader.notes)


def _reporter(reader: TrialReader, problem: Problem, budget: Budget, progress: Progress | None) -> Callable[[], None]:
    def report() -> None:
        new = reader.read()
        if not new or progress is None:
            return
        scores = [t.cv_score for t in reader.trials if t.ok]
        progress({"phase": "search", "trials": len(reader.trials), "model": new[-1].model,
                  "best_score": min(scores) if scores else None, "metric": problem.metric,
                  "elapsed": budget.elapsed(), "remaining": max(0.0, budget.search_deadline - time.monotonic())})

    return report


def _best_per_model(trials: Sequence[Trial]) -> dict[str, Trial]:
    """Each model's best trial, with out-of-fold predictions saved (the log saves them for each new best)."""
    best: dict[str, Trial] = {}
    for trial in trials:
        if trial.ok and trial.oof and (trial.model not in best or trial.cv_score < best[trial.model].cv_score):
            best[trial.model] = trial
    return best


# --- finalists and the leaderboard -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A finalist: one model's best trial, or an ensemble of several."""

    name: str
    members: tuple[Trial, ...]
    cv_score: float
    cv_sd: float
    trials: int
    exportable: bool | None
    weights: tuple[float, ...] = ()  # each member's share of the average (sum 1); empty: equal shares

    @property
    def shares(self) -> tuple[float, ...]:
        return self.weights or (1.0 / len(self.members),) * len(self.members)

    @property
    def fit_seconds(self) -> float:
        return float(sum(m.fit_seconds or 0.0 for m in self.members))

    @property
    def predict_ms_per_row(self) -> float:
        return float(sum(m.predict_ms_per_row or 0.0 for m in self.members))

    def refit_estimate(self, folds: Folds) -> float:
        """Seconds to refit on all training rows: the folds' fit time scaled by the rows (fits grow at
        least linearly in rows)."""
        return self.fit_seconds / max(folds.train_share, 1e-6)

    @property
    def params(self) -> str:
        if len(self.members) == 1:
            member = self.members[0]
            shown = {**member.params, **({"balanced": True} if member.balanced else {})}
            return json.dumps(shown, sort_keys=True)
        weighted = bool(self.weights)
        return json.dumps({m.model: {**({"weight": round(w, 3)} if weighted else {}), **m.params,
                                     **({"balanced": True} if m.balanced else {})}
                           for m, w in zip(self.members, self.shares, strict=True)}, sort_keys=True)


@dataclass
class Finalists:
    candidates: list[Candidate] = field(default_factory=list)  # best first

    def named(self, name: str) -> Candidate | None:
        return next((c for c in self.candidates if c.name == name), None)


def finalists(result: SearchResult, y: np.ndarray, problem: Problem, learners: Sequence[Learner] | None = None,
              *, single_model: bool = False) -> Finalists:
    """Each model's best trial, the default LightGBM, the best ensemble of the top 2 .. N and each of these
    blended with the default LightGBM (``_blend``). First the blends that beat the default by more than the
    folds' noise (``_beats``), best CV first, then the default, then the rest by CV score.
    ``single_model``: no ensembles and no blends; a single model that beats the default that way may
    replace it (smaller and faster to predict, but more often flattered by its CV score)."""
    exportable = {learner.name: learner.exportable for learner in (learners or learners_for(problem.task))}
    exportable[DEFAULT_LGBM] = True
    counts: dict[str, int] = {}
    for trial in result.trials:
        counts[trial.model] = counts.get(trial.model, 0) + 1
    singles = [Candidate(model, (trial,), trial.cv_score, float(trial.cv_sd or 0.0), counts[model],
                         exportable.get(model))
               for model, trial in _best_per_model(result.trials).items()]
    singles.sort(key=_by_score)
    default = next((c for c in singles if c.name == DEFAULT_LGBM), None)
    if single_model:
        if default is None:
            return Finalists(singles)
        return _default_unless_beaten(default, [c for c in singles if c is not default], singles, result, y, problem)
    ensemble = _best_ensemble(singles, result, y, problem)
    ranked = sorted(singles + ([ensemble] if ensemble is not None else []), key=_by_score)
    if default is None:
        return Finalists(ranked)
    # Only a blend with the default can replace it, and only when it beats the default by more than the folds'
    # noise. The best of hundreds of trials by mean CV score is often a lucky one that loses to the default on
    # new rows; half the default in the average halves what such luck can cost, keeps most of a real gain,
    # and averaging probabilities tempers a lone model's confident mistakes (docs/automl.md, "Measured").
    blends = [b for c in ranked if c is not default and (b := _blend(c, default, result, y, problem)) is not None]
    return _default_unless_beaten(default, blends, ranked + blends, result, y, problem)


def _default_unless_beaten(default: Candidate, contenders: Sequence[Candidate], pool: Sequence[Candidate],
                           result: SearchResult, y: np.ndarray, problem: Problem) -> Finalists:
    """The ``contenders`` that beat the default LightGBM (``_beats``), best CV first, then the default, then
    the rest of ``pool`` by CV score."""
    chosen = sorted([c for c in contenders if _beats(c, default, result, y, problem)], key=_by_score)
    rest = sorted([c for c in pool if c is not default and c not in chosen], key=_by_score)
    return Finalists(chosen + [default] + rest)


def _by_score(candidate: Candidate) -> tuple[float, str]:
    """Best CV score first; the name breaks ties, so reruns list the board in the same order."""
    return candidate.cv_score, candidate.name


def _blend(candidate: Candidate, default: Candidate, result: SearchResult, y: np.ndarray,
           problem: Problem) -> Candidate | None:
    """``candidate`` averaged with the default LightGBM, which gets ``config.BLEND_DEFAULT_SHARE`` of the
    weight, scored on the same folds from the out-of-fold predictions (no extra fit)."""
    shares: dict[str, float] = {}
    trials: dict[str, Trial] = {}
    parts = [(m, s * (1.0 - config.BLEND_DEFAULT_SHARE)) for m, s in zip(candidate.members, candidate.shares, strict=True)]
    for member, share in [*parts, (default.members[0], config.BLEND_DEFAULT_SHARE)]:
        shares[member.model] = shares.get(member.model, 0.0) + share  # a member that is the default itself
        trials[member.model] = member
    models = list(shares)
    blend = Candidate(f"{BLEND}({candidate.name}+{DEFAULT_LGBM})", tuple(trials[m] for m in models), float("nan"),
                      float("nan"), candidate.trials, candidate.exportable, tuple(shares[m] for m in models))
    predicted = _oof_of(blend, result)
    if predicted is None:
        return None
    scores = np.asarray(fold_scores_of(predicted, y, result.folds, problem))
    score = float(scores.mean()) if np.isfinite(scores).all() else float("inf")
    return replace(blend, cv_score=score, cv_sd=float(np.std(scores)))


def _oof_of(candidate: Candidate, result: SearchResult) -> np.ndarray | None:
    """A finalist's out-of-fold predictions (an ensemble's: its members' average)."""
    parts = [result.oof[m.model] for m in candidate.members if m.model in result.oof]
    if not parts or len(parts) < len(candidate.members):
        return None
    return parts[0] if len(parts) == 1 else np.average(parts, axis=0, weights=candidate.shares)


def _beats(candidate: Candidate, default: Candidate, result: SearchResult, y: np.ndarray, problem: Problem) -> bool:
    """Whether ``candidate``'s fold scores beat the default's by more than ``config.DEFAULT_MARGIN_SE``
    standard errors of their paired fold differences (lower scores are better)."""
    mine, base = _oof_of(candidate, result), _oof_of(default, result)
    if mine is None or base is None:
        return candidate.cv_score < default.cv_score
    diff = (np.asarray(fold_scores_of(mine, y, result.folds, problem))
            - np.asarray(fold_scores_of(base, y, result.folds, problem)))
    if not diff.size or not np.isfinite(diff).all():
        return False
    return float(diff.mean()) + config.DEFAULT_MARGIN_SE * corrected_standard_error(diff, result.folds) < 0.0


def corrected_standard_error(differences: np.ndarray, folds: Folds) -> float:
    """The standard error of the mean of per-fold score differences, corrected for overlapping folds
    (Nadeau & Bengio, 2003: variance s^2 (1/J + n_valid/n_train), not s^2/J). Folds share most training
    rows and repeated CV validates every row once per repetition, so the J differences are correlated and
    the naive s/sqrt(J) is too small: with 5 folds times 3 repeats, 2.2 times too small."""
    count = differences.size
    if count < 2:
        return 0.0
    valid = float(np.mean([len(v) for _, v in folds.splits]))
    train = float(np.mean([len(t) for t, _ in folds.splits]))
    return float(differences.std(ddof=1) * math.sqrt(1.0 / count + valid / max(train, 1.0)))


def _best_ensemble(singles: Sequence[Candidate], result: SearchResult, y: np.ndarray,
                   problem: Problem) -> Candidate | None:
    """The average of the top 2 .. ENSEMBLE_MAX_MEMBERS models' out-of-fold predictions, scored on the
    same folds (no extra fit); the best size wins."""
    best: Candidate | None = None
    for size in range(2, min(config.ENSEMBLE_MAX_MEMBERS, len(singles)) + 1):
        members = singles[:size]
        average = np.mean([result.oof[c.name] for c in members], axis=0)
        scores = fold_scores_of(average, y, result.folds, problem)
        score = float(np.mean(scores))
        if math.isfinite(score) and (best is None or score < best.cv_score):
            name = f"{ENSEMBLE}({'+'.join(c.name for c in members)})"
            trials = sum(c.trials for c in members)  # the searched trials behind it, as for a single model
            best = Candidate(name, tuple(c.members[0] for c in members), score, float(np.std(scores)), trials, None)
    return best


def leaderboard(ranked: Finalists, chosen: str | None, problem: Problem, folds: Folds) -> pd.DataFrame:
    """One row per finalist, best CV score first (the chosen one first among equals; it need not have the
    best score, see ``finalists``); ``gain_vs_default`` is the relative error reduction against the default
    LightGBM's CV score (positive: better)."""
    default = ranked.named(DEFAULT_LGBM)
    rows = []
    for c in ranked.candidates:
        gain = (default.cv_score - c.cv_score) / abs(default.cv_score) if default and default.cv_score else float("nan")
        rows.append({"model": c.name, "cv_score": c.cv_score, "cv_sd": c.cv_sd, "metric": problem.metric,
                     "validation": folds.label, "trials": c.trials, "fit_seconds": c.fit_seconds,
                     "predict_ms_per_row": c.predict_ms_per_row, "params": c.params, "exportable": c.exportable,
                     "gain_vs_default": gain, "chosen": c.name == chosen})
    columns = ["model", "cv_score", "cv_sd", "metric", "validation", "trials", "fit_seconds", "predict_ms_per_row",
               "params", "exportable", "gain_vs_default", "chosen"]
    board = pd.DataFrame(rows, columns=columns)
    order = board.assign(_unchosen=~board["chosen"]).sort_values(["cv_score", "_unchosen"], kind="stable").index
    return board.loc[order].reset_index(drop=True)


def pipeline_of(trial: Trial, schema: Schema, problem: Problem, learners: Sequence[Learner] | None = None) -> Pipeline:
    """An unfitted pipeline for a trial's model and hyperparameters."""
    if trial.model == DEFAULT_LGBM:
        return default_pipeline(schema, problem)
    by_name = {learner.name: learner for learner in (learners or learners_for(problem.task))}
    return build_pipeline(by_name[trial.learner], trial.params, schema, problem)


def baseline_pipeline(schema: Schema, problem: Problem) -> Pipeline:
    """The last resort when not even the default LightGBM can be refitted in time: class shares or the mean."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    model: BaseEstimator = DummyClassifier(strategy="prior") if problem.classification else DummyRegressor()
    return Pipeline([("prep", features.make_preprocessor(schema, "tree")), ("model", model)])
