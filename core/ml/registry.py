"""Model registry: artifacts under ``<model_dir>/<domain>/<model_id>/`` plus a row in ``models``.

Artifacts are saved one of three ways, recorded in ``artifact_kind``:
- ``joblib``: any picklable object (sklearn, LightGBM, XGBoost wrappers);
- ``keras``: a bare Keras model, as ``model.keras``;
- ``dir:<module>:<Class>``: an object that saves itself with ``save_to_dir(path)`` and
  loads with the classmethod ``load_from_dir(path)`` (e.g. a network plus its scalers).
  Only classes inside the ``core`` package are loaded, so the app loads only what it wrote.

Model ids are generated here and match ``[a-z0-9-]+``, so they cannot escape the store.
The SQL lives in ``core.storage.models_repo``; this module keeps files and rows in step.
"""

from __future__ import annotations

import builtins
import importlib
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
from sqlalchemy import Engine

from core.errors import InputError
from core.storage import models_repo as repo
from core.storage.schema import ensure_schema

STATUSES = ("trained", "deployed", "retired")
_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    domain: str
    name: str
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    fingerprint: str
    artifact_kind: str
    status: str
    created_at: datetime
    notes: str | None = None


def _is_keras_model(obj: object) -> bool:
    return any(cls.__module__.startswith("keras") and cls.__name__ in ("Model", "Functional", "Sequential")
               for cls in type(obj).__mro__)


class ModelRegistry:
    """Save, list, load and deploy trained models of any domain."""

    def __init__(self, engine: Engine, model_dir: Path) -> None:
        self.engine = engine
        self.model_dir = Path(model_dir)
        ensure_schema(engine)

    def _path(self, domain: str, model_id: str) -> Path:
        if not _SAFE_ID.match(model_id) or not _SAFE_ID.match(domain):
            raise InputError(f"'{model_id}' is not a valid model id")
        return self.model_dir / domain / model_id

    def save(
        self,
        domain: str,
        artifact: Any,
        *,
        algorithm: str,
        params: dict[str, Any],
        metrics: dict[str, Any],
        fingerprint: str,
        name: str | None = None,
        status: str = "trained",
        notes: str | None = None,
    ) -> ModelRecord:
        """Write the artifact, then its row; a failure leaves neither behind."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        created = datetime.now(UTC)
        model_id = f"{domain}-{created:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        final = self._path(domain, model_id)
        staging = final.with_name(f".{model_id}.tmp")
        staging.mkdir(parents=True, exist_ok=False)
        try:
            if hasattr(artifact, "save_to_dir") and hasattr(type(artifact), "load_from_dir"):
                artifact.save_to_dir(staging)
                kind = f"dir:{type(artifact).__module__}:{type(artifact).__qualname__}"
            elif _is_keras_model(artifact):
                artifact.save(staging / "model.keras")
                kind = "keras"
            else:
                joblib.dump(artifact, staging / "model.joblib")
                kind = "joblib"
            staging.rename(final)
            record = ModelRecord(
                model_id=model_id,
                domain=domain,
                name=name or algorithm,
                algorithm=algorithm,
                params=_jsonable(params),
                metrics=_jsonable(metrics),
                fingerprint=fingerprint,
                artifact_kind=kind,
                status=status,
                created_at=created,
                notes=notes,
            )
            repo.insert_model(self.engine, record.__dict__)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            raise
        return record

    def get(self, model_id: str) -> ModelRecord:
        row = repo.get_model(self.engine, model_id)
        if row is None:
            raise InputError(f"model '{model_id}' is not in the registry")
        return ModelRecord(**row)

    def list(self, domain: str | None = None, name: str | None = None) -> list[ModelRecord]:
        """Records, newest first."""
        return [ModelRecord(**row) for row in repo.list_models(self.engine, domain, name)]

    def domains(self) -> builtins.list[str]:  # `list` here is the method above
        """The domains with at least one model, sorted."""
        return repo.list_domains(self.engine)

    def load(self, model_id: str) -> Any:
        record = self.get(model_id)
        path = self._path(record.domain, model_id)
        if not path.is_dir():
            raise InputError(f"the artifact of model '{model_id}' is missing from {self.model_dir}")
        if record.artifact_kind == "joblib":
            return joblib.load(path / "model.joblib")
        if record.artifact_kind == "keras":
            from core.ml.lazy import import_keras

            return import_keras().models.load_model(path / "model.keras")
        if record.artifact_kind.startswith("dir:"):
            _, module_name, class_name = record.artifact_kind.split(":", 2)
            if not module_name.startswith("core."):
                raise InputError(f"model '{model_id}' was not written by Headroom; refusing to load it")
            cls = getattr(importlib.import_module(module_name), class_name)
            return cls.load_from_dir(path)
        raise InputError(f"model '{model_id}' has an unknown artifact kind '{record.artifact_kind}'")

    def set_status(self, model_id: str, status: str) -> None:
        """Set a status; 'deployed' goes through ``deploy`` so one stays deployed per (domain, name)."""
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}")
        if status == "deployed":
            self.deploy(model_id)
        elif repo.set_status(self.engine, model_id, status) == 0:
            raise InputError(f"model '{model_id}' is not in the registry")

    def deploy(self, model_id: str) -> None:
        """Mark ``model_id`` deployed; any other deployed model of the same domain and name
        goes back to 'trained', so exactly one is deployed per (domain, name)."""
        if repo.deploy_only(self.engine, model_id) == 0:
            raise InputError(f"model '{model_id}' is not in the registry")

    def deployed(self, domain: str, name: str | None = None) -> ModelRecord | None:
        for record in self.list(domain, name):
            if record.status == "deployed":
                return record
        return None

    def retire(self, model_id: str) -> None:
        """Keep the model listed (and loadable) but out of use."""
        self.set_status(model_id, "retired")

    def delete(self, model_id: str) -> None:
        """Remove the artifact directory, then the row. A failure part-way leaves the model listed
        (its artifact possibly gone), never a row-less directory nobody can see or delete."""
        record = self.get(model_id)
        path = self._path(record.domain, model_id)
        # Renamed first, so a half-removed directory is never loaded as the model.
        doomed = path.with_name(f".{model_id}.deleting")
        if path.is_dir():
            path.rename(doomed)
        if doomed.exists():
            shutil.rmtree(doomed)
        repo.delete_model(self.engine, model_id)

    def artifact_dir(self, model: str | ModelRecord) -> Path:
        """Where the model's artifact lives (whether or not it is there)."""
        record = self.get(model) if isinstance(model, str) else model
        return self._path(record.domain, record.model_id)

    def size_on_disk(self, model: str | ModelRecord) -> int:
        """Bytes of the model's artifact directory; 0 when it is missing."""
        return directory_size(self.artifact_dir(model))


def directory_size(path: Path) -> int:
    """Bytes of the files under ``path``; 0 when it is missing."""
    total = 0
    for file in path.rglob("*") if path.is_dir() else ():
        try:
            if file.is_file() and not file.is_symlink():
                total += file.stat().st_size
        except FileNotFoundError:  # removed meanwhile by another process's delete
            continue
    return total


BYTES_PER_MB = 1024 * 1024


def readable_size(n_bytes: int) -> str:
    """``601 B``, ``12.3 KB``, ``4.56 MB`` (binary multiples, as the Models table's MB column)."""
    if n_bytes < 1024:
        return f"{n_bytes} B"
    if n_bytes < BYTES_PER_MB:
        return f"{n_bytes / 1024:.1f} KB"
    return f"{n_bytes / BYTES_PER_MB:.2f} MB"


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars and nested containers to plain JSON types (NaN -> None)."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
