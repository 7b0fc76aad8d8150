"""What the page and the CLI call: one function per user action, each returning plain data.

Load a source, train and register, pick and deploy a model, predict, save predictions. Database
sources and outputs a visitor chooses go through the deployment's policy
(``core.storage.access.check_user_url``): a typed URL only where typing URLs is on, a typed SQLite
file only inside the state directory.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from core.config import Settings
from core.errors import InputError
from core.io import read_csv
from core.jobs.columns import ROLES, ColumnMapping, PreparedRuns, detect_columns, prepare_runs
from core.jobs.config import (
    BREAKDOWN_COLUMNS_SHOWN,
    DEPLOYED_MARK,
    MODEL_COLUMNS_SHOWN,
    MODEL_LABELS,
    PREFERRED_ALGORITHM,
    SCORE_COLUMNS_SHOWN,
    SCORE_LABELS,
    TARGET_UNITS,
)
from core.jobs.evaluation import under_prediction_curve
from core.jobs.history import HISTORY_COLUMNS, TARGETS
from core.jobs.output import NUMBER_COLUMNS, TEXT_COLUMNS, output_records
from core.jobs.training import BASELINE, JobModel, Progress, TrainConfig, TrainResult, train_models
from core.ml.fingerprint import data_fingerprint
from core.ml.registry import ModelRecord, ModelRegistry
from core.storage import create_db_engine, read_table
from core.storage.access import check_user_url
from core.storage.jobs_repo import WrittenRows, append_predictions

DOMAIN = "jobs"
BUNDLED_FILE = "eda_stage_runs.csv"


# --- sources ---------------------------------------------------------------------------------

def load_source(*, csv: str | Path | None = None, db_url: str | None = None, table: str | None = None,
                limit: int | None = None, max_rows: int | None = None) -> pd.DataFrame:
    """A raw frame from a CSV file or a validated database table (the URL is used as given:
    callers that take URLs from visitors use ``read_runs_table``)."""
    if csv is not None:
        return read_csv(csv, max_rows=max_rows)
    if db_url and table:
        engine = create_db_engine(db_url)
        try:
            return read_table(engine, table, limit=limit)
        finally:
            engine.dispose()
    raise InputError("give a CSV file, or a database URL and a table")


def read_runs_table(url: str, table: str, limit: int | None, settings: Settings) -> pd.DataFrame:
    """The raw runs of ``table`` in a database a visitor chose, if the deployment's policy allows
    the URL (else an ``InputError`` saying why); ``limit`` keeps the first rows only."""
    return load_source(db_url=check_user_url(url, settings), table=table, limit=limit)


def prepare(df: pd.DataFrame, mapping: ColumnMapping | None = None, *, memory_unit: str = "M",
            require_targets: bool = True, file: str | None = None) -> PreparedRuns:
    return prepare_runs(df, mapping or detect_columns(df), memory_unit=memory_unit,
                        require_targets=require_targets, file=file)


def runs_fingerprint(prepared: PreparedRuns) -> str:
    columns = [c for c in HISTORY_COLUMNS if c in prepared.runs] + prepared.feature_columns
    return data_fingerprint(prepared.runs[columns])


# --- train -----------------------------------------------------------------------------------

def register_models(registry: ModelRegistry, result: TrainResult, prepared: PreparedRuns,
                    config: TrainConfig, *, source: str) -> list[ModelRecord]:
    """Keep every trained model (baseline included) with its fingerprint and held-out metrics."""
    fingerprint = runs_fingerprint(prepared)
    records = []
    for algorithm, model in result.models.items():
        records.append(registry.save(
            DOMAIN, model, algorithm=algorithm, name=algorithm, fingerprint=fingerprint,
            metrics=result.metrics_for(algorithm),
            params={"half_life_days": config.half_life_days, "default_quantile": config.default_quantile,
                    "refit_on_all": config.refit, "nn_max_epochs": config.nn_max_epochs,
                    "lgbm_estimators": config.lgbm_estimators, "mapping": prepared.mapping.to_dict(),
                    "memory_unit": prepared.memory_unit, "rows": len(prepared.runs)},
            notes=f"trained on {source}",
        ))
    return records


@dataclass(frozen=True)
class TrainedJobs:
    """A training run as the page shows it: held-out scores (overall, per stage, by history), the
    held-out predictions and the cost-of-safety curve, and the registry ids of the kept models.
    The fitted models themselves live in the registry, not here (this is what a cache holds)."""

    split: dict[str, Any]
    scores: pd.DataFrame  # per algorithm and target
    stage_scores: pd.DataFrame  # per algorithm, target and stage
    history_scores: pd.DataFrame  # per algorithm, target and history basis
    predictions: pd.DataFrame  # held-out runs, long format
    safety_curve: pd.DataFrame  # under-prediction rate and over-provision per request quantile
    model_ids: dict[str, str]  # algorithm -> registry id
    preferred_model_id: str | None  # the model to offer first for predictions

    @property
    def algorithms(self) -> list[str]:
        """The models to inspect: every trained one but the baseline (the baseline when alone)."""
        return [a for a in self.model_ids if a != BASELINE] or [BASELINE]


def train(prepared: PreparedRuns, config: TrainConfig, registry: ModelRegistry, *, source: str,
          progress: Progress | None = None) -> TrainedJobs:
    """Train ``config.algorithms`` and the history baseline, score them on the latest runs held
    out, keep every model in ``registry`` and return what the page shows."""
    result = train_models(prepared, config, progress=progress)
    records = register_models(registry, result, prepared, config, source=source)
    ids = {r.algorithm: r.model_id for r in records}
    return TrainedJobs(split=result.split, scores=result.scores, stage_scores=result.stage_scores,
                       history_scores=result.history_scores, predictions=result.predictions,
                       safety_curve=under_prediction_curve(result.predictions), model_ids=ids,
                       preferred_model_id=ids.get(PREFERRED_ALGORITHM))


@dataclass(frozen=True)
class TargetFigures:
    """One model's held-out figures for one target; None where undefined (an R² of runs that all
    took the same time)."""

    r2_log: float | None
    r2: float | None
    mae: float | None  # in the target's unit
    mape: float | None
    calibration: float | None


# Where the history baseline beats a model, in caption order; True: higher is better.
_HIGHER_IS_BETTER = {"r2_log": True, "r2": True, "mae": False, "mape": False}


@dataclass(frozen=True)
class HeadlineScore:
    """One target's held-out headline for a model beside the history baseline's own figures, so a
    card can never show a gain on one score while hiding a loss on another."""

    target: str
    unit: str  # of ``mae``: "s" or "MB"
    algorithm: str
    model: TargetFigures
    baseline: TargetFigures | None  # None when ``algorithm`` is the baseline (or none was trained)

    @property
    def r2_log(self) -> float | None:
        return self.model.r2_log

    @property
    def calibration(self) -> float | None:
        return self.model.calibration

    @property
    def gain_vs_baseline(self) -> float | None:
        """R² (log) minus the baseline's; None when either is undefined."""
        if self.baseline is None or self.model.r2_log is None or self.baseline.r2_log is None:
            return None
        return self.model.r2_log - self.baseline.r2_log

    @property
    def baseline_better(self) -> tuple[str, ...]:
        """The scores (``r2_log``, ``r2``, ``mae``, ``mape``) on which the baseline beats the model."""
        if self.baseline is None:
            return ()
        out = []
        for name, higher in _HIGHER_IS_BETTER.items():
            mine, base = getattr(self.model, name), getattr(self.baseline, name)
            if mine is not None and base is not None and (base > mine if higher else base < mine):
                out.append(name)
        return tuple(out)


def _finite(value: object) -> float | None:
    """A score as a float, or None when it is missing or undefined (NaN)."""
    return float(value) if isinstance(value, numbers.Real) and math.isfinite(value) else None


def _figures(row: pd.Series) -> TargetFigures:
    return TargetFigures(*(_finite(row.get(name)) for name in ("r2_log", "r2", "mae", "mape", "calibration")))


def headline_scores(scores: pd.DataFrame, algorithm: str) -> list[HeadlineScore]:
    """Per target (runtime, memory): ``algorithm``'s held-out figures and the baseline's beside them."""
    out = []
    for target in TARGETS:
        rows = scores[scores["target"] == target].set_index("algorithm")
        mine = _figures(rows.loc[algorithm]) if algorithm in rows.index else TargetFigures(None, None, None, None, None)
        base = _figures(rows.loc[BASELINE]) if BASELINE in rows.index and algorithm != BASELINE else None
        out.append(HeadlineScore(target, TARGET_UNITS[target], algorithm, mine, base))
    return out


def score_labels(target: str) -> dict[str, str]:
    """Raw score column -> the name the page shows for ``target`` ("mae" -> "MAE (s)")."""
    return {raw: label.format(unit=TARGET_UNITS[target]) for raw, label in SCORE_LABELS.items()}


@dataclass(frozen=True)
class ScoresTable:
    """One target's scores as the page shows them: the main columns (narrow enough for one
    screen) and the rest (requests at 95% and 99%) keyed by the same model/stage columns."""

    target: str
    unit: str
    main: pd.DataFrame
    more: pd.DataFrame


def scores_table(scores: pd.DataFrame, target: str) -> ScoresTable:
    """``target``'s rows of a score frame (overall, per stage or per history), baseline first, its
    columns named with units ("MAE (MB)")."""
    rows = scores[scores["target"] == target].drop(columns="target").reset_index(drop=True)
    keys = [c for c in ("stage", "history") if c in rows]
    # Rows of one stage or history basis together (in the frame's own order of them), baseline first.
    order = {key: {value: i for i, value in enumerate(pd.unique(rows[key]))} for key in keys}
    rank = pd.DataFrame({f"_{key}": rows[key].map(order[key]) for key in keys}, index=rows.index)
    rows = (rows.join(rank).assign(_baseline=rows["algorithm"].ne(BASELINE))
            .sort_values([*rank.columns, "_baseline"], kind="stable")
            .drop(columns=[*rank.columns, "_baseline"]).reset_index(drop=True))
    shown = [c for c in (BREAKDOWN_COLUMNS_SHOWN if keys else SCORE_COLUMNS_SHOWN) if c in rows]
    rest = [c for c in rows.columns if c not in shown]
    labels = score_labels(target)
    return ScoresTable(target, TARGET_UNITS[target], rows[shown].rename(columns=labels),
                       rows[["algorithm", *keys, *rest]].rename(columns=labels))


def scores_download(scores: pd.DataFrame) -> pd.DataFrame:
    """A score frame for a CSV download: every column at full precision, plus the unit of ``mae``."""
    return scores.assign(mae_unit=scores["target"].map(TARGET_UNITS))


# --- models ----------------------------------------------------------------------------------

def available_records(registry: ModelRegistry) -> list[ModelRecord]:
    """Jobs models whose artifacts are in this registry's model store, newest first (a shared
    database may list models another process saved to a different store)."""
    return [r for r in registry.list(DOMAIN) if (registry.model_dir / r.domain / r.model_id).is_dir()]


def default_model(records: list[ModelRecord], preferred: list[str] | None = None) -> int:
    """Index of the model to offer first: one just trained, else the deployed one, else the newest LightGBM."""
    ids = [r.model_id for r in records]
    for candidate in preferred or []:
        if candidate in ids:
            return ids.index(candidate)
    for i, record in enumerate(records):
        if record.status == "deployed":
            return i
    return next((i for i, r in enumerate(records) if r.algorithm == PREFERRED_ALGORITHM), 0)


def compare_records(records: list[ModelRecord]) -> pd.DataFrame:
    """One row per model with its headline held-out scores, for picking and comparing."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"model_id": record.model_id, "algorithm": record.algorithm,
                               "status": record.status, "created_at": record.created_at,
                               "fingerprint": record.fingerprint}
        for target in TARGETS:
            scores = record.metrics.get(target, {}) if isinstance(record.metrics, dict) else {}
            for key in ("r2_log", "mae", "mape", "calibration", "under_q90", "over_q90", "under_q95", "over_q95"):
                if key in scores:
                    row[f"{target}_{key}"] = scores[key]
        rows.append(row)
    return pd.DataFrame(rows)


def model_labels() -> dict[str, str]:
    """Models-table column -> the name the page shows ("memory_mae" -> "memory MAE (MB)")."""
    labels = dict(MODEL_LABELS)
    for target in TARGETS:
        labels.update({f"{target}_{raw}": f"{target} {label}" for raw, label in score_labels(target).items()})
    return labels


@dataclass(frozen=True)
class ModelChoice:
    """The jobs models of the registry: their table (the registry's own column names, for the
    download), ids in table order, the one to offer first, and the deployed one (if any)."""

    table: pd.DataFrame
    algorithms: dict[str, str]  # model id -> algorithm
    default_index: int
    deployed: str | None = None

    @property
    def model_ids(self) -> list[str]:
        return list(self.algorithms)

    @property
    def empty(self) -> bool:
        return not self.algorithms

    def label(self, model_id: str) -> str:
        return f"{model_id} ({self.algorithms.get(model_id, '?')})"

    @property
    def all_table(self) -> pd.DataFrame:
        """Every column, named with targets and units, the deployed model marked."""
        marked = self.table.assign(status=self.table["status"].replace({"deployed": DEPLOYED_MARK}))
        return marked.rename(columns=model_labels())

    @property
    def main_table(self) -> pd.DataFrame:
        """The columns that fit one screen: ids, status, and the headline scores of each target."""
        labels = model_labels()
        return self.all_table[[labels.get(c, c) for c in MODEL_COLUMNS_SHOWN if c in self.table]]


def models_table(registry: ModelRegistry, preferred: str | None = None) -> ModelChoice:
    """Every jobs model with its held-out scores, newest first, offering ``preferred`` (just
    trained) first, else the deployed one, else the newest LightGBM."""
    records = available_records(registry)
    deployed = next((r.model_id for r in records if r.status == "deployed"), None)
    return ModelChoice(compare_records(records), {r.model_id: r.algorithm for r in records},
                       default_model(records, [preferred] if preferred else None), deployed)


def comparison_table(models: pd.DataFrame, model_ids: list[str]) -> pd.DataFrame:
    """Two models' registry rows side by side (one column per model, one row per named score).
    Transposed, each column mixes types, so every value is text, numbers at four significant digits."""
    chosen = models.set_index("model_id").loc[model_ids]
    return chosen.map(lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)).T.rename(index=model_labels())


def deploy(registry: ModelRegistry, model_id: str) -> ModelRecord:
    """Make ``model_id`` the deployed jobs model. Any other deployed jobs model goes back to
    trained: the registry keeps one deployed per (domain, name), and each algorithm is its own
    name here, so without this a baseline and a LightGBM could both be "the" deployed model."""
    record = registry.get(model_id)
    if record.domain != DOMAIN:
        raise InputError(f"model '{model_id}' is not a jobs model")
    registry.deploy(model_id)
    for other in registry.list(DOMAIN):
        if other.status == "deployed" and other.model_id != model_id:
            registry.set_status(other.model_id, "trained")
    return registry.get(model_id)


def load_model(registry: ModelRegistry, model_id: str) -> JobModel:
    """The fitted jobs model ``model_id`` from the registry's store."""
    model = registry.load(model_id)
    if not isinstance(model, JobModel):
        raise InputError(f"model '{model_id}' is not a jobs model")
    return model


# --- predict ---------------------------------------------------------------------------------

@dataclass
class PredictionOutput:
    """Predictions of every usable row, the rows excluded (with why), and the stages, blocks and
    platforms no training run had (with their row counts)."""

    predictions: pd.DataFrame
    rejected: pd.DataFrame
    unseen: dict[str, dict[str, int]] = field(default_factory=dict)


def predict(model: JobModel, df: pd.DataFrame, *, model_id: str, quantile: float | None = None,
            mapping: ColumnMapping | None = None, file: str | None = None) -> PredictionOutput:
    """Predict every usable row of a raw frame; rows with unreadable keys are reported, not guessed."""
    if mapping is None:
        detected = detect_columns(df)
        trained = ColumnMapping.from_dict(model.mapping)
        # Prefer the training mapping where the new file has the same headers.
        roles = {role: (getattr(trained, role) if getattr(trained, role) in df.columns else getattr(detected, role))
                 for role in ROLES}
        mapping = ColumnMapping.from_dict({**roles, "features": [c for c in model.design_columns if c in df.columns]})
    prepared = prepare_runs(df, mapping, memory_unit=model.memory_unit, require_targets=False, file=file)
    predictions = model.predict(prepared.runs, quantile=quantile, model_id=model_id)
    return PredictionOutput(predictions, prepared.rejected, unseen_keys(model, predictions))


def unseen_keys(model: JobModel, predictions: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Stages, blocks and platforms of the predicted runs that no training run had, with their row
    counts. New stage names often mean a changed flow: those predictions lean on relatives (the same
    stage family, the block's other stages) and the tools may behave differently, so users are told."""
    known = {"stage": set(model.stages), "block": set(model.blocks), "platform": set(model.platforms)}
    out: dict[str, dict[str, int]] = {}
    for column, seen in known.items():
        counts = predictions.loc[~predictions[column].astype(str).isin(seen), column].astype(str).value_counts()
        if not counts.empty:
            out[column] = {str(k): int(v) for k, v in counts.sort_index().items()}
    return out


def single_run_frame(model: JobModel, *, platform: str, block: str, stage: str,
                     features: Mapping[str, float | None] | None = None) -> pd.DataFrame:
    """A one-row frame in the model's own column names for the single-run form."""
    mapping = ColumnMapping.from_dict(model.mapping)
    row: dict[str, Any] = {mapping.block or "block": block, mapping.stage or "stage": stage}
    if mapping.platform:
        row[mapping.platform] = platform
    for column in model.design_columns:
        row[column] = (features or {}).get(column)
    return pd.DataFrame([row])


@dataclass(frozen=True)
class SingleRunPrediction:
    """One run's predictions as text (``HH:MM:SS``, ``512.3M``) and the history they stand on."""

    runtime: str
    runtime_upper: str
    memory: str
    memory_request: str
    quantile: float
    earlier_runs: int
    history_from: str
    row: pd.DataFrame  # the full prediction row, every column


def predict_single_run(model: JobModel, *, model_id: str, quantile: float, platform: str, block: str,
                       stage: str, features: Mapping[str, float | None] | None = None) -> SingleRunPrediction:
    """Predict one block/stage run from the single-run form."""
    frame = single_run_frame(model, platform=platform, block=block, stage=stage, features=features)
    one = predict(model, frame, model_id=model_id, quantile=quantile).predictions.iloc[0]
    pct = round(quantile * 100)
    return SingleRunPrediction(
        runtime=str(one["predicted_runtime"]), runtime_upper=str(one[f"runtime_upper_p{pct}"]),
        memory=str(one["predicted_memory"]), memory_request=str(one[f"memory_request_p{pct}"]),
        quantile=quantile, earlier_runs=int(one["earlier_runs"]), history_from=str(one["history_from"]),
        row=pd.DataFrame([one]))


# --- save ------------------------------------------------------------------------------------

def write_predictions(engine: Engine, table: str, predictions: pd.DataFrame) -> WrittenRows:
    """Append ``predictions`` to ``table`` of ``engine``'s database (created when missing) under a
    new run id. No policy check: for the command line, which runs as the user who gave the URL."""
    return append_predictions(engine, table, output_records(predictions),
                              text_columns=TEXT_COLUMNS, number_columns=NUMBER_COLUMNS)


def save_predictions(url: str, table: str, predictions: pd.DataFrame, settings: Settings) -> WrittenRows:
    """Append ``predictions`` to ``table`` in a database a visitor chose, if the deployment's
    policy allows the URL (else an ``InputError`` saying why, before anything is written)."""
    engine = create_db_engine(check_user_url(url, settings))
    try:
        return write_predictions(engine, table, predictions)
    finally:
        engine.dispose()
