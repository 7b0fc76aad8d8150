"""The background worker: queued jobs run in a child process (real runners from ``test_jobs``, imported
by the child), end done or failed, can be cancelled, and a job whose process died is marked interrupted."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.automl import config
from core.automl.artifact import TrainedModel, TrainSpec
from core.automl.jobs import CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, JobRegistry
from core.automl.worker import LOG_FILE, Worker, running_workers
from core.errors import InputError
from core.storage import automl_repo, create_db_engine
from tests.automl.test_jobs import export_by_roundtrip, fit_logistic, slow_logistic, spec
from tests.automl.trained_models import tiny_frame

# --- runners the child process imports -------------------------------------------------------------------


def fail_runner(frame: pd.DataFrame, spec: TrainSpec, progress: Any, started: float) -> TrainedModel:
    progress(phase="search")
    raise InputError(f"the target '{spec.target}' has a single class")


def crash_runner(frame: pd.DataFrame, spec: TrainSpec, progress: Any, started: float) -> TrainedModel:
    os._exit(7)  # as a segfault or the out-of-memory killer would end it: no chance to report


def endless_runner(frame: pd.DataFrame, spec: TrainSpec, progress: Any, started: float) -> TrainedModel:
    for trial in range(600):
        progress(phase="search", trials=trial)
        time.sleep(0.1)
    raise AssertionError("a cancelled job should have been stopped long before")


# --- helpers -----------------------------------------------------------------------------------------------

def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def registry(sqlite_url: str, tmp_path: Path) -> JobRegistry:
    return JobRegistry(create_db_engine(sqlite_url), tmp_path / "models")


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    """Starts workers with fast polling; stops them (and their children) after the test."""
    started: list[Worker] = []

    def start(registry: JobRegistry, runner: Callable[..., TrainedModel], **options: Any) -> Worker:
        # Stale after 4 s: shorter than a child's start-up, which the worker's own heartbeat covers.
        options = {"poll_seconds": 0.2, "heartbeat_seconds": 1.0, "stale_seconds": 4.0, **options}
        worker = Worker(registry, runner=runner, exporter=export_by_roundtrip, **options).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(terminate=True)
    assert not running_workers()


def submit(registry: JobRegistry, name: str) -> str:
    dataset = registry.store_dataset(tiny_frame(task=config.CLASSIFICATION), "tiny.csv")
    return registry.submit(dataset.dataset_id, spec(), name)


def status_of(registry: JobRegistry, job_id: str) -> str:
    return registry.get(job_id).status


# --- tests -----------------------------------------------------------------------------------------------------

def test_a_queued_job_runs_in_a_background_process_and_ends_done(db_url: str, tmp_path: Path,
                                                                 workers: Callable[..., Worker]) -> None:
    registry = JobRegistry(create_db_engine(db_url), tmp_path / "models")
    job_id = submit(registry, "background")
    worker = workers(registry, slow_logistic)
    seen: list[dict[str, Any]] = []

    def running_with_progress() -> bool:
        record = registry.get(job_id)
        if record.status == RUNNING and record.progress.get("phase") == "search":
            seen.append(record.progress)
        return len(seen) >= 2 or record.status != RUNNING and record.status != QUEUED

    assert wait_for(running_with_progress)
    child = worker.status()
    assert child.job_id == job_id and child.pid is not None and child.pid != os.getpid()
    assert registry.get(job_id).worker == worker.worker_id
    assert seen and {"trials", "elapsed", "remaining", "metric"} <= set(seen[-1])

    assert wait_for(lambda: registry.get(job_id).finished)
    record = registry.get(job_id)
    assert (record.status, record.error) == (DONE, None)
    assert record.exportable and record.progress["phase"] == DONE and record.progress["trials"] == 1
    assert registry.load_model(job_id).algorithm == "logistic"
    assert "ended done" in (registry.job_dir(job_id) / LOG_FILE).read_text()
    assert wait_for(lambda: worker.status().job_id is None, 10) and not pid_alive(child.pid)


def test_a_failing_runner_ends_the_job_failed_with_its_error(registry: JobRegistry,
                                                             workers: Callable[..., Worker]) -> None:
    job_id = submit(registry, "doomed")
    workers(registry, fail_runner)
    assert wait_for(lambda: registry.get(job_id).finished)
    assert (registry.get(job_id).status, registry.get(job_id).error) == (FAILED, "the target 'y' has a single class")


def test_a_crashed_job_process_fails_its_job(registry: JobRegistry, workers: Callable[..., Worker]) -> None:
    job_id = submit(registry, "crash")
    workers(registry, crash_runner)
    assert wait_for(lambda: registry.get(job_id).finished)
    assert status_of(registry, job_id) == FAILED
    assert "the job process ended unexpectedly (exit code 7)" in (registry.get(job_id).error or "")


def test_a_stale_running_job_is_marked_interrupted_on_start(registry: JobRegistry,
                                                            workers: Callable[..., Worker]) -> None:
    dead, alive = submit(registry, "dead"), submit(registry, "alive")
    assert registry.mark_running(dead, "host:123:gone") and registry.mark_running(alive, "host:456:busy")
    # The dead worker's last heartbeat was ten minutes ago; the live one's is fresh.
    automl_repo.update_running(registry.engine, dead, {"heartbeat_at": datetime.now(UTC) - timedelta(minutes=10)})
    workers(registry, fit_logistic, stale_seconds=60.0)
    record = registry.get(dead)
    assert (record.status, record.error) == (FAILED, INTERRUPTED)
    assert status_of(registry, alive) == RUNNING


def test_two_queued_jobs_both_finish_in_order(registry: JobRegistry, workers: Callable[..., Worker]) -> None:
    first, second = submit(registry, "first"), submit(registry, "second")
    worker = workers(registry, fit_logistic)
    assert wait_for(lambda: registry.get(second).finished, 120)
    one, two = registry.get(first), registry.get(second)
    assert (one.status, one.error, two.status, two.error) == (DONE, None, DONE, None)
    assert one.finished_at is not None and two.started_at is not None and one.finished_at <= two.started_at
    assert worker.status().jobs_started == 2


def test_cancelling_a_running_job_stops_its_process(registry: JobRegistry, workers: Callable[..., Worker]) -> None:
    job_id = submit(registry, "endless")
    worker = workers(registry, endless_runner)
    assert wait_for(lambda: registry.get(job_id).progress.get("phase") == "search" or registry.get(job_id).finished)
    assert status_of(registry, job_id) == RUNNING
    pid = worker.status().pid
    assert pid is not None
    registry.cancel(job_id)
    assert wait_for(lambda: not pid_alive(pid), 15)
    assert status_of(registry, job_id) == CANCELLED
    registry.delete(job_id)
    assert not registry.job_dir(job_id).exists()
