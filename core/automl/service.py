"""What the AutoML page, the CLI and tests call: one function per user action.

``load_sample`` | ``read_upload`` -> ``profile`` (roles, task, time column, budget, with reasons) ->
``eda`` / ``leakage`` -> ``make_spec`` -> ``submit`` (a background job; ``open_jobs`` + a ``Worker``) or
``train_now`` (in this process: the CLI) -> ``load_model`` -> ``deploy`` -> ``predict_batch`` /
``predict_one`` with a drift report. No Streamlit here: caching across reruns is the UI's job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core import config as app_config
from core.automl import config, detection, eda, leakage, predict, samples
from core.automl.artifact import TrainedModel, TrainSpec
from core.automl.eda import EdaReport
from core.automl.jobs import DatasetRecord, JobRecord, JobRegistry
from core.automl.samples import SAMPLES, Sample
from core.config import Settings
from core.errors import InputError
from core.io import read_csv
from core.ml.fingerprint import data_fingerprint
from core.storage.engine import create_db_engine

__all__ = ["SAMPLES", "Sample", "Profile", "TrainSpec", "TrainedModel", "EdaReport", "JobRecord", "DatasetRecord",
           "load_sample", "read_upload", "profile", "eda_report", "eda_html", "leakage_scan", "make_spec", "open_jobs",
           "submit", "rerun", "train_now", "predict_batch", "predict_one", "form_fields", "run_card", "load_model"]

eda_html = eda.eda_html


@dataclass(frozen=True)
class Profile:
    """What the page shows before training: each column's role and the task, with the reasons."""

    fingerprint: str
    rows: int
    columns: int
    target: str
    roles: pd.DataFrame  # column, role, reason, kind, unique_ratio, missing_share
    task: str
    task_reason: str
    time_column: str | None
    budget_seconds: int

    @property
    def role_of(self) -> dict[str, str]:
        return detection.roles_dict(self.roles)


def load_sample(name: str, settings: Settings | None = None) -> pd.DataFrame:
    """A bundled sample by file name or stem (``titanic``), read through the project's CSV reader."""
    settings = settings or app_config.get_settings()
    path = samples.sample_path(settings.data_dir, name)
    if not path.exists():
        raise InputError(f"the sample '{name}' is not installed (expected {path.name} under data/automl)")
    return read_csv(path, name=path.name, max_rows=settings.max_upload_rows)


def read_upload(source: Any, name: str, settings: Settings | None = None, *,
                min_rows: int = 2 * config.CV_FOLDS) -> pd.DataFrame:
    """An uploaded CSV (path, bytes or file object), with the app's row limit; training needs
    ``min_rows`` rows (a batch to predict needs one)."""
    settings = settings or app_config.get_settings()
    frame = read_csv(source, name=name, max_rows=settings.max_upload_rows)
    if frame.empty:
        raise InputError("has a header but no rows", file=name)
    if len(frame) < min_rows:
        raise InputError(f"has {len(frame)} rows; AutoML needs at least {min_rows} to train and test", file=name)
    return frame


def profile(frame: pd.DataFrame, target: str) -> Profile:
    """Roles, task, time column and automatic budget for ``target``, each with the rule that set it."""
    detection.validate_target(frame, target)
    roles = detection.detect_roles(frame, target)
    task, reason = detection.detect_task(frame[target])
    time_column = detection.detect_time_column(frame, detection.roles_dict(roles))
    return Profile(fingerprint=data_fingerprint(frame), rows=len(frame), columns=frame.shape[1], target=target,
                   roles=roles, task=task, task_reason=reason, time_column=time_column,
                   budget_seconds=detection.auto_budget(len(frame)))


def eda_report(frame: pd.DataFrame, target: str | None, roles: Mapping[str, str] | None = None) -> EdaReport:
    return eda.eda_report(frame, target, dict(roles) if roles is not None else None)


def leakage_scan(frame: pd.DataFrame, target: str, task: str, roles: Mapping[str, str], *,
                 seed: int = config.DEFAULT_SEED) -> pd.DataFrame:
    """Columns that predict the target almost perfectly on their own (flagged first)."""
    return leakage.leakage_scan(frame, target, task, dict(roles), seed=seed)


def make_spec(frame: pd.DataFrame, target: str, roles: Mapping[str, str], *, task: str, budget_seconds: float,
              seed: int = config.DEFAULT_SEED, time_column: str | None = None,
              max_trials: int | None = None, single_model: bool = False) -> TrainSpec:
    """A checked job request: the target exists and varies, roles are known, the time column is a column,
    the budget is within limits, and something is left for the model to read."""
    detection.validate_target(frame, target)
    if task not in config.TASKS:
        raise InputError(f"unknown task '{task}'; choose {' or '.join(config.TASKS)}")
    if task == config.REGRESSION:
        numbers = pd.to_numeric(frame[target], errors="coerce")
        if numbers.notna().sum() < frame[target].notna().sum() * 0.95:
            raise InputError(f"the target '{target}' holds text or labels, not numbers: regression needs a numeric "
                             "target (choose classification)", column=target)
    unknown = {c: r for c, r in roles.items() if r not in config.ROLES}
    if unknown:
        raise InputError(f"unknown role(s) {unknown}; roles are {', '.join(config.ROLES)}")
    missing = [c for c in frame.columns if c not in roles]
    full = {**dict(roles), **{c: config.DROP for c in missing}, target: config.TARGET}
    if not any(r in config.MODEL_ROLES for c, r in full.items() if c != target):
        raise InputError("no column is left for the model: give at least one column the role feature")
    if time_column is not None and time_column not in frame.columns:
        raise InputError(f"the time column '{time_column}' is not in the data", column=time_column)
    if not config.MIN_BUDGET_SECONDS <= budget_seconds <= config.MAX_BUDGET_SECONDS:
        raise InputError(f"the budget must be between {config.MIN_BUDGET_SECONDS} and "
                         f"{config.MAX_BUDGET_SECONDS} seconds (got {budget_seconds:g})")
    if max_trials is not None and max_trials < 1:
        raise InputError("a reproducible run needs at least one trial")
    return TrainSpec(target=target, task=task, roles=full, budget_seconds=float(budget_seconds), seed=int(seed),
                     time_col=time_column, max_trials=max_trials, single_model=bool(single_model))


def open_jobs(settings: Settings | None = None) -> JobRegistry:
    """The job registry on the app's database and model store."""
    settings = settings or app_config.get_settings()
    return JobRegistry(create_db_engine(settings.database_url), Path(settings.model_dir))


def submit(registry: JobRegistry, frame: pd.DataFrame, dataset_name: str, spec: TrainSpec,
           name: str | None = None) -> str:
    """Store the data (the same data again is reused) and queue a job; a worker picks it up."""
    dataset = registry.store_dataset(frame, dataset_name)
    return registry.submit(dataset.dataset_id, spec, name or f"{spec.target} · {dataset_name}")


def rerun(registry: JobRegistry, job_id: str) -> str:
    """Queue the same data and request again (the run card's rerun button)."""
    record = registry.get(job_id)
    return registry.submit(record.dataset_id, record.train_spec, f"{record.name} (rerun)")


def train_now(frame: pd.DataFrame, spec: TrainSpec, directory: Path, *,
              progress: Callable[[dict[str, Any]], None] | None = None,
              started: float | None = None) -> TrainedModel:
    """Train, export and save in this process (the CLI), under the same hard budget as a job: the
    search is killed at its deadline and the export runs in the share kept for it."""
    from core.automl import export
    from core.automl.training import train

    began = time.monotonic() if started is None else started
    # The export's imports (seconds) overlap the search, which runs in another process.
    warming = threading.Thread(target=export.warm_up, name="onnx-warm-up", daemon=True)
    warming.start()
    model = train(frame, spec, progress=progress, started=began)
    warming.join()
    exported_at = time.monotonic()
    export.export_model(model, directory)
    model.ledger["export"] = round(time.monotonic() - exported_at, 3)
    model.save(directory)
    return model


def load_model(directory: Path) -> TrainedModel:
    """A model saved by ``train_now`` (``--model-dir``), with a clear error where there is none."""
    if not (directory / "model.joblib").exists():
        raise InputError(f"there is no trained model in '{directory}' (train one with: python -m core automl train)")
    return TrainedModel.load(directory)


def predict_batch(model: TrainedModel, raw: pd.DataFrame) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """Predictions in the input's row order (``prediction`` and, for classification, ``proba_<class>``),
    the warnings about the input, and the drift report against the training data."""
    predictions, warnings = predict.predict_frame(model, raw)
    return predictions, warnings, predict.drift_report(model.schema, raw)


def predict_one(model: TrainedModel, values: Mapping[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """One row from the form (every schema column present)."""
    return predict.predict_frame(model, pd.DataFrame([dict(values)]))


def form_fields(model: TrainedModel) -> list[dict[str, Any]]:
    """The single-row form's fields from the pinned schema."""
    return predict.single_row_fields(model.schema)


def run_card(record: JobRecord, model: TrainedModel | None) -> dict[str, Any]:
    """What a job was: data fingerprint, request, library versions, seed, trials and the budget ledger."""
    card: dict[str, Any] = {"job": record.job_id, "name": record.name, "dataset": record.dataset_id,
                            "target": record.target, "task": record.task, "budget_seconds": record.budget_seconds,
                            "seed": record.seed, "status": record.status,
                            "reproducible_trials": record.spec.get("max_trials"),
                            "time_column": record.spec.get("time_col"),
                            "single_model": bool(record.spec.get("single_model", False)),
                            "created_at": record.created_at, "finished_at": record.finished_at}
    if model is not None:
        card.update({"data_fingerprint": model.fingerprint, "trials": model.trials, "winner": model.algorithm,
                     "metric": model.metric, "ledger_seconds": dict(model.ledger), "versions": dict(model.versions),
                     "exportable": model.exportable, "parity": dict(model.parity)})
    return card
