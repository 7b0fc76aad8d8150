"""Embarrassingly parallel work (a series' fit, a backtest window) on local processes or a Dask cluster.

Local: joblib's process pool with one BLAS/OpenMP thread per worker (two workers each spinning
two OpenMP threads on two cores made fits several times slower). With ``HEADROOM_DASK_SCHEDULER``
set (``tcp://host:8786``), the same tasks go to that Dask cluster through joblib's dask backend,
with the same results. Tasks must be picklable: module-level functions and plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import joblib

from core.config import get_settings

T = TypeVar("T")
R = TypeVar("R")


def run_tasks(fn: Callable[[T], R], tasks: Iterable[T], *, n_jobs: int = 1, scheduler: str | None = None,
              on_done: Callable[[int, int], None] | None = None) -> list[R]:
    """``[fn(t) for t in tasks]``, in order, spread over ``n_jobs`` local processes or the Dask
    cluster at ``scheduler`` (default: the ``HEADROOM_DASK_SCHEDULER`` setting). ``on_done(done,
    total)`` is called as results arrive (in task order), for a progress bar."""
    items = list(tasks)
    report = on_done or (lambda _done, _total: None)
    address = scheduler if scheduler is not None else get_settings().dask_scheduler
    if address:
        return _on_dask(fn, items, address, report)
    if n_jobs == 1 or len(items) <= 1:
        out = []
        for t in items:
            out.append(fn(t))
            report(len(out), len(items))
        return out
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        return _collect(joblib.Parallel(n_jobs=n_jobs, return_as="generator"), fn, items, report)


def _collect(parallel: joblib.Parallel, fn: Callable[[T], R], items: list[T],
             report: Callable[[int, int], None]) -> list[R]:
    out: list[R] = []
    results: Any = parallel(joblib.delayed(fn)(t) for t in items)
    for result in results:
        out.append(result)
        report(len(out), len(items))
    return out


def _on_dask(fn: Callable[[T], R], items: list[T], address: str, report: Callable[[int, int], None]) -> list[R]:
    from distributed import Client  # imported only when a cluster is configured

    with Client(address, set_as_default=False) as client, joblib.parallel_config(backend="dask", client=client):
        return _collect(joblib.Parallel(return_as="generator"), fn, items, report)
