"""What the page and the CLI call: load a source, train and register, predict, compare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import InputError
from core.io import read_csv
from core.jobs.columns import ColumnMapping, PreparedRuns, detect_columns, prepare_runs
from core.jobs.history import HISTORY_COLUMNS
from core.jobs.training import JobModel, TrainConfig, TrainResult
from core.ml.fingerprint import data_fingerprint
from core.ml.registry import ModelRecord, ModelRegistry
from core.storage import create_db_engine, read_table

DOMAIN = "jobs"
BUNDLED_FILE = "eda_stage_runs.csv"


def load_source(*, csv: str | Path | None = None, db_url: str | None = None, table: str | None = None,
                limit: int | None = None, max_rows: int | None = None) -> pd.DataFrame:
    """A raw frame from a CSV file or a validated database table."""
    if csv is not None:
        return read_csv(csv, max_rows=max_rows)
    if db_url and table:
        engine = create_db_engine(db_url)
        try:
            return read_table(engine, table, limit=limit)
        finally:
            engine.dispose()
    raise InputError("give a CSV file, or a database URL and a table")


def prepare(df: pd.DataFrame, mapping: ColumnMapping | None = None, *, memory_unit: str = "M",
            require_targets: bool = True, file: str | None = None) -> PreparedRuns:
    return prepare_runs(df, mapping or detect_columns(df), memory_unit=memory_unit,
                        require_targets=require_targets, file=file)


def runs_fingerprint(prepared: PreparedRuns) -> str:
    columns = [c for c in HISTORY_COLUMNS if c in prepared.runs] + prepared.feature_columns
    return data_fingerprint(prepared.runs[columns])


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


@dataclass
class PredictionOutput:
    predictions: pd.DataFrame
    rejected: pd.DataFrame


def predict_frame(model: JobModel, df: pd.DataFrame, *, model_id: str, quantile: float | None = None,
                  mapping: ColumnMapping | None = None, file: str | None = None) -> PredictionOutput:
    """Predict every usable row of a raw frame; rows with unreadable keys are reported, not guessed."""
    if mapping is None:
        detected = detect_columns(df)
        trained = ColumnMapping.from_dict(model.mapping)
        # Prefer the training mapping where the new file has the same headers.
        mapping = ColumnMapping(**{
            role: (getattr(trained, role) if getattr(trained, role) in df.columns else getattr(detected, role))
            for role in ("block", "stage", "runtime", "memory", "cpu_time", "run_date", "platform", "run_id")
        }, features=[c for c in model.design_columns if c in df.columns])
    prepared = prepare_runs(df, mapping, memory_unit=model.memory_unit, require_targets=False, file=file)
    return PredictionOutput(model.predict(prepared.runs, quantile=quantile, model_id=model_id), prepared.rejected)


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
                     features: dict[str, float] | None = None) -> pd.DataFrame:
    """A one-row frame in the model's own column names for the single-run form."""
    mapping = ColumnMapping.from_dict(model.mapping)
    row: dict[str, Any] = {mapping.block: block, mapping.stage: stage}
    if mapping.platform:
        row[mapping.platform] = platform
    for column in model.design_columns:
        row[column] = (features or {}).get(column)
    return pd.DataFrame([row])


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
    return next((i for i, r in enumerate(records) if r.algorithm == "lightgbm"), 0)


def compare_records(records: list[ModelRecord]) -> pd.DataFrame:
    """One row per model with its headline held-out scores, for picking and comparing."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"model_id": record.model_id, "algorithm": record.algorithm,
                               "status": record.status, "created_at": record.created_at,
                               "fingerprint": record.fingerprint}
        for target in ("runtime", "memory"):
            scores = record.metrics.get(target, {}) if isinstance(record.metrics, dict) else {}
            for key in ("r2_log", "mae", "mape", "calibration", "under_q90", "over_q90", "under_q95", "over_q95"):
                if key in scores:
                    row[f"{target}_{key}"] = scores[key]
        rows.append(row)
    return pd.DataFrame(rows)
