"""Training, time-ordered validation, rolling-origin backtests and prediction.

Every score comes from runs the scored model never trained on:

- ``train_models`` holds out the latest runs (from ``test_start``, or the latest 20%),
  trains each candidate on the earlier runs, and scores it on the held-out ones. The
  request multipliers used in those scores come from an inner split of the earlier runs.
  The saved model is then refit on all runs (the newest runs matter most when tools drift),
  with request multipliers measured on the held-out runs.
- ``backtest`` retrains every month from ``test_start`` on all earlier runs and pools the
  scores of each following month.

Requests in those scores adapt to recent misses, runs in time order (``core.jobs.adaptive``); the
saved model keeps the level reached on the held-out runs, which new runs' requests start from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from core.errors import InputError
from core.jobs.adaptive import Calibration, adapt_requests, calibration, flow_finish
from core.jobs.columns import PreparedRuns, exclusion_note
from core.jobs.estimators import ALGORITHMS, DenseNetRegressor, EnsembleRegressor, design_matrix
from core.jobs.evaluation import (
    DEFAULT_QUANTILE,
    QUANTILES,
    RatioTable,
    calibration_groups,
    ratio_table,
    request_factor,
    scorecard,
    split_factor,
)
from core.jobs.history import (
    HISTORY_BASES,
    HISTORY_COLUMNS,
    PRIOR_BASIS,
    TARGETS,
    from_log,
    history_basis,
    history_features,
    to_log,
)
from core.jobs.parsing import format_memory, format_runtime

Progress = Callable[[float, str], None]
BASELINE = "history-baseline"
ENSEMBLE = "ensemble"
MODEL_ALGORITHMS = ("lightgbm", "dense-nn", ENSEMBLE)


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of a training run; the defaults are what the app and CLI use."""

    algorithms: tuple[str, ...] = MODEL_ALGORITHMS
    test_start: pd.Timestamp | None = None  # held-out runs start here; default: the latest 20%
    holdout_fraction: float = 0.2
    half_life_days: float = 180.0  # recency weighting: a run this old counts half (tools drift)
    default_quantile: float = DEFAULT_QUANTILE
    refit: bool = True
    nn_max_epochs: int = 100
    lgbm_estimators: int = 500
    seed: int = 0


def _unknown(name: str) -> InputError:
    return InputError(f"unknown algorithm '{name}' (choose from {', '.join(ALGORITHMS)})")


def _algorithms(config: TrainConfig) -> list[str]:
    """Baseline first, then the requested models; an ensemble brings its members along."""
    for algorithm in config.algorithms:
        if algorithm not in ALGORITHMS:
            raise _unknown(algorithm)
    wanted = [a for a in config.algorithms if a not in (BASELINE, ENSEMBLE)]
    if ENSEMBLE in config.algorithms:
        wanted += [m for m in EnsembleRegressor.members_needed if m not in wanted]
    ordered = [BASELINE, *[a for a in ALGORITHMS if a in wanted]]
    return ordered + ([ENSEMBLE] if ENSEMBLE in config.algorithms else [])


def _new_regressor(algorithm: str, target: str, config: TrainConfig) -> Any:
    if algorithm == "lightgbm":
        return ALGORITHMS[algorithm](target, n_estimators=config.lgbm_estimators, seed=config.seed)
    if algorithm == "dense-nn":
        return ALGORITHMS[algorithm](target, max_epochs=config.nn_max_epochs, seed=config.seed)
    if algorithm == BASELINE:
        return ALGORITHMS[algorithm](target)
    raise _unknown(algorithm)


def recency_weights(dates: pd.Series, half_life_days: float) -> np.ndarray:
    """Weight 1 for the newest run, halving every ``half_life_days`` (floored at 0.05)."""
    age = (dates.max() - dates).dt.total_seconds().to_numpy() / 86400.0
    return np.maximum(0.5 ** (age / half_life_days), 0.05)


def time_cutoff(dates: pd.Series, fraction: float) -> pd.Timestamp:
    """The date from which about ``fraction`` of the runs are the latest (a date is never split)."""
    ordered = dates.sort_values(kind="stable").reset_index(drop=True)
    cut = ordered.iloc[min(len(ordered) - 1, int(len(ordered) * (1 - fraction)))]
    if cut <= ordered.iloc[0]:  # every run on one date: nothing earlier to learn from
        raise InputError("all runs share one run date: a time-ordered validation needs runs on several dates")
    return pd.Timestamp(cut)


def fit_regressor(algorithm: str, target: str, X: pd.DataFrame, y: np.ndarray, dates: pd.Series, config: TrainConfig) -> Any:
    return _new_regressor(algorithm, target, config).fit(X, y, recency_weights(dates, config.half_life_days))


@dataclass
class Fitted:
    """A regressor fit on some runs, its request multipliers, and what the multipliers came from:
    the log predictions of a probe copy on the latest 20% of those runs (``outer``)."""

    model: Any
    table: RatioTable
    probe: np.ndarray
    outer: np.ndarray


def fit_with_ratios(algorithm: str, target: str, X: pd.DataFrame, y: np.ndarray, dates: pd.Series,
                    groups: np.ndarray, config: TrainConfig, *, refit: bool = True) -> Fitted:
    """A regressor fit on all given runs, and request multipliers measured out of sample:
    from a copy trained on the older 80% and scored on the latest 20% of these runs."""
    cut = time_cutoff(dates, config.holdout_fraction)
    inner, outer = (dates < cut).to_numpy(), (dates >= cut).to_numpy()
    probe = fit_regressor(algorithm, target, X[inner], y[inner], dates[inner], config)
    probe_pred = probe.predict(X[outer])
    table = ratio_table(from_log(y[outer]), from_log(probe_pred), groups[outer])
    model = fit_regressor(algorithm, target, X, y, dates, config) if refit else probe
    return Fitted(model, table, probe_pred, outer)


def warm_start(fitted: Fitted, table: RatioTable, y: np.ndarray, groups: np.ndarray,
               start: pd.Timestamp | None = None) -> Calibration:
    """Where the adaptive rule's scores start: the runs ``fitted``'s ratios were measured on (``y``
    and ``groups`` of the rows it was fit on), with their requests under ``table``."""
    return calibration(from_log(y[fitted.outer]), from_log(fitted.probe), table, groups[fitted.outer], start)


def ensemble_of(members: list[Fitted], target: str, y: np.ndarray, groups: np.ndarray) -> Fitted:
    """The ensemble of fitted members, with multipliers from their averaged probe predictions."""
    outer = members[0].outer
    probe = np.mean([m.probe for m in members], axis=0)
    table = ratio_table(from_log(y[outer]), from_log(probe), groups[outer])
    return Fitted(EnsembleRegressor(target, [m.model for m in members]), table, probe, outer)


@dataclass
class JobModel:
    """One algorithm's runtime and memory regressors, with what serving needs: the run history
    for history features, request multipliers, and the column mapping it was trained with."""

    algorithm: str
    regressors: dict[str, Any]
    ratio_tables: dict[str, RatioTable]
    design_columns: list[str]
    history: pd.DataFrame
    mapping: dict[str, Any]
    memory_unit: str
    default_quantile: float = DEFAULT_QUANTILE
    stages: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)

    def predict_log(self, runs: pd.DataFrame) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
        """Log-scale predictions for prepared runs, and their design matrix; history features use
        the stored runs plus any earlier rows of ``runs`` whose outcomes are known."""
        runs = _with_dates(runs, self.history)
        X = design_matrix(runs, history_features(runs, self.history), self.design_columns)
        return {target: self.regressors[target].predict(X) for target in TARGETS}, X

    def predict(self, runs: pd.DataFrame, *, quantile: float | None = None, model_id: str = "") -> pd.DataFrame:
        """One row per input run: predicted runtime and memory, a memory request and a runtime
        upper bound at ``quantile``, and the model id."""
        quantile = self.default_quantile if quantile is None else quantile
        logs, X = self.predict_log(runs)
        runtime, memory = from_log(logs["runtime"]), from_log(logs["memory"])
        memory_request = memory * request_factor(
            self.ratio_tables["memory"], calibration_groups(runs["stage"], X["memory_count"]), quantile)
        runtime_bound = runtime * request_factor(
            self.ratio_tables["runtime"], calibration_groups(runs["stage"], X["runtime_count"]), quantile)
        pct = round(quantile * 100)
        out = pd.DataFrame({
            "row": runs["row"].to_numpy() if "row" in runs else np.arange(2, len(runs) + 2),
            "platform": runs["platform"].to_numpy(),
            "block": runs["block"].to_numpy(),
            "stage": runs["stage"].to_numpy(),
            "predicted_runtime": [format_runtime(v) for v in runtime],
            "predicted_memory": [format_memory(v) for v in memory],
            f"memory_request_p{pct}": [format_memory(v) for v in memory_request],
            f"runtime_upper_p{pct}": [format_runtime(v) for v in runtime_bound],
            "predicted_runtime_s": runtime.round(1),
            "predicted_memory_mb": memory.round(1),
            "memory_request_mb": memory_request.round(1),
            "runtime_upper_s": runtime_bound.round(1),
            "quantile": quantile,
            # How much the prediction can lean on: earlier runs of the same block+stage, else where
            # its history came from (a new block or stage is predicted from its relatives).
            "earlier_runs": X["runtime_count"].to_numpy(dtype=int),
            "history_from": [PRIOR_BASIS[int(level)] for level in X["runtime_prior_level"].to_numpy()],
            "model_id": model_id,
        })
        for column, actual in (("actual_runtime_s", "runtime_s"), ("actual_memory_mb", "memory_mb")):
            if actual in runs and runs[actual].notna().any():
                out[column] = runs[actual].to_numpy()
        return out

    # Registry protocol: the networks as .keras files, everything else in one joblib file.
    def save_to_dir(self, path: Path) -> None:
        state = dict(self.__dict__)
        state["regressors"] = {t: _detach(r, path, t) for t, r in self.regressors.items()}
        joblib.dump(state, path / "job_model.joblib")

    @classmethod
    def load_from_dir(cls, path: Path) -> JobModel:
        state = joblib.load(path / "job_model.joblib")
        state["regressors"] = {t: _attach(r, path) for t, r in state["regressors"].items()}
        return cls(**state)


def _detach(regressor: Any, path: Path, name: str) -> Any:
    """Networks go to their own .keras files and are replaced by a reference to them."""
    if isinstance(regressor, DenseNetRegressor):
        regressor.save(path, name)
        return ("dense-nn", name)
    if isinstance(regressor, EnsembleRegressor):
        members = [_detach(m, path, f"{name}-member{i}") for i, m in enumerate(regressor.members)]
        return ("ensemble", regressor.target, members)
    return regressor


def _attach(stored: Any, path: Path) -> Any:
    if isinstance(stored, tuple) and stored[0] == "dense-nn":
        return DenseNetRegressor.load(path, stored[1])
    if isinstance(stored, tuple) and stored[0] == "ensemble":
        return EnsembleRegressor(stored[1], [_attach(m, path) for m in stored[2]])
    return stored


def _with_dates(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Runs without a run date are taken to start the day after the latest stored run."""
    if runs["run_date"].notna().all():
        return runs
    latest = history["run_date"].max() if not history.empty else pd.Timestamp.now().normalize()
    return runs.assign(run_date=runs["run_date"].fillna(latest + pd.Timedelta(days=1)))


def sorted_runs(prepared: PreparedRuns) -> pd.DataFrame:
    return prepared.runs.sort_values("run_date", kind="stable").reset_index(drop=True)


def _long_predictions(algorithm: str, target: str, runs: pd.DataFrame, X: pd.DataFrame, y_log: np.ndarray,
                      pred_log: np.ndarray, table: RatioTable, groups: np.ndarray) -> pd.DataFrame:
    predicted = from_log(pred_log)
    frame = pd.DataFrame({
        "algorithm": algorithm, "target": target,
        "platform": runs["platform"].to_numpy(), "block": runs["block"].to_numpy(),
        "stage": runs["stage"].to_numpy(), "run_date": runs["run_date"].to_numpy(),
        "history": history_basis(X, target),
        "actual": from_log(y_log), "predicted": predicted,
    })
    for q in QUANTILES:  # split-conformal requests, until ``adapt_requests`` moves them with recent misses
        frame[f"request_q{round(q * 100)}"] = predicted * split_factor(table, groups, q)
    frame["known_at"] = flow_finish(runs).to_numpy()  # a flow's runs are all on one side of a date split
    return frame


def history_scorecard(predictions: pd.DataFrame) -> pd.DataFrame:
    """Scores per algorithm, target and history basis, most history first."""
    scores = scorecard(predictions, by="history")
    scores["_order"] = scores["history"].map({basis: i for i, basis in enumerate(HISTORY_BASES)})
    return scores.sort_values(["algorithm", "target", "_order"]).drop(columns="_order").reset_index(drop=True)


@dataclass
class TrainResult:
    models: dict[str, JobModel]  # algorithm -> fitted model (baseline included)
    predictions: pd.DataFrame  # long format, held-out runs only
    scores: pd.DataFrame  # per algorithm and target
    stage_scores: pd.DataFrame  # per algorithm, target and stage
    history_scores: pd.DataFrame  # per algorithm, target and history basis (see ``HISTORY_BASES``)
    split: dict[str, Any]
    fit_seconds: dict[str, float]

    def metrics_for(self, algorithm: str) -> dict[str, Any]:
        """The registry record's metrics: overall, per-stage and per-history scores on held-out runs."""
        overall = self.scores[self.scores["algorithm"] == algorithm].drop(columns="algorithm")
        stages = self.stage_scores[self.stage_scores["algorithm"] == algorithm].drop(columns="algorithm")
        history = self.history_scores[self.history_scores["algorithm"] == algorithm].drop(columns="algorithm")
        return {
            **{row["target"]: {k: v for k, v in row.items() if k != "target"} for row in overall.to_dict("records")},
            "by_stage": stages.to_dict("records"),
            "by_history": history.to_dict("records"),
            "split": self.split,
            "fit_seconds": self.fit_seconds.get(algorithm),
        }


def _target_arrays(runs: pd.DataFrame, X: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per target: every run's log value and calibration group (computed once, whatever the split)."""
    return {target: (to_log(runs[column]), calibration_groups(runs["stage"], X[f"{target}_count"]))
            for target, column in TARGETS.items()}


def _fit_and_score(algorithm: str, target: str, fitted: dict[str, Fitted], runs: pd.DataFrame, X: pd.DataFrame,
                   y: np.ndarray, groups: np.ndarray, train: np.ndarray, test: np.ndarray,
                   config: TrainConfig) -> tuple[np.ndarray, pd.DataFrame]:
    """Fit one algorithm on the ``train`` rows into ``fitted`` (an ensemble combines the members
    already there) and predict the ``test`` rows: (log predictions, their long-format table)."""
    dates = runs["run_date"]
    if algorithm == ENSEMBLE:
        members = [fitted[m] for m in EnsembleRegressor.members_needed]
        fitted[algorithm] = ensemble_of(members, target, y[train], groups[train])
    else:
        fitted[algorithm] = fit_with_ratios(algorithm, target, X[train], y[train], dates[train], groups[train], config)
    pred = fitted[algorithm].model.predict(X[test])
    return pred, _long_predictions(algorithm, target, runs[test], X[test], y[test], pred, fitted[algorithm].table,
                                   groups[test])


def train_models(prepared: PreparedRuns, config: TrainConfig = TrainConfig(),
                 progress: Progress | None = None) -> TrainResult:
    """Train the history baseline and each configured algorithm for runtime and memory,
    score them on the latest runs, and return models refit on all runs."""
    algorithms = _algorithms(config)
    runs = sorted_runs(prepared)
    if len(runs) < 20:
        raise InputError(f"only {len(runs)} usable run(s): at least 20 are needed to train and validate"
                         f"{exclusion_note(prepared.rejected)}")
    dates = runs["run_date"]
    if config.test_start is not None:
        cut = pd.Timestamp(config.test_start)
        if not (dates < cut).any() or not (dates >= cut).any():
            raise InputError(f"--test-start {cut.date()} leaves no runs on one side "
                             f"(runs span {dates.min().date()} to {dates.max().date()})")
    else:
        cut = time_cutoff(dates, config.holdout_fraction)
    train, held = (dates < cut).to_numpy(), (dates >= cut).to_numpy()
    if train.sum() < 10:
        raise InputError(f"only {int(train.sum())} runs before {cut.date()}: too few to train on")
    features = history_features(runs)
    X = design_matrix(runs, features, prepared.feature_columns)
    steps, done = len(algorithms) * len(TARGETS), 0
    parts = []
    seconds = dict.fromkeys(algorithms, 0.0)
    regressors: dict[str, dict[str, Any]] = {a: {} for a in algorithms}
    tables: dict[str, dict[str, RatioTable]] = {a: {} for a in algorithms}
    warm: dict[tuple[str, str], list[Calibration]] = {}
    for target, (y, groups) in _target_arrays(runs, X).items():
        fitted: dict[str, Fitted] = {}
        for algorithm in algorithms:
            if progress:
                progress(done / steps, f"training {algorithm} for {target}")
            started = time.perf_counter()
            pred, part = _fit_and_score(algorithm, target, fitted, runs, X, y, groups, train, held, config)
            parts.append(part)
            warm[(algorithm, target)] = [warm_start(fitted[algorithm], fitted[algorithm].table, y[train], groups[train])]
            if not config.refit:
                table = fitted[algorithm].table
                regressors[algorithm][target] = fitted[algorithm].model
            else:
                table = ratio_table(from_log(y[held]), from_log(pred), groups[held])
                if algorithm == ENSEMBLE:
                    members = [regressors[m][target] for m in EnsembleRegressor.members_needed]
                    regressors[algorithm][target] = EnsembleRegressor(target, members)
                else:
                    regressors[algorithm][target] = fit_regressor(algorithm, target, X, y, dates, config)
            # New runs start from the level the adaptive rule reached on the held-out runs, replayed
            # under the table they will be served with.
            serving = _long_predictions(algorithm, target, runs[held], X[held], y[held], pred, table, groups[held])
            reached = adapt_requests(serving, {(algorithm, target): [warm_start(
                fitted[algorithm], table, y[train], groups[train])]})[1]
            tables[algorithm][target] = {**table, "adaptive": reached[(algorithm, target)]}
            seconds[algorithm] += time.perf_counter() - started
            done += 1
    models = {
        algorithm: JobModel(
            algorithm=algorithm, regressors=regressors[algorithm], ratio_tables=tables[algorithm],
            design_columns=list(prepared.feature_columns),
            history=runs[HISTORY_COLUMNS].copy(), mapping=prepared.mapping.to_dict(),
            memory_unit=prepared.memory_unit, default_quantile=config.default_quantile,
            stages=sorted(runs["stage"].unique()), blocks=sorted(runs["block"].unique()),
            platforms=sorted(runs["platform"].unique()),
        )
        for algorithm in algorithms
    }
    if progress:
        progress(1.0, "done")
    predictions = adapt_requests(pd.concat(parts, ignore_index=True), warm)[0]
    split = {"train_rows": int(train.sum()), "validation_rows": int(held.sum()),
             "validation_start": str(cut), "last_run": str(dates.max()), "refit_on_all": config.refit}
    return TrainResult(models, predictions, scorecard(predictions), scorecard(predictions, by="stage"),
                       history_scorecard(predictions), split, seconds)


@dataclass
class BacktestResult:
    predictions: pd.DataFrame  # pooled held-out predictions of every fold
    scores: pd.DataFrame
    history_scores: pd.DataFrame  # per algorithm, target and history basis
    folds: pd.DataFrame  # one row per fold: start, train rows, test rows, fit seconds per algorithm


def backtest(prepared: PreparedRuns, test_start: str | pd.Timestamp, *, config: TrainConfig = TrainConfig(),
             retrain_every: str = "month", progress: Progress | None = None) -> BacktestResult:
    """Rolling origin: for each month from ``test_start``, train on all earlier runs, predict
    that month, and pool the scores (history baseline beside every model)."""
    if retrain_every != "month":
        raise InputError("--retrain-every supports 'month' only")
    runs = sorted_runs(prepared)
    dates = runs["run_date"]
    start = pd.Timestamp(test_start)
    if not (dates < start).any() or not (dates >= start).any():
        raise InputError(f"--test-start {start.date()} leaves no runs on one side "
                         f"(runs span {dates.min().date()} to {dates.max().date()})")
    X = design_matrix(runs, history_features(runs), prepared.feature_columns)
    months = pd.period_range(start.to_period("M"), dates.max().to_period("M"), freq="M")
    algorithms = _algorithms(config)
    arrays = _target_arrays(runs, X)
    parts, folds = [], []
    calibrations: dict[tuple[str, str], list[Calibration]] = {}  # each fold's, from its first day
    for i, month in enumerate(months):
        lo = max(month.start_time, start)
        hi = (month + 1).start_time
        train, test = (dates < lo).to_numpy(), ((dates >= lo) & (dates < hi)).to_numpy()
        if not test.any():
            continue
        fold: dict[str, Any] = {"month": str(month), "train_rows": int(train.sum()), "test_rows": int(test.sum())}
        for target, (y, groups) in arrays.items():
            fitted: dict[str, Fitted] = {}
            for algorithm in algorithms:
                if progress:
                    progress(i / len(months), f"{month}: {algorithm} {target}")
                started = time.perf_counter()
                parts.append(_fit_and_score(algorithm, target, fitted, runs, X, y, groups, train, test, config)[1])
                calibrations.setdefault((algorithm, target), []).append(
                    warm_start(fitted[algorithm], fitted[algorithm].table, y[train], groups[train], lo))
                key = f"seconds_{algorithm}"
                fold[key] = round(fold.get(key, 0.0) + time.perf_counter() - started, 2)
        folds.append(fold)
    # One adaptive stream per model through every fold, as a service fed each finished run would keep:
    # the level carries on, the scores restart from each retrained model's calibration runs.
    predictions = adapt_requests(pd.concat(parts, ignore_index=True), calibrations)[0]
    return BacktestResult(predictions, scorecard(predictions), history_scorecard(predictions),
                          pd.DataFrame(folds))
