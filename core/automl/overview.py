"""The Home page's one-line status for AutoML (cheap: a file listing and one query, no model library)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine

from core.automl.samples import SAMPLES, sample_path
from core.config import Settings
from core.storage import automl_repo as repo
from core.storage import list_tables

# Statuses worth naming in the line, in the order a reader cares about them.
_NAMED = (repo.RUNNING, repo.QUEUED, repo.DONE, repo.FAILED)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def installed_samples(settings: Settings) -> int:
    """How many of the bundled sample data sets are present under the data directory."""
    return sum(sample_path(settings.data_dir, sample.file).is_file() for sample in SAMPLES)


def status_line(settings: Settings, engine: Engine) -> str:
    """Samples on disk and jobs by status, e.g. "8 sample data sets · 3 jobs (1 running, 1 deployed)"."""
    samples = _plural(installed_samples(settings), "sample data set")
    # Reading only: a fresh database has no AutoML tables until the page (or a job) creates them.
    if repo.jobs.name not in list_tables(engine):
        return f"{samples} · no jobs yet: open the page to train a model"
    rows = repo.list_jobs(engine)
    if not rows:
        return f"{samples} · no jobs yet: open the page to train a model"
    statuses = Counter(str(row["status"]) for row in rows)
    parts = [f"{statuses[status]} {status}" for status in _NAMED if statuses[status]]
    deployed = sum(bool(row["deployed"]) for row in rows)
    if deployed:
        parts.append(f"{deployed} deployed")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{samples} · {_plural(len(rows), 'job')}{detail}"
