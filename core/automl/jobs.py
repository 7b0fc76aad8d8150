"""The AutoML job registry: uploaded datasets, training jobs and what became of them.

Rows live in ``core.storage.automl_repo``; files in the model store:

- ``<model_dir>/automl/datasets/<dataset_id>.parquet``: an uploaded frame. Its id is the data
  fingerprint, so the same file uploaded again is the same dataset (no second copy). Parquet keeps
  every dtype, pandas 3 strings, nullable integers, categories and zoned timestamps included.
- ``<model_dir>/automl/jobs/<job_id>/``: a job's worker log, its ``TrainedModel`` and the export.

Ids are generated here (``job-...``) or are hex fingerprints, and are checked before any path is
built from them, so no user text ever reaches a path. State changes (claim, finish, cancel, deploy)
are single conditional UPDATEs, atomic on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from core.automl import config
from core.automl.artifact import MODEL_FILE, TrainedModel, TrainSpec
from core.errors import InputError, StorageError
from core.ml.fingerprint import data_fingerprint
from core.storage import automl_repo as repo
from core.storage.schema import ensure_schema

QUEUED, RUNNING, DONE, FAILED, CANCELLED = repo.QUEUED, repo.RUNNING, repo.DONE, repo.FAILED, repo.CANCELLED
FINISHED = repo.FINISHED
STORE = "automl"  # the domain's folder in the model store
DATASET_FORMAT = "parquet"
MAX_DATASET_NAME = 200
MAX_JOB_NAME = 120
MAX_TAGS = 20
MAX_TAG_CHARS = 40
MAX_NOTES_CHARS = 5_000
MAX_ERROR_CHARS = 4_000
INTERRUPTED = "interrupted: the app restarted"
CANCELLED_MESSAGE = "cancelled by the user"

_JOB_ID = re.compile(r"^job-[a-z0-9-]{1,72}$")
_DATASET_ID = re.compile(r"^[0-9a-f]{8,64}$")

JOB_COLUMNS = ["job_id", "name", "dataset_id", "dataset", "target", "task", "status", "phase", "trials",
               "best_score", "metric", "budget_seconds", "elapsed_seconds", "created_at", "started_at",
               "finished_at", "deployed", "exportable", "tags", "error"]


@dataclass(frozen=True)
class DatasetRecord:
    dataset_id: str
    name: str
    n_rows: int
    n_columns: int
    column_types: tuple[tuple[str, str], ...]  # (column, dtype) in order
    file_format: str
    size_bytes: int
    created_at: datetime

    @property
    def columns(self) -> list[str]:
        return [name for name, _ in self.column_types]


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    dataset_id: str
    name: str
    target: str
    task: str
    budget_seconds: float
    seed: int
    spec: dict[str, Any]
    status: str
    error: str | None
    progress: dict[str, Any]
    leaderboard: list[dict[str, Any]] | None
    metrics: dict[str, Any] | None
    ledger: dict[str, Any] | None
    tags: tuple[str, ...]
    notes: str | None
    deployed: bool
    exportable: bool
    export_reason: str | None
    worker: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def train_spec(self) -> TrainSpec:
        return spec_from_dict(self.spec)

    def leaderboard_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.leaderboard or [])


def spec_from_dict(values: Mapping[str, Any]) -> TrainSpec:
    """The TrainSpec stored as JSON, back as the dataclass."""
    return TrainSpec(**dict(values))


def jsonable(value: Any) -> Any:
    """Plain JSON types (numpy scalars unwrapped, NaN and infinities as None, stamps as ISO text):
    PostgreSQL's JSON refuses NaN."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _now() -> datetime:
    return datetime.now(UTC)


def _new_job_id(created: datetime) -> str:
    return f"job-{created:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:10]}"


class JobRegistry:
    """Datasets, jobs, deploy, tags and notes of the AutoML page, on one database and model store."""

    def __init__(self, engine: Engine, model_dir: Path) -> None:
        self.engine = engine
        self.model_dir = Path(model_dir)
        ensure_schema(engine)

    # --- paths (ids checked: nothing a user typed becomes a path) ---------------------------------------
    @property
    def datasets_dir(self) -> Path:
        return self.model_dir / STORE / "datasets"

    @property
    def jobs_dir(self) -> Path:
        return self.model_dir / STORE / "jobs"

    def dataset_path(self, dataset_id: str) -> Path:
        if not _DATASET_ID.match(dataset_id or ""):
            raise InputError(f"'{dataset_id}' is not a valid dataset id")
        return self.datasets_dir / f"{dataset_id}.{DATASET_FORMAT}"

    def job_dir(self, job_id: str) -> Path:
        if not _JOB_ID.match(job_id or ""):
            raise InputError(f"'{job_id}' is not a valid job id")
        return self.jobs_dir / job_id

    # --- datasets ---------------------------------------------------------------------------------
    def store_dataset(self, frame: pd.DataFrame, name: str) -> DatasetRecord:
        """Keep an uploaded frame; the same data stored again returns the first record (same id, one file)."""
        stored = storable_frame(frame, name)
        dataset_id = data_fingerprint(stored)
        path = self.dataset_path(dataset_id)
        existing = repo.get_dataset(self.engine, dataset_id)
        if existing is not None and path.is_file():
            return _dataset(existing)
        size = _write_parquet(stored, path)
        row = {"dataset_id": dataset_id, "name": _dataset_name(name), "n_rows": len(stored),
               "n_columns": stored.shape[1], "column_types": [[str(c), str(t)] for c, t in stored.dtypes.items()],
               "file_format": DATASET_FORMAT, "size_bytes": size, "created_at": _now()}
        repo.insert_dataset(self.engine, row)  # a concurrent upload of the same data may have won: same row
        found = repo.get_dataset(self.engine, dataset_id)
        if found is None:
            raise StorageError(f"dataset '{dataset_id}' was written but its row cannot be read back")
        return _dataset(found)

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        self.dataset_path(dataset_id)  # a malformed id is refused as such
        found = repo.get_dataset(self.engine, dataset_id)
        if found is None:
            raise InputError(f"dataset '{dataset_id}' is not stored")
        return _dataset(found)

    def load_dataset(self, dataset_id: str) -> pd.DataFrame:
        """The frame as uploaded (after ``storable_frame``), dtypes included."""
        record = self.get_dataset(dataset_id)
        path = self.dataset_path(record.dataset_id)
        if not path.is_file():
            raise StorageError(f"the file of dataset '{record.name}' is missing from the model store ({path})")
        try:
            return pd.read_parquet(path)
        except OSError as exc:
            raise StorageError(f"cannot read dataset '{record.name}' from {path}: {exc}") from None

    def list_datasets(self) -> list[DatasetRecord]:
        """Every stored dataset, newest first."""
        return [_dataset(row) for row in repo.list_datasets(self.engine)]

    # --- jobs: submit and read ----------------------------------------------------------------------
    def submit(self, dataset_id: str, spec: TrainSpec, name: str | None = None) -> str:
        """Queue a training job on a stored dataset; its id. The spec is checked against the dataset."""
        dataset = self.get_dataset(dataset_id)
        _check_spec(spec, dataset)
        created = _now()
        job_id = _new_job_id(created)
        repo.insert_job(self.engine, {
            "job_id": job_id, "dataset_id": dataset.dataset_id, "name": _job_name(name, spec),
            "target": spec.target, "task": spec.task, "budget_seconds": float(spec.budget_seconds),
            "seed": int(spec.seed), "spec": jsonable(asdict(spec)), "status": QUEUED,
            "progress": {"phase": QUEUED}, "tags": [], "deployed": False, "exportable": False,
            "created_at": created,
        })
        return job_id

    def get(self, job_id: str) -> JobRecord:
        found = repo.get_job(self.engine, job_id)
        if found is None:
            raise InputError(f"job '{job_id}' does not exist (it may have been deleted)")
        return _job(found)

    def jobs(self, status: str | None = None) -> list[JobRecord]:
        """Job records, newest first."""
        return [_job(row) for row in repo.list_jobs(self.engine, status=status)]

    def list_jobs(self) -> pd.DataFrame:
        """One row per job, newest first, with its progress flattened (the page's job table)."""
        names = {d.dataset_id: d.name for d in self.list_datasets()}
        rows = [_job_row(job, names.get(job.dataset_id, "")) for job in self.jobs()]
        frame = pd.DataFrame(rows, columns=JOB_COLUMNS)
        for column in ("created_at", "started_at", "finished_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def deployed_jobs(self) -> list[JobRecord]:
        """Jobs whose model is deployed, newest first."""
        return [_job(row) for row in repo.list_jobs(self.engine, deployed=True)]

    # --- jobs: the worker's side ----------------------------------------------------------------------
    def mark_running(self, job_id: str, worker: str) -> bool:
        """Claim a queued job for ``worker`` (atomic: of two claimers exactly one gets True)."""
        self.job_dir(job_id)
        return repo.claim_job(self.engine, job_id, worker, _now())

    def claim_next(self, worker: str) -> str | None:
        """Claim the oldest queued job; its id, or None when the queue is empty."""
        return repo.claim_next(self.engine, worker, _now())

    def update_progress(self, job_id: str, progress: Mapping[str, Any]) -> bool:
        """Store a running job's progress (and renew its heartbeat); False once it is no longer running."""
        return repo.update_running(self.engine, job_id, {"progress": jsonable(progress), "heartbeat_at": _now()})

    def heartbeat(self, job_id: str) -> bool:
        """Renew a running job's heartbeat; False once it is no longer running (cancelled, marked stale)."""
        return repo.update_running(self.engine, job_id, {"heartbeat_at": _now()})

    def mark_done(self, job_id: str, model: TrainedModel, *, export_reason: str | None = None) -> bool:
        """Save the model into the job's directory and record its results. False (and the artifact is
        not kept) when the job stopped running meanwhile: cancelled, marked stale or deleted."""
        directory = self.job_dir(job_id)
        try:
            model.save(directory)
        except OSError as exc:
            raise StorageError(f"cannot save the model of job '{job_id}' to {directory}: {exc}") from None
        now = _now()
        found = repo.get_job(self.engine, job_id) or {}
        progress = {**(found.get("progress") or {}), "phase": DONE, "trials": model.trials, "metric": model.metric,
                    "remaining": 0.0}
        values = {
            "finished_at": now, "error": None, "progress": jsonable(progress),
            "leaderboard": jsonable(model.leaderboard.to_dict("records")), "metrics": jsonable(_metrics(model)),
            "ledger": jsonable(model.ledger), "exportable": bool(model.exportable),
            "export_reason": None if model.exportable else (export_reason or "the export did not pass its parity check"),
            "heartbeat_at": now,
        }
        if repo.finish_job(self.engine, job_id, DONE, values):
            return True
        (directory / MODEL_FILE).unlink(missing_ok=True)
        if repo.get_job(self.engine, job_id) is None:
            shutil.rmtree(directory, ignore_errors=True)  # deleted while it trained: leave nothing behind
        return False

    def mark_failed(self, job_id: str, error: str) -> bool:
        """A running job ends failed with ``error``; False when it was no longer running."""
        found = repo.get_job(self.engine, job_id) or {}
        progress = {**(found.get("progress") or {}), "phase": FAILED}
        text = (error or "failed").strip()[:MAX_ERROR_CHARS]
        return repo.finish_job(self.engine, job_id, FAILED,
                               {"error": text, "finished_at": _now(), "progress": jsonable(progress)})

    def fail_stale(self, stale_seconds: float, message: str = INTERRUPTED) -> list[str]:
        """Mark failed the running jobs whose heartbeat is older than ``stale_seconds``: the process
        running them is gone (app restarted, machine rebooted). The ids marked."""
        now = _now()
        return repo.fail_stale(self.engine, now - timedelta(seconds=stale_seconds), now, message)

    # --- jobs: the user's side ----------------------------------------------------------------------
    def cancel(self, job_id: str) -> None:
        """Stop a queued or running job (its worker process notices within seconds and exits)."""
        record = self.get(job_id)
        if record.finished:
            raise InputError(f"job '{record.name}' has already finished ({record.status})")
        if not repo.cancel_job(self.engine, job_id, _now(), CANCELLED_MESSAGE):
            raise InputError(f"job '{record.name}' finished before it could be cancelled ({self.get(job_id).status})")

    def set_tags(self, job_id: str, tags: Iterable[str]) -> tuple[str, ...]:
        """Replace a job's tags (trimmed, duplicates dropped, order kept); the tags stored."""
        clean = _tags(tags)
        if repo.update_job(self.engine, job_id, {"tags": list(clean)}) == 0:
            raise InputError(f"job '{job_id}' does not exist (it may have been deleted)")
        return clean

    def set_notes(self, job_id: str, notes: str | None) -> None:
        text = (notes or "").strip()
        if len(text) > MAX_NOTES_CHARS:
            raise InputError(f"notes are limited to {MAX_NOTES_CHARS} characters (these have {len(text)})")
        if repo.update_job(self.engine, job_id, {"notes": text or None}) == 0:
            raise InputError(f"job '{job_id}' does not exist (it may have been deleted)")

    def deploy(self, job_id: str) -> None:
        """Deploy a job's model for predictions: only a done job whose export passed its parity check."""
        record = self.get(job_id)
        _check_deployable(record)
        if not (self.job_dir(job_id) / MODEL_FILE).is_file():
            raise StorageError(f"the model file of job '{record.name}' is missing from {self.job_dir(job_id)}")
        if not repo.set_deployed(self.engine, job_id, True):
            _check_deployable(self.get(job_id))  # changed meanwhile: say why
            raise InputError(f"job '{record.name}' cannot be deployed now")

    def undeploy(self, job_id: str) -> None:
        record = self.get(job_id)
        repo.set_deployed(self.engine, record.job_id, False)

    def delete(self, job_id: str) -> None:
        """Remove a job's row and its directory. A running job is refused: cancel it first."""
        record = self.get(job_id)
        directory = self.job_dir(job_id)
        # The row goes first, by a statement that refuses a running job, so a worker claiming the
        # job meanwhile is never left training a job whose files are gone.
        if record.status == RUNNING or repo.delete_job(self.engine, job_id) == 0:
            if repo.get_job(self.engine, job_id) is not None:
                raise InputError(f"job '{record.name}' is running; cancel it before deleting it")
        try:
            if directory.exists():
                doomed = directory.with_name(f".{job_id}.deleting")
                directory.rename(doomed)
                shutil.rmtree(doomed)
        except OSError as exc:
            raise StorageError(f"job '{record.name}' was deleted but its files could not be removed "
                               f"from {directory}: {exc}") from None

    def load_model(self, job_id: str) -> TrainedModel:
        """The trained model of a done job."""
        record = self.get(job_id)
        if record.status != DONE:
            raise InputError(f"job '{record.name}' has no model: it is {record.status}")
        directory = self.job_dir(job_id)
        if not (directory / MODEL_FILE).is_file():
            raise StorageError(f"the model file of job '{record.name}' is missing from {directory}")
        return TrainedModel.load(directory)


# --- datasets: what is stored ---------------------------------------------------------------------------

def storable_frame(frame: pd.DataFrame, name: str = "the upload") -> pd.DataFrame:
    """The frame as it is stored: text column names, and object columns holding mixed values
    (e.g. 1 and "a") as strings, which Parquet cannot store otherwise. Refuses an empty frame."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError("a dataset must be a table", file=name)
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InputError("the file has no data rows or no columns", file=name)
    out = frame.copy()
    out.attrs = {}  # the CSV reader's notes (a CsvInfo) are not Parquet metadata
    out.columns = [str(c) for c in out.columns]
    duplicated = sorted(set(out.columns[out.columns.duplicated()]))
    if duplicated:
        raise InputError(f"column names appear twice: {', '.join(duplicated)}", file=name)
    for column in out.columns:
        if out[column].dtype == object and not _arrow_storable(out[column]):
            out[column] = out[column].astype("string")
    return out


def _arrow_storable(values: pd.Series) -> bool:
    import pyarrow as pa

    try:
        pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return False
    return True


def _write_parquet(frame: pd.DataFrame, path: Path) -> int:
    """Write atomically (temp file, then rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        frame.to_parquet(temporary, index=True)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise StorageError(f"cannot write the dataset to {path.parent}: {exc}") from None
    return path.stat().st_size


def _dataset_name(name: str) -> str:
    text = (name or "").strip() or "dataset"
    return text[:MAX_DATASET_NAME]


def _dataset(row: Mapping[str, Any]) -> DatasetRecord:
    return DatasetRecord(
        dataset_id=str(row["dataset_id"]), name=str(row["name"]), n_rows=int(row["n_rows"]),
        n_columns=int(row["n_columns"]), column_types=tuple((str(c), str(t)) for c, t in row["column_types"]),
        file_format=str(row["file_format"]), size_bytes=int(row["size_bytes"]), created_at=row["created_at"])


# --- jobs: checks and conversions ---------------------------------------------------------------------------

def _check_spec(spec: TrainSpec, dataset: DatasetRecord) -> None:
    columns = set(dataset.columns)
    if spec.task not in config.TASKS:
        raise InputError(f"the task must be one of {', '.join(config.TASKS)}, not '{spec.task}'")
    if spec.target not in columns:
        raise InputError(f"the target '{spec.target}' is not a column of dataset '{dataset.name}'")
    unknown = sorted(set(spec.roles) - columns)
    if unknown:
        raise InputError(f"roles name columns that dataset '{dataset.name}' lacks: {', '.join(unknown)}")
    bad_roles = sorted({r for r in spec.roles.values() if r not in config.ROLES})
    if bad_roles:
        raise InputError(f"unknown column roles: {', '.join(bad_roles)}")
    if spec.time_col is not None and spec.time_col not in columns:
        raise InputError(f"the time column '{spec.time_col}' is not a column of dataset '{dataset.name}'")
    budget = float(spec.budget_seconds)
    if not config.MIN_BUDGET_SECONDS <= budget <= config.MAX_BUDGET_SECONDS:
        raise InputError(f"the time budget must be between {config.MIN_BUDGET_SECONDS} and "
                         f"{config.MAX_BUDGET_SECONDS} seconds, not {budget:g}")


def _job_name(name: str | None, spec: TrainSpec) -> str:
    text = (name or "").strip() or f"{spec.target} ({spec.task})"[:MAX_JOB_NAME]
    if len(text) > MAX_JOB_NAME:
        raise InputError(f"a job name is limited to {MAX_JOB_NAME} characters (this one has {len(text)})")
    return text


def _tags(tags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        tags = tags.split(",")
    clean: list[str] = []
    for tag in tags:
        text = str(tag).strip()
        if not text or text in clean:
            continue
        if len(text) > MAX_TAG_CHARS:
            raise InputError(f"a tag is limited to {MAX_TAG_CHARS} characters: '{text[:MAX_TAG_CHARS]}…'")
        clean.append(text)
    if len(clean) > MAX_TAGS:
        raise InputError(f"a job has at most {MAX_TAGS} tags (got {len(clean)})")
    return tuple(clean)


def _check_deployable(record: JobRecord) -> None:
    """Raise the reason a job cannot be deployed, in the user's words; nothing when it can."""
    if record.status == FAILED:
        raise InputError(f"job '{record.name}' failed, so there is no model to deploy: {record.error}")
    if record.status == CANCELLED:
        raise InputError(f"job '{record.name}' was cancelled, so there is no model to deploy")
    if record.status != DONE:
        raise InputError(f"job '{record.name}' is {record.status}; deploy it once it is done")
    if not record.exportable:
        reason = record.export_reason or "the export did not pass its parity check"
        raise InputError(f"job '{record.name}' cannot be deployed: its exported model does not reproduce the "
                         f"trained one ({reason})")


def _metrics(model: TrainedModel) -> dict[str, Any]:
    return {"metric": model.metric, "algorithm": model.algorithm, "trials": model.trials,
            "test": dict(model.test_scores), "parity": dict(model.parity), "fingerprint": model.fingerprint,
            "versions": dict(model.versions), "training_notes": list(model.notes)}


def _job(row: Mapping[str, Any]) -> JobRecord:
    return JobRecord(
        job_id=str(row["job_id"]), dataset_id=str(row["dataset_id"]), name=str(row["name"]),
        target=str(row["target"]), task=str(row["task"]), budget_seconds=float(row["budget_seconds"]),
        seed=int(row["seed"]), spec=dict(row["spec"] or {}), status=str(row["status"]), error=row["error"],
        progress=dict(row["progress"] or {}), leaderboard=row["leaderboard"], metrics=row["metrics"],
        ledger=row["ledger"], tags=tuple(row["tags"] or ()), notes=row["notes"], deployed=bool(row["deployed"]),
        exportable=bool(row["exportable"]), export_reason=row["export_reason"], worker=row["worker"],
        heartbeat_at=row["heartbeat_at"], created_at=row["created_at"], started_at=row["started_at"],
        finished_at=row["finished_at"])


def _job_row(job: JobRecord, dataset_name: str) -> dict[str, Any]:
    progress = job.progress
    return {
        "job_id": job.job_id, "name": job.name, "dataset_id": job.dataset_id, "dataset": dataset_name,
        "target": job.target, "task": job.task, "status": job.status, "phase": progress.get("phase"),
        "trials": progress.get("trials"), "best_score": progress.get("best_score"), "metric": progress.get("metric"),
        "budget_seconds": job.budget_seconds, "elapsed_seconds": _elapsed(job), "created_at": job.created_at,
        "started_at": job.started_at, "finished_at": job.finished_at, "deployed": job.deployed,
        "exportable": job.exportable, "tags": list(job.tags), "error": job.error,
    }


def _elapsed(job: JobRecord) -> float | None:
    if job.started_at is None:
        return None
    end = job.finished_at or _now()
    return max((end - job.started_at).total_seconds(), 0.0)
