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
from core.jobs.config import PREFERRED_ALGORITHM
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
class HeadlineScore:
    """One target's held-out headline for a model: R² on the log scale, its gain over the history
    baseline (None when undefined, e.g. every held-out run took the same time), calibration."""

    target: str
    r2_log: float | None
    gain_vs_baseline: float | None
    calibration: float | None


def _finite(value: object) -> float | None:
    """A score as a float, or None when it is missing or undefined (NaN)."""
    return float(value) if isinstance(value, numbers.Real) and math.isfinite(value) else None


def headline_scores(scores: pd.DataFrame, algorithm: str) -> list[HeadlineScore]:
    """Per target (runtime, memory): ``algorithm``'s R² (log), gain vs the baseline, calibration."""
    out = []
    for target in TARGETS:
        rows = scores[scores["target"] == target].set_index("algorithm")
        mine = rows.loc[algorithm] if algorithm in rows.index else None
        base = rows.loc[BASELINE] if BASELINE in rows.index else None
        r2 = _finite(mine["r2_log"]) if mine is not None else None
        base_r2 = _finite(base["r2_log"]) if base is not None else None
        gain = r2 - base_r2 if r2 is not None and base_r2 is not None else None
        out.append(HeadlineScore(target, r2, gain, _finite(mine["calibration"]) if mine is not None else None))
    return out


def scores_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores with readable column names, baseline first."""
    order = {BASELINE: 0}
    frame = scores.sort_values(["target", "algorithm"],
                               key=lambda s: s.map(order).fillna(1) if s.name == "algorithm" else s)
    return frame.rename(columns={"r2_log": "R² (log)", "r2": "R²", "mae": "MAE", "mape": "MAPE",
                                 "calibration": "calibration", "n": "runs"})


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


@dataclass(frozen=True)
class ModelChoice:
    """The jobs models of the registry: their table, ids in table order, and the one to offer first."""

    table: pd.DataFrame
    algorithms: dict[str, str]  # model id -> algorithm
    default_index: int

    @property
    def model_ids(self) -> list[str]:
        return list(self.algorithms)

    @property
    def empty(self) -> bool:
        return not self.algorithms

    def label(self, model_id: str) -> str:
        return f"{model_id} ({self.algorithms.get(model_id, '?')})"


def models_table(registry: ModelRegistry, preferred: str | None = None) -> ModelChoice:
    """Every jobs model with its held-out scores, newest first, offering ``preferred`` (just
    trained) first, else the deployed one, else the newest LightGBM."""
    records = available_records(registry)
    return ModelChoice(compare_records(records), {r.model_id: r.algorithm for r in records},
                       default_model(records, [preferred] if preferred else None))


def comparison_table(models: pd.DataFrame, model_ids: list[str]) -> pd.DataFrame:
    """Two models' registry rows side by side (one column per model). Transposed, each column
    mixes types, so every value is text, numbers at four significant digits."""
    chosen = models.set_index("model_id").loc[model_ids]
    return chosen.map(lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)).T


def deploy(registry: ModelRegistry, model_id: str) -> ModelRecord:
    """Make ``model_id`` the deployed jobs model (any other goes back to trained)."""
    record = registry.get(model_id)
    if record.domain != DOMAIN:
        raise InputError(f"model '{model_id}' is not a jobs model")
    registry.deploy(model_id)
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
