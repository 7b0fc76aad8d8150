"""Every trained model of every domain: one table, a side-by-side comparison, and the actions
(deploy, retire, delete) the Models page and ``python -m core models`` call.

Domains record different held-out metrics (energy: ``rmse_ratio``; jobs: ``runtime.r2_log``, …), so
nothing here knows a domain: metrics are flattened generically to their numeric leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.errors import InputError, StorageError
from core.ml.registry import ModelRecord, ModelRegistry
from core.models.config import BYTES_PER_MB, FINGERPRINT_CHARS, METRIC_DEPTH, PARAM_DEPTH, TABLE_COLUMNS


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


def _metrics_of(record: ModelRecord) -> dict[str, float | None]:
    return flatten_numbers(record.metrics) if isinstance(record.metrics, Mapping) else {}


def _fields(registry: ModelRegistry, record: ModelRecord) -> dict[str, Any]:
    return {
        "model_id": record.model_id,
        "domain": record.domain,
        "algorithm": record.algorithm,
        "name": record.name,
        "status": record.status,
        "created_at": pd.Timestamp(record.created_at).tz_convert("UTC"),
        "fingerprint": record.fingerprint[:FINGERPRINT_CHARS],
        "size_mb": registry.size_on_disk(record) / BYTES_PER_MB,
        "artifact_present": registry.artifact_dir(record).is_dir(),
    }


def readable_size(n_bytes: int) -> str:
    """``601 B``, ``12.3 KB``, ``4.56 MB`` (binary multiples, as the table's MB column)."""
    if n_bytes < 1024:
        return f"{n_bytes} B"
    if n_bytes < BYTES_PER_MB:
        return f"{n_bytes / 1024:.1f} KB"
    return f"{n_bytes / BYTES_PER_MB:.2f} MB"


def domains(registry: ModelRegistry) -> list[str]:
    """The domains with at least one model in the registry, sorted."""
    return registry.domains()


def model_table(registry: ModelRegistry, domain: str | None = None) -> pd.DataFrame:
    """One row per model (of ``domain``, or of all), newest first: registry fields, size on disk,
    whether its artifact is present, then its held-out metrics flattened to columns. Metric columns
    no listed model reports are dropped."""
    records = registry.list(domain)
    if not records:
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    frame = pd.DataFrame([{**_fields(registry, r), **_metrics_of(r)} for r in records])
    metric_columns = [c for c in frame.columns if c not in TABLE_COLUMNS]
    for column in metric_columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    reported = [c for c in metric_columns if frame[c].notna().any()]
    return frame[[*TABLE_COLUMNS, *reported]]


def describe(registry: ModelRegistry, model_id: str) -> dict[str, Any]:
    """Everything the registry knows about one model: its row (full fingerprint, parameters, nested
    metrics), where its artifact lives, and its size."""
    record = registry.get(model_id)
    path = registry.artifact_dir(record)
    size = registry.size_on_disk(record)
    return {
        **{k: v for k, v in record.__dict__.items() if k not in ("params", "metrics")},
        "created_at": pd.Timestamp(record.created_at).tz_convert("UTC").isoformat(),
        "artifact_dir": str(path),
        "artifact_present": path.is_dir(),
        "size_bytes": size,
        "size_mb": round(size / BYTES_PER_MB, 3),
        "params": record.params,
        "metrics": record.metrics,
    }


def compare(registry: ModelRegistry, model_a: str, model_b: str) -> pd.DataFrame:
    """Two models of one domain side by side: one column per model, rows = registry fields,
    parameters (``params.*``) and flattened metrics. Values keep their types (object columns)."""
    if model_a == model_b:
        raise InputError("choose two different models to compare")
    a, b = registry.get(model_a), registry.get(model_b)
    if a.domain != b.domain:
        raise InputError(f"'{model_a}' is from {a.domain} and '{model_b}' from {b.domain}: compare two models "
                         "of one domain, whose scores measure the same thing")
    sections = [({k: v for k, v in _fields(registry, r).items() if k != "model_id"} | {"notes": r.notes},
                 _flatten_params(r.params), _metrics_of(r)) for r in (a, b)]
    profiles = [{k: v for part in parts for k, v in part.items()} for parts in sections]
    # Fields, then parameters, then metrics; a row missing for both models is left out.
    keys = [key for i in range(3) for key in dict.fromkeys([*sections[0][i], *sections[1][i]])]
    rows = [r for r in keys if profiles[0].get(r) is not None or profiles[1].get(r) is not None]
    return pd.DataFrame({model_a: [profiles[0].get(r) for r in rows], model_b: [profiles[1].get(r) for r in rows]},
                        index=pd.Index(rows, name="field"), dtype=object)


def deploy(registry: ModelRegistry, model_id: str) -> ModelChange:
    """Make ``model_id`` the deployed model of its (domain, name); the one it replaces goes back to trained."""
    record = registry.get(model_id)
    if not registry.artifact_dir(record).is_dir():
        raise InputError(f"model '{model_id}' cannot be deployed: its artifact is missing from the model store")
    if record.status == "deployed":
        return ModelChange(model_id, record.domain, "deployed", f"{model_id} is already deployed.")
    previous = registry.deployed(record.domain, record.name)
    registry.deploy(model_id)
    message = f"Deployed {model_id}: it is now the {record.domain} model in use for '{record.name}'."
    if previous is not None:
        message += f" {previous.model_id} went back to trained."
    return ModelChange(model_id, record.domain, "deployed", message)


def retire(registry: ModelRegistry, model_id: str) -> ModelChange:
    """Take ``model_id`` out of use but keep it listed (and loadable)."""
    record = registry.get(model_id)
    if record.status == "retired":
        return ModelChange(model_id, record.domain, "retired", f"{model_id} is already retired.")
    registry.retire(model_id)
    message = f"Retired {model_id}: it stays listed and can be deployed again."
    if record.status == "deployed":
        message += f" No {record.domain} model is deployed for '{record.name}' now."
    return ModelChange(model_id, record.domain, "retired", message)


def delete(registry: ModelRegistry, model_id: str, *, confirm_deployed: bool = False) -> ModelChange:
    """Remove the model's artifact files and its registry row. A deployed model is in use by its
    domain, so deleting it needs ``confirm_deployed``; otherwise ``ConfirmationNeeded`` is raised."""
    record = registry.get(model_id)
    if record.status == "deployed" and not confirm_deployed:
        raise ConfirmationNeeded(f"model '{model_id}' is deployed (the {record.domain} model in use for "
                                 f"'{record.name}')")
    size = registry.size_on_disk(record)
    try:
        registry.delete(model_id)
    except OSError as exc:
        raise StorageError(f"could not remove the files of model '{model_id}' ({exc.strerror or exc}); "
                           "it stays listed") from None
    message = f"Deleted {model_id} and its artifact files ({readable_size(size)} freed)."
    if record.status == "deployed":
        message += f" No {record.domain} model is deployed for '{record.name}' now."
    return ModelChange(model_id, record.domain, "deleted", message, freed_bytes=size)


def apply(registry: ModelRegistry, kind: str, model_id: str, *, confirm_deployed: bool = False) -> ModelChange:
    """One user action on a model: "deploy", "retire" or "delete" (see each)."""
    if kind == "deploy":
        return deploy(registry, model_id)
    if kind == "retire":
        return retire(registry, model_id)
    if kind == "delete":
        return delete(registry, model_id, confirm_deployed=confirm_deployed)
    raise InputError(f"unknown action '{kind}' (deploy, retire or delete)")
