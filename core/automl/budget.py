"""The hard wall-time limit of a training job and the ledger of where its seconds went.

A job's budget counts from the caller's start (``time.monotonic()``, the same clock in every process).
``train`` must return by ``Budget.hard_deadline`` (the budget less the export's share); the search must
stop by ``Budget.search_deadline``, which keeps the refit's share and the scoring's share back.

A search cannot be trusted to stop by itself: one trial (a forest of 2 000 deep trees, a learner that
hangs) may run for minutes. So it runs in a child process that ``run_until`` kills at its deadline.
The child reports each finished trial as it goes (a file the parent reads), so what it found
survives the kill.

Children come from a fork server that has imported the heavy libraries once (a spawned child pays
~3 s of imports per job; a forked one ~10 ms) and runs with one BLAS/OpenMP thread: the fork server is
started with the thread variables in its environment, and each child also limits its thread pools.
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.forkserver
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from core.automl import config

# One thread per worker: two processes each spinning two OpenMP threads on two cores run several times slower.
THREAD_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}
# Imported once in the fork server, so a child starts in milliseconds (missing ones are skipped).
FORKSERVER_PRELOAD = ["numpy", "pandas", "sklearn.ensemble", "sklearn.linear_model", "lightgbm", "xgboost",
                      "flaml.tune", "flaml.automl.model", "core.automl.search"]
# How long a killed child may take to be reaped.
KILL_WAIT_SECONDS = 2.0
# Phases of a job, in order (export is added by the caller).
PHASES = ("profiling", "split", "search", "selection", "refit", "test", "importance", "export")

_SERVER_LOCK = threading.Lock()


@dataclass(frozen=True)
class Budget:
    """Deadlines of one job, as ``time.monotonic()`` values."""

    started: float
    seconds: float

    @property
    def hard_deadline(self) -> float:
        """``train`` returns by then; the export's share of the budget comes after it."""
        return self.started + self.seconds - self.export_reserve

    @property
    def export_reserve(self) -> float:
        """Seconds kept for the export after ``train``: its share, and at least what converting and
        checking a model takes (a 10 s budget's 8 % would not be enough)."""
        return max(self.seconds * config.EXPORT_RESERVE_SHARE, config.EXPORT_MIN_SECONDS)

    @property
    def search_deadline(self) -> float:
        """The search subprocess is killed then: the refit and the scoring keep their shares."""
        kept = config.REFIT_RESERVE_SHARE + config.SCORING_RESERVE_SHARE
        return self.hard_deadline - self.seconds * kept

    @property
    def search_seconds(self) -> float:
        """The search's planned share of the budget (what is left after the caller's work is less)."""
        return self.search_deadline - self.started

    @property
    def total_deadline(self) -> float:
        """The whole job, export included, ends by then (budget plus its tolerance)."""
        return self.started + self.seconds * (1.0 + config.BUDGET_TOLERANCE)

    @property
    def scoring_reserve(self) -> float:
        """Seconds kept for the test scores and the importance after the refit."""
        return self.seconds * config.SCORING_RESERVE_SHARE

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self, deadline: float | None = None) -> float:
        """Seconds until ``deadline`` (default: the hard deadline); negative when past it."""
        return (self.hard_deadline if deadline is None else deadline) - time.monotonic()

    def fits(self, seconds: float, *, keep: float = 0.0) -> bool:
        """Whether ``seconds`` of work still end ``keep`` seconds before the hard deadline."""
        return seconds <= self.left() - keep


@dataclass
class Ledger:
    """Seconds spent per phase of a job; a phase entered twice adds up."""

    seconds: dict[str, float] = field(default_factory=dict)

    def record(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + max(0.0, seconds)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.record(name, time.monotonic() - began)

    def as_dict(self) -> dict[str, float]:
        known = [p for p in PHASES if p in self.seconds]
        return {p: round(self.seconds[p], 3) for p in [*known, *sorted(set(self.seconds) - set(known))]}


@dataclass(frozen=True)
class ChildOutcome:
    finished: bool  # the child ended by itself; False: it was killed at its deadline
    exitcode: int | None
    seconds: float


def _fork_context() -> Any:
    """The fork-server context, its server started (once) with one thread per library and the heavy
    imports done. If another part of the process started the server first, children still limit their
    thread pools themselves (``_child_main``)."""
    context = multiprocessing.get_context("forkserver")
    with _SERVER_LOCK:
        context.set_forkserver_preload(FORKSERVER_PRELOAD)
        saved = {name: os.environ.get(name) for name in THREAD_ENV}
        os.environ.update(THREAD_ENV)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    return context


def warm_up() -> None:
    """Start the fork server now (a worker calls this at start-up, so its first job pays no imports)."""
    _fork_context()


def _child_main(target: str, argument: Any) -> None:
    """Entry point of the child: one thread per pool, then ``module:function(argument)``."""
    os.environ.update(THREAD_ENV)
    from threadpoolctl import threadpool_limits

    module, _, name = target.partition(":")
    function = getattr(importlib.import_module(module), name)
    with threadpool_limits(limits=1):
        function(argument)


def run_until(target: str, argument: Any, deadline: float, *,
              on_poll: Callable[[], None] | None = None, poll_seconds: float = 0.2) -> ChildOutcome:
    """Run ``module:function(argument)`` in a child process; kill it at ``deadline`` (a
    ``time.monotonic()`` value) if it is still running. ``on_poll`` is called every ``poll_seconds``
    meanwhile (to stream the child's progress) and once more at the end."""
    began = time.monotonic()
    poll = on_poll or (lambda: None)
    process = _fork_context().Process(target=_child_main, args=(target, argument), daemon=True)
    process.start()
    try:
        while process.is_alive() and time.monotonic() < deadline:
            process.join(timeout=max(0.0, min(poll_seconds, deadline - time.monotonic())))
            poll()
        finished = not process.is_alive()
        if not finished:
            process.kill()  # SIGKILL: a trial deep in native code ignores anything gentler
            process.join(timeout=KILL_WAIT_SECONDS)
    finally:
        if process.is_alive():  # the parent itself is being interrupted
            process.kill()
            process.join(timeout=KILL_WAIT_SECONDS)
    poll()
    return ChildOutcome(finished=finished, exitcode=process.exitcode, seconds=time.monotonic() - began)
