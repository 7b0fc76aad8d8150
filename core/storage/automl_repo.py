"""AutoML tables and their SQL (SQLAlchemy Core; SQLite and PostgreSQL).

``automl_datasets`` holds one row per distinct uploaded frame (its id is the data fingerprint, so the
same file uploaded twice is one row); the frame itself is a file in the model store. ``automl_jobs``
holds one row per training job and its whole life: queued -> running -> done | failed | cancelled.

State changes are conditional UPDATEs checked by their row count, so they are atomic on both
backends: two workers claiming one queued job, a cancel racing a finish, a stale-job sweep racing a
heartbeat each end with exactly one winner. Each function takes an Engine (it owns its transaction)
or a Connection (the caller does). Timestamps are UTC; SQLite returns them without their zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.storage.binds import Bind, reading, writing
from core.storage.schema import metadata

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
JOB_STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINISHED = (DONE, FAILED, CANCELLED)

datasets = Table(
    "automl_datasets",
    metadata,
    Column("dataset_id", String(64), primary_key=True),  # core.ml.fingerprint.data_fingerprint of the frame
    Column("name", String(200), nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("n_columns", Integer, nullable=False),
    Column("column_types", JSON, nullable=False),  # [[name, dtype], ...] in column order
    Column("file_format", String(16), nullable=False),  # how the frame is stored: "parquet"
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

jobs = Table(
    "automl_jobs",
    metadata,
    Column("job_id", String(80), primary_key=True),
    Column("dataset_id", String(64), ForeignKey("automl_datasets.dataset_id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("target", String(255), nullable=False),
    Column("task", String(20), nullable=False),
    Column("budget_seconds", Float, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("spec", JSON, nullable=False),  # the TrainSpec as a dict
    Column("status", String(12), nullable=False),
    Column("error", Text),
    Column("progress", JSON, nullable=False),  # phase, trials, best_score, metric, elapsed, remaining
    Column("leaderboard", JSON),  # list of row dicts
    Column("metrics", JSON),
    Column("ledger", JSON),  # seconds per phase
    Column("tags", JSON, nullable=False),  # list of strings
    Column("notes", Text),
    Column("deployed", Boolean, nullable=False, default=False),
    Column("exportable", Boolean, nullable=False, default=False),
    Column("export_reason", Text),
    Column("worker", String(120)),  # who claimed the job
    Column("heartbeat_at", DateTime(timezone=True)),  # renewed by the process running it
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_automl_jobs_status_created", "status", "created_at"),
)

_TIMES = ("created_at", "heartbeat_at", "started_at", "finished_at")


def _row(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    row = {str(k): v for k, v in mapping.items()}
    for key in _TIMES:
        stamp = row.get(key)
        if isinstance(stamp, datetime) and stamp.tzinfo is None:
            row[key] = stamp.replace(tzinfo=UTC)
    return row


def _count(result: Any) -> int:
    return max(int(result.rowcount or 0), 0)


# --- datasets --------------------------------------------------------------------------------------

def insert_dataset(bind: Bind, row: Mapping[str, Any]) -> bool:
    """Add a dataset row unless its id exists; True when this call added it."""
    with writing(bind) as conn:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(datasets)
        result = conn.execute(insert.values(**row).on_conflict_do_nothing(index_elements=["dataset_id"]))
        return _count(result) == 1


def get_dataset(bind: Bind, dataset_id: str) -> dict[str, Any] | None:
    with reading(bind) as conn:
        found = conn.execute(select(datasets).where(datasets.c.dataset_id == dataset_id)).mappings().first()
    return _row(found) if found is not None else None


def list_datasets(bind: Bind) -> list[dict[str, Any]]:
    """Every dataset, newest first."""
    query = select(datasets).order_by(datasets.c.created_at.desc(), datasets.c.dataset_id)
    with reading(bind) as conn:
        return [_row(found) for found in conn.execute(query).mappings()]


# --- jobs: rows --------------------------------------------------------------------------------------

def insert_job(bind: Bind, row: Mapping[str, Any]) -> None:
    with writing(bind) as conn:
        conn.execute(jobs.insert().values(**row))


def get_job(bind: Bind, job_id: str) -> dict[str, Any] | None:
    with reading(bind) as conn:
        found = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).mappings().first()
    return _row(found) if found is not None else None


def list_jobs(bind: Bind, *, status: str | None = None, deployed: bool | None = None) -> list[dict[str, Any]]:
    """Jobs, newest first; optionally only one status or only (un)deployed ones."""
    query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.job_id.desc())
    if status is not None:
        query = query.where(jobs.c.status == status)
    if deployed is not None:
        query = query.where(jobs.c.deployed.is_(deployed))
    with reading(bind) as conn:
        return [_row(found) for found in conn.execute(query).mappings()]


def update_job(bind: Bind, job_id: str, values: Mapping[str, Any]) -> int:
    """Set columns of one job whatever its status (tags, notes); rows changed."""
    with writing(bind) as conn:
        return _count(conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(**values)))


def delete_job(bind: Bind, job_id: str) -> int:
    """Remove a job's row unless it is running (checked in the same statement); rows removed."""
    with writing(bind) as conn:
        return _count(conn.execute(delete(jobs).where(jobs.c.job_id == job_id, jobs.c.status != RUNNING)))


# --- jobs: state changes, each one conditional UPDATE --------------------------------------------------

def claim_job(bind: Bind, job_id: str, worker: str, now: datetime) -> bool:
    """queued -> running for ``worker``. True for exactly one of any number of concurrent claimers:
    the loser's UPDATE finds status no longer 'queued' (PostgreSQL re-checks the WHERE after the
    winner commits; SQLite has one writer at a time)."""
    with writing(bind) as conn:
        result = conn.execute(
            update(jobs).where(jobs.c.job_id == job_id, jobs.c.status == QUEUED)
            .values(status=RUNNING, worker=worker, heartbeat_at=now, started_at=now))
        return _count(result) == 1


def queued_job_ids(bind: Bind, limit: int = 10) -> list[str]:
    """The oldest queued jobs, oldest first."""
    query = (select(jobs.c.job_id).where(jobs.c.status == QUEUED)
             .order_by(jobs.c.created_at, jobs.c.job_id).limit(limit))
    with reading(bind) as conn:
        found: list[Any] = list(conn.execute(query).scalars())
    return [str(job_id) for job_id in found]


def claim_next(bind: Bind, worker: str, now: datetime) -> str | None:
    """Claim the oldest queued job still queued; None when there is none. Each candidate is claimed
    atomically, so a job another worker took meanwhile is skipped, never run twice."""
    for job_id in queued_job_ids(bind):
        if claim_job(bind, job_id, worker, now):
            return job_id
    return None


def update_running(bind: Bind, job_id: str, values: Mapping[str, Any]) -> bool:
    """Set columns of a job only while it is running (progress, heartbeat); False once it is not
    (cancelled, marked stale, deleted), which tells the process running it to stop."""
    with writing(bind) as conn:
        result = conn.execute(update(jobs).where(jobs.c.job_id == job_id, jobs.c.status == RUNNING).values(**values))
        return _count(result) == 1


def finish_job(bind: Bind, job_id: str, status: str, values: Mapping[str, Any]) -> bool:
    """running -> done | failed with its results; False if the job is no longer running (a cancel or
    a stale-job sweep won), so a late result never overwrites the user's decision."""
    if status not in (DONE, FAILED):
        raise ValueError(f"a running job finishes as done or failed, not {status}")
    return update_running(bind, job_id, {**values, "status": status})


def cancel_job(bind: Bind, job_id: str, now: datetime, message: str) -> bool:
    """queued | running -> cancelled; False when it had already finished (or does not exist)."""
    with writing(bind) as conn:
        result = conn.execute(
            update(jobs).where(jobs.c.job_id == job_id, jobs.c.status.in_((QUEUED, RUNNING)))
            .values(status=CANCELLED, error=message, finished_at=now))
        return _count(result) == 1


def fail_stale(bind: Bind, cutoff: datetime, now: datetime, message: str) -> list[str]:
    """Mark failed every running job whose heartbeat is older than ``cutoff`` (its process is gone);
    the ids marked. A heartbeat landing meanwhile wins: the UPDATE re-checks the cutoff."""
    stale = or_(jobs.c.heartbeat_at.is_(None), jobs.c.heartbeat_at < cutoff)
    with reading(bind) as conn:
        found: list[Any] = list(conn.execute(select(jobs.c.job_id).where(jobs.c.status == RUNNING, stale)).scalars())
    candidates = [str(job_id) for job_id in found]
    marked = []
    for job_id in candidates:
        with writing(bind) as conn:
            result = conn.execute(update(jobs).where(jobs.c.job_id == job_id, jobs.c.status == RUNNING, stale)
                                  .values(status=FAILED, error=message, finished_at=now))
            if _count(result) == 1:
                marked.append(job_id)
    return marked


def set_deployed(bind: Bind, job_id: str, deployed: bool) -> bool:
    """Deploy (only a done job whose export passed its parity check, checked in the same statement)
    or undeploy one job; False when the condition does not hold."""
    query = update(jobs).where(jobs.c.job_id == job_id)
    if deployed:
        query = query.where(jobs.c.status == DONE, jobs.c.exportable.is_(True))
    with writing(bind) as conn:
        return _count(conn.execute(query.values(deployed=deployed))) == 1
