"""The background worker that runs queued AutoML jobs, one at a time, each in its own process.

- ``Worker`` is a daemon thread (one per app process, created by a cached factory in the UI layer,
  never at import) that sweeps stale jobs, claims the oldest queued job atomically in the database
  and starts ``python -m core.automl.worker --job <id>`` in a new session. The child outlives a
  Streamlit rerun, a browser refresh and even the app process; the page only reads the database.
- The child (``run_job``) loads the dataset, calls the runner (search and training), exports, saves
  the model and marks the job done or failed. A heartbeat thread in the child renews the job's
  ``heartbeat_at`` and writes progress at most once a second; the worker renews it too while it sees
  the child alive (covering the child's start-up). When the row stops being 'running' (the user
  cancelled, a sweep declared it dead, it was deleted) the child ends its process group.
- A job whose heartbeat is older than ``stale_seconds`` has no live process behind it (the machine
  or container restarted): any worker marks it failed ("interrupted: the app restarted").
- Across app processes sharing one database the atomic claim gives each job to one worker.
- The child gets one BLAS/OpenMP thread (``HEADROOM_AUTOML_THREADS`` or ``Worker(threads=...)``
  changes it), so a job does not oversubscribe the cores the app serves pages with.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import pandas as pd

from core.automl.artifact import TrainedModel, TrainSpec
from core.automl.jobs import DONE, FAILED, QUEUED, RUNNING, JobRegistry
from core.config import PROJECT_ROOT, get_settings
from core.errors import HeadroomError, InputError, StorageError
from core.storage import create_db_engine

log = logging.getLogger(__name__)

PROGRESS_MIN_SECONDS = 1.0  # progress reaches the database at most this often
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0  # a running job silent this long has no process behind it
POLL_SECONDS = 2.0
STOP_GRACE_SECONDS = 5.0  # SIGTERM, then SIGKILL after this long
LOG_FILE = "worker.log"
LOG_TAIL_LINES = 5
ENV_THREADS = "HEADROOM_AUTOML_THREADS"
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
              "NUMEXPR_NUM_THREADS")
DEFAULT_RUNNER = "core.automl.worker:default_runner"
DEFAULT_EXPORTER = "core.automl.worker:default_exporter"
THREAD_NAME = "headroom-automl-worker"
_INSTANCES: weakref.WeakSet[Worker] = weakref.WeakSet()

ProgressFn = Callable[..., None]
Runner = Callable[[pd.DataFrame, TrainSpec, ProgressFn, float], TrainedModel]


class ExportOutcome(Protocol):
    """What an exporter returns (``core.automl.export.ExportResult``)."""

    @property
    def exportable(self) -> bool: ...

    @property
    def reason(self) -> str | None: ...  # why not exportable


Exporter = Callable[[TrainedModel, Path], ExportOutcome]


class JobStopped(BaseException):
    """The job is no longer running (cancelled, declared dead, deleted). A BaseException, like
    asyncio's CancelledError, so a runner's ``except Exception`` around one trial cannot swallow it."""


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --- the default runner and exporter (imported lazily: heavy, and only the child needs them) ----------

def default_runner(frame: pd.DataFrame, spec: TrainSpec, progress: ProgressFn, started: float) -> TrainedModel:
    """Search and training under the spec's budget (``core.automl.training.train``)."""
    from core.automl.training import train

    return train(frame, spec, progress=progress, started=started)


def default_exporter(model: TrainedModel, directory: Path) -> ExportOutcome:
    """joblib + ONNX export and the parity check that sets ``model.exportable``."""
    from core.automl.export import export_model

    result: ExportOutcome = export_model(model, directory)
    return result


def callable_path(function: Callable[..., Any] | str) -> str:
    """``module:function`` of a module-level function, so another process can import it."""
    if isinstance(function, str):
        resolve(function)  # fail here, in the app, not later in the child
        return function
    module, name = getattr(function, "__module__", None), getattr(function, "__qualname__", "")
    if not module or module == "__main__" or "<" in name or "." in name:
        raise ValueError(f"{function!r} is not a module-level function another process can import")
    return f"{module}:{name}"


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    if not module or not name.isidentifier():
        raise ValueError(f"'{path}' is not of the form module:function")
    found = getattr(importlib.import_module(module), name, None)
    if not callable(found):
        raise ValueError(f"'{path}' is not a function")
    return found


# --- progress and heartbeat --------------------------------------------------------------------------

class ProgressWriter:
    """The ``progress`` callable a runner gets: ``progress({"phase": "search", "trials": 3})`` or
    ``progress(phase="search", trials=3)``. Updates merge into one state; the database sees it at most
    once a second (and a heartbeat when nothing changed), with elapsed and remaining seconds added.
    Raises ``JobStopped`` once the job is no longer running."""

    def __init__(self, registry: JobRegistry, job_id: str, *, budget_seconds: float, started: float,
                 min_seconds: float = PROGRESS_MIN_SECONDS, heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry, self.job_id = registry, job_id
        self.budget_seconds, self.started = float(budget_seconds), started
        self.min_seconds, self.heartbeat_seconds, self.clock = min_seconds, heartbeat_seconds, clock
        self.state: dict[str, Any] = {}
        self.stopped = False
        self.writes = 0
        self._dirty = False
        self._last_write = -math.inf
        self._lock = threading.Lock()

    def __call__(self, update: Mapping[str, Any] | Any = None, /, **fields: Any) -> None:
        if self.stopped:
            raise JobStopped(self.job_id)
        with self._lock:
            self.state.update({**_as_dict(update), **fields})
            self._dirty = True
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - progress is best effort: a busy database must not fail training
            log.warning("could not store the progress of job %s; will retry", self.job_id, exc_info=True)
        if self.stopped:
            raise JobStopped(self.job_id)

    def snapshot(self) -> dict[str, Any]:
        # Timing from the job's own start, at write time: it keeps moving through quiet phases.
        elapsed = max(self.clock() - self.started, 0.0)
        timing = {"elapsed": round(elapsed, 1), "remaining": round(max(self.budget_seconds - elapsed, 0.0), 1)}
        return {**self.state, **timing}

    def flush(self, *, force: bool = False) -> bool:
        """Write pending progress (or a heartbeat when due); False once the job is no longer running."""
        with self._lock:
            since = self.clock() - self._last_write
            if self._dirty and (force or since >= self.min_seconds):
                alive = self.registry.update_progress(self.job_id, self.snapshot())
            elif force or since >= self.heartbeat_seconds:
                alive = self.registry.heartbeat(self.job_id)
            else:
                return not self.stopped
            self._dirty, self._last_write = False, self.clock()
            self.writes += 1
            self.stopped = self.stopped or not alive
            return alive


def _as_dict(update: Any) -> dict[str, Any]:
    if update is None:
        return {}
    if isinstance(update, Mapping):
        return dict(update)
    if hasattr(update, "__dataclass_fields__"):
        return {name: getattr(update, name) for name in update.__dataclass_fields__}
    if hasattr(update, "__dict__"):
        return dict(vars(update))
    raise TypeError(f"progress takes a mapping or keyword arguments, not {type(update).__name__}")


class _Heartbeat:
    """Flushes progress and renews the heartbeat from a thread of its own, so a long quiet phase
    (a refit, an export) still shows the job alive; calls ``on_stopped`` once the job is not running."""

    def __init__(self, writer: ProgressWriter, on_stopped: Callable[[], None]) -> None:
        self.writer, self.on_stopped = writer, on_stopped
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"{THREAD_NAME}-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.writer.min_seconds):
            try:
                alive = self.writer.flush()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the job
                log.warning("heartbeat of job %s failed; retrying", self.writer.job_id, exc_info=True)
                continue
            if not alive:
                log.info("job %s is no longer running here; stopping it", self.writer.job_id)
                self.on_stopped()
                return


# --- one job ------------------------------------------------------------------------------------------------

def run_job(job_id: str, registry: JobRegistry, runner: Runner | None = None, exporter: Exporter | None = None, *,
            worker: str | None = None, on_stopped: Callable[[], None] | None = None,
            heartbeat_seconds: float = HEARTBEAT_SECONDS) -> str:
    """Run one job to its end and return its final status. A queued job is claimed first; a running
    one must have been claimed by ``worker``. Failures are recorded on the job, not raised."""
    started = time.monotonic()  # the budget counts from here: loading the data is part of the job
    worker = worker or new_worker_id()
    record = registry.get(job_id)
    if record.status == QUEUED and not registry.mark_running(job_id, worker):
        return registry.get(job_id).status  # another worker claimed it first
    if record.status not in (QUEUED, RUNNING):
        raise InputError(f"job '{record.name}' is {record.status}; only a queued job can run")
    if record.status == RUNNING and record.worker != worker:
        raise InputError(f"job '{record.name}' is already running in worker {record.worker}")
    writer = ProgressWriter(registry, job_id, budget_seconds=record.budget_seconds, started=started,
                            heartbeat_seconds=heartbeat_seconds)
    try:
        writer({"phase": "loading"})
        with _Heartbeat(writer, on_stopped or (lambda: None)):
            frame = registry.load_dataset(record.dataset_id)
            writer(phase="training")
            model = (runner or default_runner)(frame, record.train_spec, writer, started)
            if not isinstance(model, TrainedModel):
                raise TypeError(f"the runner returned {type(model).__name__}, not a TrainedModel")
            writer(phase="export")
            reason = _export(model, exporter or default_exporter, registry.job_dir(job_id))
            if registry.mark_done(job_id, model, export_reason=reason):
                return DONE
    except JobStopped:
        pass
    except Exception as exc:  # noqa: BLE001 - any failure of a job is recorded on the job
        log.exception("job %s failed", job_id)
        registry.mark_failed(job_id, failure_message(exc))
        return FAILED
    except BaseException:  # SIGTERM (as SystemExit) or Ctrl-C: the job did not finish
        registry.mark_failed(job_id, "interrupted: the worker process was stopped")
        raise
    return registry.get(job_id).status


def _export(model: TrainedModel, exporter: Exporter, directory: Path) -> str | None:
    """Export next to the model; the reason it is not deployable, or None. A failing export does
    not throw the trained model away: the job is done, just not deployable."""
    directory.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        result = exporter(model, directory)
        model.exportable = bool(result.exportable)
        reason = None if result.exportable else (result.reason or "the export did not pass its parity check")
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.exception("export failed")
        model.exportable = False
        reason = f"the export failed: {failure_message(exc)}"
    model.ledger.setdefault("export", round(time.monotonic() - began, 3))
    return reason


def failure_message(exc: BaseException) -> str:
    """What a user reads: our own errors' messages as written, anything else with its type."""
    if isinstance(exc, HeadroomError):
        return exc.message
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- the worker: a daemon thread in the app that starts one child process per job --------------------------

@dataclass(frozen=True)
class WorkerStatus:
    alive: bool
    worker_id: str
    job_id: str | None  # the job this worker's child is running
    pid: int | None  # the child's process id
    jobs_started: int
    last_error: str | None


class Worker:
    """Runs queued jobs in order, each in a child process, from a daemon thread that polls the queue."""

    def __init__(self, registry: JobRegistry, *, runner: Runner | str = DEFAULT_RUNNER,
                 exporter: Exporter | str = DEFAULT_EXPORTER, poll_seconds: float = POLL_SECONDS,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS, stale_seconds: float = STALE_SECONDS,
                 threads: int | None = None, worker_id: str | None = None) -> None:
        if registry.engine.url.get_backend_name() == "sqlite" and registry.engine.url.database in (None, "",
                                                                                                    ":memory:"):
            raise StorageError("the AutoML worker needs a database file or server its job processes can open")
        if stale_seconds < 3 * heartbeat_seconds:
            raise ValueError("stale_seconds must be at least three heartbeats, or live jobs look dead")
        self.registry = registry
        self.runner, self.exporter = callable_path(runner), callable_path(exporter)
        self.poll_seconds, self.heartbeat_seconds, self.stale_seconds = poll_seconds, heartbeat_seconds, stale_seconds
        self.threads = threads if threads is not None else _configured_threads()
        self.worker_id = worker_id or new_worker_id()
        self.jobs_started = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._child_job: str | None = None
        self._child_log: IO[bytes] | None = None
        self._last_beat = -math.inf
        self._lock = threading.RLock()
        _INSTANCES.add(self)

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> Worker:
        """Sweep stale jobs now (so the page sees them at once), then start polling."""
        self.registry.fail_stale(self.stale_seconds)
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0, *, terminate: bool = False) -> None:
        """Stop polling. A running child goes on to finish its job (it needs no parent) unless
        ``terminate``: then it is stopped and its job marked failed."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            if terminate and self._child is not None:
                job_id = self._child_job
                self._kill_child()
                if job_id is not None:
                    self.registry.mark_failed(job_id, "interrupted: the worker was stopped")
            self._close_log()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> WorkerStatus:
        # No lock: a page asking must not wait while the loop stops a child.
        child, job_id = self._child, self._child_job
        return WorkerStatus(self.alive, self.worker_id, job_id, child.pid if child is not None else None,
                            self.jobs_started, self.last_error)

    def run_forever(self) -> None:
        """Poll in the calling thread until ``stop`` (a dedicated worker process)."""
        self.registry.fail_stale(self.stale_seconds)
        self._loop()

    # --- the loop ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - one failed poll must not end the worker
                self.last_error = failure_message(exc)
                log.exception("AutoML worker poll failed; continuing")
            self._stop.wait(self.poll_seconds)

    def step(self) -> str | None:
        """One pass: sweep stale jobs, watch the child, or claim and start the next job (its id)."""
        with self._lock:
            self.registry.fail_stale(self.stale_seconds)
            if self._child is not None and not self._watch_child():
                return None
            job_id = self.registry.claim_next(self.worker_id)
            if job_id is not None:
                self._spawn(job_id)
            return job_id

    def _watch_child(self) -> bool:
        """True once the child has ended (and its job has a final status)."""
        assert self._child is not None and self._child_job is not None
        job_id, code = self._child_job, self._child.poll()
        if code is None:
            if self._still_running(job_id):
                return False
            self._kill_child()  # cancelled, declared dead or deleted: the child stops too
        elif self._job_status(job_id) == RUNNING:
            self.registry.mark_failed(job_id, f"the job process ended unexpectedly (exit code {code})"
                                              f"{_log_tail(self.registry.job_dir(job_id) / LOG_FILE)}")
        self._child, self._child_job = None, None
        self._close_log()
        return True

    def _still_running(self, job_id: str) -> bool:
        """Whether the child's job is still 'running'. The worker renews its heartbeat while the child
        process is alive: a child starting up (imports take seconds on a busy machine) has not started
        its own heartbeat yet and must not look dead to a stale-job sweep."""
        if time.monotonic() - self._last_beat >= self.heartbeat_seconds:
            self._last_beat = time.monotonic()
            return self.registry.heartbeat(job_id)
        return self._job_status(job_id) == RUNNING

    def _job_status(self, job_id: str) -> str | None:
        try:
            return self.registry.get(job_id).status
        except InputError:
            return None  # deleted

    def _spawn(self, job_id: str) -> None:
        directory = self.registry.job_dir(job_id)
        directory.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "core.automl.worker", "--job", job_id, "--worker", self.worker_id,
                   "--runner", self.runner, "--exporter", self.exporter, "--heartbeat", str(self.heartbeat_seconds)]
        self._child_log = open(directory / LOG_FILE, "ab")  # closed when the child ends
        try:
            # A new session: the child and its own subprocesses form one group, which a rerun, a
            # refresh or the app's own exit does not signal, and which can be stopped as a whole.
            self._child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self._child_env(), stdin=subprocess.DEVNULL,
                                           stdout=self._child_log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self._close_log()
            self.registry.mark_failed(job_id, f"the job process could not start: {exc}")
            return
        self._child_job = job_id
        self.jobs_started += 1
        log.info("AutoML job %s started in process %d", job_id, self._child.pid)

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DATABASE_URL"] = self.registry.engine.url.render_as_string(hide_password=False)
        env["HEADROOM_MODEL_DIR"] = str(self.registry.model_dir)
        for name in THREAD_ENV:
            env[name] = str(self.threads)
        return env

    def _kill_child(self) -> None:
        child = self._child
        if child is None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, STOP_GRACE_SECONDS)):
            if child.poll() is not None:
                break
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                break
            try:
                child.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        self._child, self._child_job = None, None

    def _close_log(self) -> None:
        if self._child_log is not None:
            self._child_log.close()
            self._child_log = None


def _configured_threads() -> int:
    value = os.environ.get(ENV_THREADS) or "1"
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{ENV_THREADS} must be a whole number of threads, not '{value}'")
    return int(value)


def _log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return (": " + " | ".join(line.strip() for line in tail)) if tail else ""


def start_worker(registry: JobRegistry, **options: Any) -> Worker:
    """A started worker (the UI caches one per process with ``st.cache_resource``)."""
    return Worker(registry, **options).start()


def running_workers() -> list[Worker]:
    """Workers created in this process that are still polling (tests stop them)."""
    return [w for w in list(_INSTANCES) if w.alive]


# --- the child process ---------------------------------------------------------------------------------------

def _end_process_group() -> None:
    """The job is not ours any more: end this process and the search processes it started."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(3)


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _preload(runner: str, exporter: str) -> None:
    """Import the default runner's and exporter's heavy modules before the job's clock starts: the
    budget is for training, not for this process's start-up."""
    if runner == DEFAULT_RUNNER:
        importlib.import_module("core.automl.training")
    if exporter == DEFAULT_EXPORTER:
        importlib.import_module("core.automl.export").warm_up()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m core.automl.worker --job ID``: run one job (what ``Worker`` starts); with no
    ``--job``, serve the queue in the foreground (a dedicated worker machine)."""
    parser = argparse.ArgumentParser(prog="python -m core.automl.worker")
    parser.add_argument("--job")
    parser.add_argument("--worker")
    parser.add_argument("--runner", default=DEFAULT_RUNNER)
    parser.add_argument("--exporter", default=DEFAULT_EXPORTER)
    parser.add_argument("--heartbeat", type=float, default=HEARTBEAT_SECONDS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _raise_exit)
    _preload(args.runner, args.exporter)
    settings = get_settings()
    registry = JobRegistry(create_db_engine(settings.database_url), settings.model_dir)
    if args.job is None:
        Worker(registry, runner=args.runner, exporter=args.exporter, heartbeat_seconds=args.heartbeat).run_forever()
        return 0
    try:
        status = run_job(args.job, registry, resolve(args.runner), resolve(args.exporter), worker=args.worker,
                         on_stopped=_end_process_group, heartbeat_seconds=args.heartbeat)
    except HeadroomError as exc:  # not runnable (finished, claimed elsewhere, deleted): nothing to record
        log.error("job %s not run: %s", args.job, exc.message)
        return 2
    log.info("job %s ended %s", args.job, status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
