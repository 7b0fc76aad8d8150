"""The AutoML job registry on SQLite and a real PostgreSQL: datasets stored once, jobs queued and
claimed atomically, deploy rules, tags and notes, delete, and state that survives an app restart.

The runner and exporter here are real (a logistic regression fitted on a small frame, a joblib round
trip checked for identical predictions); ``test_worker`` runs them in the worker's child process too."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from core.automl import config, features
from core.automl.artifact import MODEL_FILE, TrainedModel, TrainSpec
from core.automl.jobs import CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, JobRegistry
from core.automl.worker import ProgressWriter, run_job
from core.errors import InputError
from core.storage import create_db_engine
from tests.automl.trained_models import ROLES, pipeline_for, tiny_frame, trained_model

# --- a real runner and exporter (module level: the worker's child process imports them) ---------------

@dataclass(frozen=True)
class ParityResult:
    exportable: bool
    reason: str


def fit_logistic(frame: pd.DataFrame, spec: TrainSpec, progress: Any, started: float) -> TrainedModel:
    """A one-candidate 'search': a logistic regression, scored on the last 20 % of rows."""
    progress(phase="search", trials=0, metric="log_loss")
    model = trained_model(frame, spec.task, lambda schema: pipeline_for(schema, "linear", LogisticRegression()),
                          algorithm="logistic")
    progress({"trials": 1, "best_score": model.test_scores["accuracy"]})
    return model


def slow_logistic(frame: pd.DataFrame, spec: TrainSpec, progress: Any, started: float) -> TrainedModel:
    """The same, after ~2 s of progress reports (so a test sees the job running)."""
    for trial in range(8):
        progress(phase="search", trials=trial, metric="log_loss")
        time.sleep(0.25)
    return fit_logistic(frame, spec, progress, started)


def export_by_roundtrip(model: TrainedModel, directory: Path) -> ParityResult:
    """Write the pipeline, read it back and require identical predictions on the kept test rows."""
    path = directory / "pipeline.joblib"
    joblib.dump(model.pipeline, path)
    inputs = features.model_frame(model.test_inputs, model.schema)
    expected = model.pipeline.predict_proba(inputs)
    got = joblib.load(path).predict_proba(inputs)
    diff = float(np.max(np.abs(expected - got)))
    model.exportable = diff == 0.0
    model.parity = {"ok": model.exportable, "max_abs_diff": diff, "rows": len(inputs)}
    return ParityResult(model.exportable, "" if model.exportable else f"predictions differ by {diff:g}")


def export_refused(model: TrainedModel, directory: Path) -> ParityResult:
    """An export that cannot reproduce the model (as ONNX refuses a learner it has no converter for)."""
    model.parity = {"ok": False, "reason": "no converter"}
    return ParityResult(False, "no ONNX converter for this learner")


# --- fixtures ------------------------------------------------------------------------------------------

def spec(budget: float = 30.0) -> TrainSpec:
    return TrainSpec(target="y", task=config.CLASSIFICATION, roles=dict(ROLES), budget_seconds=budget,
                     time_col="seen_at")


@pytest.fixture
def registry(db_url: str, tmp_path: Path) -> JobRegistry:
    return JobRegistry(create_db_engine(db_url), tmp_path / "models")


@pytest.fixture
def frame() -> pd.DataFrame:
    return tiny_frame(task=config.CLASSIFICATION)


def done_job(registry: JobRegistry, frame: pd.DataFrame, exporter: Any = export_by_roundtrip) -> str:
    dataset = registry.store_dataset(frame, "tiny.csv")
    job_id = registry.submit(dataset.dataset_id, spec(), "tiny")
    assert run_job(job_id, registry, fit_logistic, exporter) == DONE
    return job_id


# --- datasets ---------------------------------------------------------------------------------------------

def test_the_same_upload_twice_is_one_dataset_and_one_file(registry: JobRegistry, frame: pd.DataFrame) -> None:
    first = registry.store_dataset(frame, "tiny.csv")
    again = registry.store_dataset(frame.copy(), "tiny (1).csv")
    assert again == first
    assert [d.dataset_id for d in registry.list_datasets()] == [first.dataset_id]
    assert len(list(registry.datasets_dir.iterdir())) == 1
    assert (first.n_rows, first.n_columns, first.columns) == (240, 5, list(frame.columns))
    other = registry.store_dataset(frame.iloc[:100], "head.csv")
    assert other.dataset_id != first.dataset_id and len(registry.list_datasets()) == 2


def test_a_stored_dataset_loads_with_its_dtypes(registry: JobRegistry) -> None:
    frame = pd.DataFrame({
        "text": pd.Series(["a", None, "c"], dtype="str"),
        "count": pd.array([1, None, 3], dtype="Int64"),
        "flag": [True, False, True],
        "seen": pd.to_datetime(["2024-01-01T00:00+02:00", "2024-01-02T00:00+02:00", None]),
        "mixed": pd.Series([1, "b", 2.5], dtype=object),  # parquet cannot hold this: stored as text
    })
    record = registry.store_dataset(frame, "types.csv")
    loaded = registry.load_dataset(record.dataset_id)
    pd.testing.assert_frame_equal(loaded.drop(columns="mixed"), frame.drop(columns="mixed"))
    assert loaded["mixed"].tolist() == ["1", "b", "2.5"]


def test_an_empty_upload_and_an_unknown_dataset_are_refused(registry: JobRegistry, frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="no data rows"):
        registry.store_dataset(frame.iloc[:0], "empty.csv")
    with pytest.raises(InputError, match="is not stored"):
        registry.load_dataset("0123456789abcdef")
    with pytest.raises(InputError, match="not a valid dataset id"):
        registry.load_dataset("../../etc/passwd")


# --- submit, list, claim -------------------------------------------------------------------------------------

def test_submit_queues_a_job_listed_newest_first(registry: JobRegistry, frame: pd.DataFrame) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    first = registry.submit(dataset.dataset_id, spec(), "first")
    second = registry.submit(dataset.dataset_id, spec(), "")
    record = registry.get(first)
    assert (record.status, record.name, record.target, record.task) == (QUEUED, "first", "y", config.CLASSIFICATION)
    assert record.train_spec == spec()
    assert registry.get(second).name == "y (classification)"
    table = registry.list_jobs()
    assert table["job_id"].tolist() == [second, first]
    assert table["status"].tolist() == [QUEUED, QUEUED] and table["dataset"].tolist() == ["tiny.csv"] * 2


@pytest.mark.parametrize(("change", "message"), [
    ({"target": "nope"}, "target 'nope' is not a column"),
    ({"task": "ranking"}, "task must be one of"),
    ({"budget_seconds": 1.0}, "time budget must be between"),
    ({"roles": {"ghost": config.FEATURE}}, "lacks: ghost"),
    ({"time_col": "when"}, "time column 'when'"),
])
def test_submit_checks_the_spec_against_the_dataset(registry: JobRegistry, frame: pd.DataFrame,
                                                   change: dict[str, Any], message: str) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    with pytest.raises(InputError, match=message):
        registry.submit(dataset.dataset_id, replace(spec(), **change), "bad")
    assert registry.list_jobs().empty


def test_the_oldest_queued_job_is_claimed_once(registry: JobRegistry, frame: pd.DataFrame) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    first, second = (registry.submit(dataset.dataset_id, spec(), name) for name in ("a", "b"))
    assert registry.claim_next("worker-1") == first
    assert registry.claim_next("worker-2") == second
    assert registry.claim_next("worker-3") is None
    claimed = registry.get(first)
    assert (claimed.status, claimed.worker) == (RUNNING, "worker-1")
    assert claimed.started_at is not None and claimed.heartbeat_at is not None


def test_two_concurrent_claimers_one_wins(db_url: str, tmp_path: Path, frame: pd.DataFrame) -> None:
    # Separate engines (as two app processes have), released together by a barrier, many rounds.
    registries = [JobRegistry(create_db_engine(db_url), tmp_path / "models") for _ in range(2)]
    dataset = registries[0].store_dataset(frame, "tiny.csv")
    job_ids = [registries[0].submit(dataset.dataset_id, spec(), f"job {i}") for i in range(6)]
    for job_id in job_ids:
        barrier, wins = threading.Barrier(2), []

        def claim(registry: JobRegistry, worker: str, job_id: str = job_id, barrier: threading.Barrier = barrier,
                  wins: list[str] = wins) -> None:
            barrier.wait()
            if registry.mark_running(job_id, worker):
                wins.append(worker)

        threads = [threading.Thread(target=claim, args=(r, f"w{i}")) for i, r in enumerate(registries)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(wins) == 1, f"{job_id}: {wins}"
        assert registries[1].get(job_id).worker == wins[0]


def test_claim_next_from_four_workers_runs_every_job_once(db_url: str, tmp_path: Path, frame: pd.DataFrame) -> None:
    registries = [JobRegistry(create_db_engine(db_url), tmp_path / "models") for _ in range(4)]
    dataset = registries[0].store_dataset(frame, "tiny.csv")
    job_ids = {registries[0].submit(dataset.dataset_id, spec(), f"job {i}") for i in range(8)}
    claimed: list[str] = []
    barrier = threading.Barrier(4)

    def drain(registry: JobRegistry, worker: str) -> None:
        barrier.wait()
        while (job_id := registry.claim_next(worker)) is not None:
            claimed.append(job_id)

    threads = [threading.Thread(target=drain, args=(r, f"w{i}")) for i, r in enumerate(registries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == sorted(job_ids)


# --- running, done, failed -----------------------------------------------------------------------------------

def test_run_job_records_results_and_saves_the_model(registry: JobRegistry, frame: pd.DataFrame) -> None:
    job_id = done_job(registry, frame)
    record = registry.get(job_id)
    assert record.status == DONE and record.exportable and record.export_reason is None
    assert record.metrics is not None and record.metrics["algorithm"] == "logistic"
    assert 0.5 < record.metrics["test"]["accuracy"] <= 1.0
    assert record.leaderboard_frame()["model"].tolist() == ["logistic"]
    assert record.progress["phase"] == DONE and record.progress["trials"] == 1
    assert record.ledger is not None and "export" in record.ledger
    model = registry.load_model(job_id)
    assert model.exportable and model.parity["max_abs_diff"] == 0.0
    assert (registry.job_dir(job_id) / "pipeline.joblib").is_file()


def test_a_failing_runner_fails_the_job_with_its_message(registry: JobRegistry, frame: pd.DataFrame) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    job_id = registry.submit(dataset.dataset_id, spec(), "doomed")

    def runner(*_: Any) -> TrainedModel:
        raise InputError("the target has a single class")

    assert run_job(job_id, registry, runner, export_by_roundtrip) == FAILED
    record = registry.get(job_id)
    assert (record.status, record.error, record.progress["phase"]) == (FAILED, "the target has a single class", FAILED)
    with pytest.raises(InputError, match="has no model: it is failed"):
        registry.load_model(job_id)


def test_progress_reaches_the_database_at_most_once_a_second(registry: JobRegistry, frame: pd.DataFrame) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    job_id = registry.submit(dataset.dataset_id, spec(budget=60), "progress")
    assert registry.mark_running(job_id, "me")
    now = [100.0]
    writer = ProgressWriter(registry, job_id, budget_seconds=60, started=90.0, clock=lambda: now[0])
    writer(phase="search", trials=1)
    for trial in range(2, 30):  # a burst within the same second: held back
        writer(trials=trial)
    assert registry.get(job_id).progress["trials"] == 1 and writer.writes == 1
    now[0] = 101.5
    writer.flush()  # the heartbeat thread's tick writes the latest state
    stored = registry.get(job_id).progress
    assert (stored["phase"], stored["trials"], stored["elapsed"], stored["remaining"]) == ("search", 29, 11.5, 48.5)
    assert writer.writes == 2


def test_a_cancelled_job_keeps_its_status_when_the_runner_finishes(registry: JobRegistry,
                                                                   frame: pd.DataFrame) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    job_id = registry.submit(dataset.dataset_id, spec(), "cancel me")

    def cancelled_midway(frame: pd.DataFrame, spec: TrainSpec, progress: Any, started: float) -> TrainedModel:
        registry.cancel(job_id)
        return fit_logistic(frame, spec, lambda *a, **k: None, started)  # a runner that never reports

    assert run_job(job_id, registry, cancelled_midway, export_by_roundtrip) == CANCELLED
    assert not (registry.job_dir(job_id) / MODEL_FILE).exists()
    with pytest.raises(InputError, match="already finished"):
        registry.cancel(job_id)


# --- deploy, tags, notes, delete -------------------------------------------------------------------------------

def test_deploy_is_refused_until_a_job_is_done_and_exportable(registry: JobRegistry, frame: pd.DataFrame) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    queued = registry.submit(dataset.dataset_id, spec(), "queued")
    with pytest.raises(InputError, match="is queued; deploy it once it is done"):
        registry.deploy(queued)
    refused = done_job(registry, frame, export_refused)
    assert registry.get(refused).export_reason == "no ONNX converter for this learner"
    with pytest.raises(InputError, match="cannot be deployed: .*no ONNX converter for this learner"):
        registry.deploy(refused)
    assert not registry.get(refused).deployed and registry.deployed_jobs() == []


def test_deploy_and_undeploy(registry: JobRegistry, frame: pd.DataFrame) -> None:
    job_id = done_job(registry, frame)
    registry.deploy(job_id)
    registry.deploy(job_id)  # idempotent
    assert registry.get(job_id).deployed
    assert [job.job_id for job in registry.deployed_jobs()] == [job_id]
    assert registry.list_jobs()["deployed"].tolist() == [True]
    registry.undeploy(job_id)
    assert not registry.get(job_id).deployed and registry.deployed_jobs() == []


def test_tags_and_notes(registry: JobRegistry, frame: pd.DataFrame) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    job_id = registry.submit(dataset.dataset_id, spec(), "tagged")
    assert registry.set_tags(job_id, [" churn ", "baseline", "churn", ""]) == ("churn", "baseline")
    registry.set_notes(job_id, "  first try, default budget  ")
    record = registry.get(job_id)
    assert (record.tags, record.notes) == (("churn", "baseline"), "first try, default budget")
    assert registry.list_jobs()["tags"].tolist() == [["churn", "baseline"]]
    with pytest.raises(InputError, match="tag is limited"):
        registry.set_tags(job_id, ["x" * 100])
    with pytest.raises(InputError, match="does not exist"):
        registry.set_notes("job-20240101-000000-0000000000", "orphan")


def test_delete_removes_the_row_and_the_files(registry: JobRegistry, frame: pd.DataFrame) -> None:
    job_id = done_job(registry, frame)
    directory = registry.job_dir(job_id)
    assert (directory / MODEL_FILE).is_file()
    registry.delete(job_id)
    assert not directory.exists() and not any(registry.jobs_dir.iterdir())
    with pytest.raises(InputError, match="does not exist"):
        registry.get(job_id)
    assert registry.list_datasets()  # the dataset stays for the next job


def test_a_running_job_is_deleted_only_after_a_cancel(registry: JobRegistry, frame: pd.DataFrame) -> None:
    dataset = registry.store_dataset(frame, "tiny.csv")
    job_id = registry.submit(dataset.dataset_id, spec(), "busy")
    assert registry.mark_running(job_id, "worker-1")
    with pytest.raises(InputError, match="is running; cancel it before deleting it"):
        registry.delete(job_id)
    registry.cancel(job_id)
    assert registry.get(job_id).status == CANCELLED
    assert not registry.heartbeat(job_id)  # the worker running it learns it must stop
    registry.delete(job_id)
    assert registry.list_jobs().empty


def test_ids_never_become_paths(registry: JobRegistry) -> None:
    for bad in ("../x", "job-../../etc", "JOB-1", "job-a/b", ""):
        with pytest.raises(InputError, match="not a valid job id"):
            registry.job_dir(bad)


# --- restart -------------------------------------------------------------------------------------------------

def test_jobs_and_their_status_survive_an_app_restart(db_url: str, tmp_path: Path, frame: pd.DataFrame) -> None:
    before = JobRegistry(create_db_engine(db_url), tmp_path / "models")
    done = done_job(before, frame)
    before.deploy(done)
    before.set_tags(done, ["prod"])
    queued = before.submit(before.list_datasets()[0].dataset_id, spec(), "later")
    running = before.submit(before.list_datasets()[0].dataset_id, spec(), "was running")
    assert before.mark_running(running, "a-worker-that-dies")
    before.engine.dispose()

    after = JobRegistry(create_db_engine(db_url), tmp_path / "models")  # a new process, same database and store
    assert {j.job_id: j.status for j in after.jobs()} == {done: DONE, queued: QUEUED, running: RUNNING}
    assert after.get(done).deployed and after.get(done).tags == ("prod",)
    assert after.load_model(done).algorithm == "logistic"
    assert after.fail_stale(stale_seconds=0.0) == [running]
    assert (after.get(running).status, after.get(running).error) == (FAILED, INTERRUPTED)
    assert after.fail_stale(stale_seconds=0.0) == []


def test_a_frame_read_by_the_csv_reader_is_stored(sqlite_url: str, tmp_path: Path) -> None:
    # The reader keeps its notes in frame.attrs; they must not reach the Parquet file.
    from core.io import read_csv

    frame = read_csv(b"a,b\n1,x\n2,y\n3,z\n", name="upload.csv")
    assert frame.attrs
    registry = JobRegistry(create_db_engine(sqlite_url), tmp_path / "models")
    record = registry.store_dataset(frame, "upload.csv")
    assert registry.load_dataset(record.dataset_id)["b"].tolist() == ["x", "y", "z"]
