"""Every trained model of every domain: one table, a side-by-side comparison, and the actions
(deploy, retire, delete) the Models page and ``python -m core models`` call.

Two sources are merged here, and only here: the model registry (``core.ml.registry``: traffic, demand,
energy, jobs) and the AutoML job registry, whose finished jobs each hold one model (domain ``automl``).
The AutoML job registry is passed in by the caller (the page's widgets, the CLI) as ``automl``, an
``AutomlJobs``: a ``JobRegistry``, or the page's stand-in that reports why the registry could not be
opened.
Each source keeps its own rules: the registry deploys one model per (domain, name); AutoML deploys
per job (several may be deployed at once), through its ONNX parity gate, and has no retired state.

Domains record different held-out metrics (energy: ``rmse_ratio``; jobs: ``runtime.r2_log``, …), so
nothing here knows a domain: metrics are flattened generically to their numeric leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, Protocol

import pandas as pd

from core.automl.jobs import DONE, JobRecord
from core.errors import HeadroomError, InputError, StorageError
from core.ml.registry import BYTES_PER_MB, ModelRecord, ModelRegistry, directory_size, readable_size
from core.models.config import (
    AUTOML_BASELINE_PREFIX,
    AUTOML_DOMAIN,
    AUTOML_UNREADABLE,
    FINGERPRINT_CHARS,
    METRIC_DEPTH,
    PARAM_DEPTH,
    TABLE_COLUMNS,
)

logger = logging.getLogger(__name__)
_REASON_CHARS = 200


class AutomlJobs(Protocol):
    """The AutoML job registry's side the Models page uses (``core.automl.jobs.JobRegistry``): its
    deploy keeps the ONNX parity gate, its delete removes the job's files."""

    def jobs(self, status: str | None = None) -> Sequence[JobRecord]: ...
    def get(self, job_id: str) -> JobRecord: ...
    def job_dir(self, job_id: str) -> Path: ...
    def deploy(self, job_id: str) -> None: ...
    def undeploy(self, job_id: str) -> None: ...
    def delete(self, job_id: str) -> None: ...


class UnopenedJobs:
    """Stands in for an AutoML job registry that could not be opened: every call raises why, so
    ``catalog`` reports it beside the other domains' models."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def _fail(self) -> NoReturn:
        if isinstance(self.error, HeadroomError):
            raise self.error
        raise StorageError(f"the AutoML job registry could not be opened: {_reason(self.error)}") from self.error

    def jobs(self, status: str | None = None) -> Sequence[JobRecord]:
        self._fail()

    def get(self, job_id: str) -> JobRecord:
        self._fail()

    def job_dir(self, job_id: str) -> Path:
        self._fail()

    def deploy(self, job_id: str) -> None:
        self._fail()

    def undeploy(self, job_id: str) -> None:
        self._fail()

    def delete(self, job_id: str) -> None:
        self._fail()


def open_automl_jobs(opener: Callable[[], AutomlJobs]) -> AutomlJobs:
    """``opener()``'s AutoML job registry, or, when it fails (its database down, its tables not made),
    a stand-in that reports why: the other domains' models are listed all the same."""
    try:
        return opener()
    except Exception as exc:  # noqa: BLE001 - reported by catalog(); the other domains still list
        logger.exception("the AutoML job registry could not be opened")
        return UnopenedJobs(exc)


@dataclass(frozen=True)
class ModelChange:
    """What an action did, in words for the user (the page shows ``message``, the CLI prints it)."""

    model_id: str
    domain: str
    status: str  # the model's status now, or "deleted"
    message: str
    freed_bytes: int = 0


class ConfirmationNeeded(InputError):
    """Deleting a deployed model needs an explicit yes (the page's checkbox, the CLI's ``--yes``).
    ``what`` says what is at stake; each caller adds how its user confirms."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: confirm to delete it anyway")
        self.what = what


def flatten_numbers(values: Mapping[str, Any], depth: int = METRIC_DEPTH, prefix: str = "") -> dict[str, float | None]:
    """Numeric leaves of nested dicts down to ``depth`` levels, keyed ``outer.inner``. Lists (per-stage
    breakdowns), text and deeper dicts are left out; a missing score (None, stored for NaN) is kept."""
    out: dict[str, float | None] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if depth > 1:
                out.update(flatten_numbers(value, depth - 1, f"{name}."))
        elif value is None:
            out[name] = None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def _flatten_params(values: Mapping[str, Any], depth: int = PARAM_DEPTH, prefix: str = "params.") -> dict[str, Any]:
    """Scalar parameters (and short lists of scalars, as text) down to ``depth`` levels."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if depth > 1:
                out.update(_flatten_params(value, depth - 1, f"{name}."))
        elif isinstance(value, (list, tuple)):
            if all(isinstance(v, (str, int, float, bool)) or v is None for v in value):
                out[name] = ", ".join(str(v) for v in value)
        else:
            out[name] = value
    return out


@dataclass(frozen=True)
class ModelEntry:
    """One model as the Models page sees it, whichever registry holds it."""

    model_id: str
    domain: str
    algorithm: str
    name: str
    status: str  # trained | deployed | retired (AutoML: trained | deployed)
    created_at: pd.Timestamp  # UTC
    fingerprint: str  # of the training data, in full
    artifact_dir: Path
    size_bytes: int
    params: Mapping[str, Any]
    metrics: Mapping[str, Any]  # held-out scores as recorded (nested); the table flattens them
    notes: str | None = None

    @property
    def is_automl(self) -> bool:
        return self.domain == AUTOML_DOMAIN

    def fields(self) -> dict[str, Any]:
        """The table's fixed columns."""
        return {"model_id": self.model_id, "domain": self.domain, "algorithm": self.algorithm, "name": self.name,
                "status": self.status, "created_at": self.created_at,
                "fingerprint": self.fingerprint[:FINGERPRINT_CHARS], "size_mb": self.size_bytes / BYTES_PER_MB,
                "artifact_present": self.artifact_dir.is_dir()}

    def flat_metrics(self) -> dict[str, float | None]:
        return flatten_numbers(self.metrics)


@dataclass(frozen=True)
class Catalog:
    """Every listed model of both registries, newest first, and why a source could not be read."""

    entries: tuple[ModelEntry, ...]
    problem: str | None = None  # e.g. the AutoML job registry failed; the other domains are still listed

    @property
    def domains(self) -> list[str]:
        """The domains with at least one model, sorted."""
        return sorted({e.domain for e in self.entries})

    def table(self, domain: str | None = None) -> pd.DataFrame:
        """One row per model (of ``domain``, or of all), newest first: the fixed columns (size on disk,
        whether its artifact is present), then its held-out metrics flattened to columns. Metric
        columns no listed model reports are dropped."""
        entries = [e for e in self.entries if domain is None or e.domain == domain]
        if not entries:
            return pd.DataFrame(columns=list(TABLE_COLUMNS))
        frame = pd.DataFrame([{**e.fields(), **e.flat_metrics()} for e in entries])
        metric_columns = [c for c in frame.columns if c not in TABLE_COLUMNS]
        for column in metric_columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        reported = [c for c in metric_columns if frame[c].notna().any()]
        return frame[[*TABLE_COLUMNS, *reported]]


def _utc(value: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _registry_entry(registry: ModelRegistry, record: ModelRecord) -> ModelEntry:
    return ModelEntry(
        model_id=record.model_id, domain=record.domain, algorithm=record.algorithm, name=record.name,
        status=record.status, created_at=_utc(record.created_at), fingerprint=record.fingerprint,
        artifact_dir=registry.artifact_dir(record), size_bytes=registry.size_on_disk(record),
        params=record.params if isinstance(record.params, Mapping) else {},
        metrics=record.metrics if isinstance(record.metrics, Mapping) else {}, notes=record.notes)


def _automl_entry(automl: AutomlJobs, job: JobRecord) -> ModelEntry:
    """A done job's model: id = job id, algorithm = the search's winner, metrics = its scores on the
    held-out test rows (the default LightGBM's, recorded beside them, left out), created = when it
    finished (when its model was saved)."""
    recorded = job.metrics or {}
    test = recorded.get("test")
    scores = {k: v for k, v in test.items() if not str(k).startswith(AUTOML_BASELINE_PREFIX)} \
        if isinstance(test, Mapping) else {}
    directory = automl.job_dir(job.job_id)
    return ModelEntry(
        model_id=job.job_id, domain=AUTOML_DOMAIN, algorithm=str(recorded.get("algorithm") or "?"), name=job.name,
        status="deployed" if job.deployed else "trained", created_at=_utc(job.finished_at or job.created_at),
        fingerprint=str(recorded.get("fingerprint") or job.dataset_id), artifact_dir=directory,
        size_bytes=directory_size(directory),
        # The job's request and search, as its parameters (shown when two AutoML models are compared).
        params={"target": job.target, "task": job.task, "search_metric": recorded.get("metric"),
                "trials": recorded.get("trials"), "budget_seconds": job.budget_seconds, "seed": job.seed},
        metrics=scores, notes=job.notes)


def _reason(exc: Exception) -> str:
    """A failure in one line for the user: a typed error's message, else the driver's own words."""
    if isinstance(exc, HeadroomError):
        text = exc.message
    else:
        text = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return line[:_REASON_CHARS]


def catalog(registry: ModelRegistry, automl: AutomlJobs | None = None) -> Catalog:
    """The models of the registry and, when ``automl`` is given, one per done AutoML job, newest first.
    An AutoML failure (its tables unreadable, its database down) is reported in ``problem`` and the
    registry's models are still listed; a registry failure raises."""
    entries = [_registry_entry(registry, r) for r in registry.list()]
    problem = None
    if automl is not None:
        try:
            entries += [_automl_entry(automl, job) for job in automl.jobs(DONE)]
        except Exception as exc:  # noqa: BLE001 - one source failing must not hide the other domains' models
            logger.exception("the AutoML job registry could not be read")
            problem = AUTOML_UNREADABLE.format(reason=_reason(exc))
    entries.sort(key=lambda e: (e.created_at, e.model_id), reverse=True)
    return Catalog(tuple(entries), problem)


def domains(registry: ModelRegistry, automl: AutomlJobs | None = None) -> list[str]:
    """The domains with at least one model, sorted."""
    return catalog(registry, automl).domains if automl is not None else registry.domains()


def model_table(registry: ModelRegistry, domain: str | None = None, automl: AutomlJobs | None = None) -> pd.DataFrame:
    """``catalog(registry, automl).table(domain)``: one row per model, newest first (see ``Catalog.table``)."""
    return catalog(registry, automl).table(domain)


def _automl_job(automl: AutomlJobs, model_id: str) -> JobRecord:
    try:
        job = automl.get(model_id)
    except InputError:
        raise InputError(f"model '{model_id}' is neither in the registry nor an AutoML job") from None
    if job.status != DONE:
        raise InputError(f"AutoML job '{job.name}' is {job.status}: only a done job has a model")
    return job


def _find(registry: ModelRegistry, model_id: str, automl: AutomlJobs | None) -> ModelEntry:
    """The model ``model_id`` of the registry, else of the AutoML jobs."""
    try:
        return _registry_entry(registry, registry.get(model_id))
    except InputError:
        if automl is None:
            raise
    return _automl_entry(automl, _automl_job(automl, model_id))


def describe(registry: ModelRegistry, model_id: str, automl: AutomlJobs | None = None) -> dict[str, Any]:
    """Everything known about one model: its row (full fingerprint, parameters, nested metrics), where
    its artifact lives, and its size. An AutoML model's metrics are everything its job recorded."""
    entry = _find(registry, model_id, automl)
    if entry.is_automl and automl is not None:
        row: dict[str, Any] = {"model_id": entry.model_id, "domain": entry.domain, "name": entry.name,
                               "algorithm": entry.algorithm, "fingerprint": entry.fingerprint,
                               "status": entry.status, "notes": entry.notes}
        metrics: Mapping[str, Any] = automl.get(model_id).metrics or {}
    else:
        record = registry.get(model_id)
        row = {k: v for k, v in record.__dict__.items() if k not in ("params", "metrics")}
        metrics = record.metrics
    return {
        **row,
        "created_at": entry.created_at.isoformat(),
        "artifact_dir": str(entry.artifact_dir),
        "artifact_present": entry.artifact_dir.is_dir(),
        "size_bytes": entry.size_bytes,
        "size_mb": round(entry.size_bytes / BYTES_PER_MB, 3),
        "params": dict(entry.params),
        "metrics": metrics,
    }


def compare(registry: ModelRegistry, model_a: str, model_b: str, automl: AutomlJobs | None = None) -> pd.DataFrame:
    """Two models of one domain side by side: one column per model, rows = the table's fields,
    parameters (``params.*``) and flattened metrics. Values keep their types (object columns)."""
    if model_a == model_b:
        raise InputError("choose two different models to compare")
    a, b = _find(registry, model_a, automl), _find(registry, model_b, automl)
    if a.domain != b.domain:
        raise InputError(f"'{model_a}' is from {a.domain} and '{model_b}' from {b.domain}: compare two models "
                         "of one domain, whose scores measure the same thing")
    sections = [({k: v for k, v in e.fields().items() if k != "model_id"} | {"notes": e.notes},
                 _flatten_params(e.params), e.flat_metrics()) for e in (a, b)]
    profiles = [{k: v for part in parts for k, v in part.items()} for parts in sections]
    # Fields, then parameters, then metrics; a row missing for both models is left out.
    keys = [key for i in range(3) for key in dict.fromkeys([*sections[0][i], *sections[1][i]])]
    rows = [r for r in keys if profiles[0].get(r) is not None or profiles[1].get(r) is not None]
    return pd.DataFrame({model_a: [profiles[0].get(r) for r in rows], model_b: [profiles[1].get(r) for r in rows]},
                        index=pd.Index(rows, name="field"), dtype=object)


def deploy(registry: ModelRegistry, model_id: str, automl: AutomlJobs | None = None) -> ModelChange:
    """Registry model: make it the deployed model of its (domain, name); the one it replaces goes back
    to trained. AutoML model: deploy its job (refused, with the reason, when its ONNX export did not
    reproduce it); other deployed AutoML jobs stay deployed."""
    entry = _find(registry, model_id, automl)
    if entry.is_automl and automl is not None:
        if entry.status == "deployed":
            return ModelChange(model_id, entry.domain, "deployed", f"{model_id} is already deployed.")
        automl.deploy(model_id)  # refuses a model its ONNX export did not reproduce, saying why
        return ModelChange(model_id, entry.domain, "deployed",
                           f"Deployed {model_id}: the AutoML page can now predict with '{entry.name}'. "
                           "Other deployed AutoML models stay deployed.")
    if not entry.artifact_dir.is_dir():
        raise InputError(f"model '{model_id}' cannot be deployed: its artifact is missing from the model store")
    if entry.status == "deployed":
        return ModelChange(model_id, entry.domain, "deployed", f"{model_id} is already deployed.")
    previous = registry.deployed(entry.domain, entry.name)
    registry.deploy(model_id)
    message = f"Deployed {model_id}: it is now the {entry.domain} model in use for '{entry.name}'."
    if previous is not None:
        message += f" {previous.model_id} went back to trained."
    return ModelChange(model_id, entry.domain, "deployed", message)


def retire(registry: ModelRegistry, model_id: str, automl: AutomlJobs | None = None) -> ModelChange:
    """Take ``model_id`` out of use but keep it listed (and loadable). An AutoML model is undeployed:
    AutoML has no retired state, so it is listed as trained afterwards."""
    entry = _find(registry, model_id, automl)
    if entry.is_automl and automl is not None:
        if entry.status != "deployed":
            return ModelChange(model_id, entry.domain, entry.status, f"{model_id} is not deployed: nothing to retire.")
        automl.undeploy(model_id)
        return ModelChange(model_id, entry.domain, "trained",
                           f"Undeployed {model_id}: the AutoML page no longer predicts with '{entry.name}'. "
                           "It stays listed and can be deployed again.")
    if entry.status == "retired":
        return ModelChange(model_id, entry.domain, "retired", f"{model_id} is already retired.")
    registry.retire(model_id)
    message = f"Retired {model_id}: it stays listed and can be deployed again."
    if entry.status == "deployed":
        message += f" No {entry.domain} model is deployed for '{entry.name}' now."
    return ModelChange(model_id, entry.domain, "retired", message)


def delete(registry: ModelRegistry, model_id: str, *, confirm_deployed: bool = False,
           automl: AutomlJobs | None = None) -> ModelChange:
    """Remove the model's artifact files and its row (an AutoML model: its whole job, files included).
    A deployed model is in use by its page, so deleting it needs ``confirm_deployed``; otherwise
    ``ConfirmationNeeded`` is raised."""
    entry = _find(registry, model_id, automl)
    if entry.status == "deployed" and not confirm_deployed:
        in_use = (f"the AutoML page predicts with '{entry.name}'" if entry.is_automl
                  else f"the {entry.domain} model in use for '{entry.name}'")
        raise ConfirmationNeeded(f"model '{model_id}' is deployed ({in_use})")
    size = entry.size_bytes
    if entry.is_automl and automl is not None:
        automl.delete(model_id)  # the row first, then the files; a StorageError says which failed
        message = f"Deleted {model_id}: the AutoML job '{entry.name}', its model and its files ({readable_size(size)} freed)."
        if entry.status == "deployed":
            message += " The AutoML page no longer predicts with it."
        return ModelChange(model_id, entry.domain, "deleted", message, freed_bytes=size)
    try:
        registry.delete(model_id)
    except OSError as exc:
        raise StorageError(f"could not remove the files of model '{model_id}' ({exc.strerror or exc}); "
                           "it stays listed") from None
    message = f"Deleted {model_id} and its artifact files ({readable_size(size)} freed)."
    if entry.status == "deployed":
        message += f" No {entry.domain} model is deployed for '{entry.name}' now."
    return ModelChange(model_id, entry.domain, "deleted", message, freed_bytes=size)


def apply(registry: ModelRegistry, kind: str, model_id: str, *, confirm_deployed: bool = False,
          automl: AutomlJobs | None = None) -> ModelChange:
    """One user action on a model: "deploy", "retire" or "delete" (see each)."""
    if kind == "deploy":
        return deploy(registry, model_id, automl)
    if kind == "retire":
        return retire(registry, model_id, automl)
    if kind == "delete":
        return delete(registry, model_id, confirm_deployed=confirm_deployed, automl=automl)
    raise InputError(f"unknown action '{kind}' (deploy, retire or delete)")
