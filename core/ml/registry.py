"""Model registry: artifacts under ``<model_dir>/<domain>/<model_id>/`` plus a row in ``models``.

Artifacts are saved one of three ways, recorded in ``artifact_kind``:
- ``joblib``: any picklable object (sklearn, LightGBM, XGBoost wrappers);
- ``keras``: a bare Keras model, as ``model.keras``;
- ``dir:<module>:<Class>``: an object that saves itself with ``save_to_dir(path)`` and
  loads with the classmethod ``load_from_dir(path)`` (e.g. a network plus its scalers).
  Only classes inside the ``core`` package are loaded, so the app loads only what it wrote.

Model ids are generated here and match ``[a-z0-9-]+``, so they cannot escape the store.
"""

from __future__ import annotations

import importlib
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
from sqlalchemy import Engine, select, update

from core.errors import InputError
from core.storage.schema import ensure_schema, models

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
            with self.engine.begin() as conn:
                conn.execute(models.insert().values(**record.__dict__))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            raise
        return record

    def get(self, model_id: str) -> ModelRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(models).where(models.c.model_id == model_id)).mappings().first()
        if row is None:
            raise InputError(f"model '{model_id}' is not in the registry")
        return ModelRecord(**row)

    def list(self, domain: str | None = None, name: str | None = None) -> list[ModelRecord]:
        """Records, newest first."""
        query = select(models).order_by(models.c.created_at.desc())
        if domain:
            query = query.where(models.c.domain == domain)
        if name:
            query = query.where(models.c.name == name)
        with self.engine.connect() as conn:
            return [ModelRecord(**row) for row in conn.execute(query).mappings()]

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
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}")
        self.get(model_id)
        with self.engine.begin() as conn:
            conn.execute(update(models).where(models.c.model_id == model_id).values(status=status))

    def deploy(self, model_id: str) -> None:
        """Mark ``model_id`` deployed; any other deployed model of the same domain and name
        goes back to 'trained', so exactly one is deployed per (domain, name)."""
        record = self.get(model_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(models)
                .where(models.c.domain == record.domain, models.c.name == record.name, models.c.status == "deployed")
                .values(status="trained")
            )
            conn.execute(update(models).where(models.c.model_id == model_id).values(status="deployed"))

    def deployed(self, domain: str, name: str | None = None) -> ModelRecord | None:
        for record in self.list(domain, name):
            if record.status == "deployed":
                return record
        return None


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
