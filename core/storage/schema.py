"""The schema: one MetaData shared by all repository modules, created idempotently.

Each domain keeps its tables in ``core/storage/<domain>_repo.py``; ``ensure_schema``
imports every such module so their tables are registered, then creates what is
missing (``CREATE TABLE IF NOT EXISTS`` semantics), which is safe at every start-up
and from several processes.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.exc import OperationalError, ProgrammingError

import core.storage as storage_pkg
from core.errors import StorageError
from core.storage.engine import mask_url

metadata = MetaData()

models = Table(
    "models",
    metadata,
    Column("model_id", String(80), primary_key=True),
    Column("domain", String(40), nullable=False),
    Column("name", String(120), nullable=False),
    Column("algorithm", String(80), nullable=False),
    Column("params", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("artifact_kind", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("notes", Text, nullable=True),
    Index("ix_models_domain_status", "domain", "status"),
)


def _load_repositories() -> None:
    for module in pkgutil.iter_modules(storage_pkg.__path__):
        if module.name.endswith("_repo"):
            importlib.import_module(f"core.storage.{module.name}")


def ensure_schema(engine: Engine) -> None:
    """Create every missing table and index. Idempotent."""
    _load_repositories()
    try:
        metadata.create_all(engine, checkfirst=True)
    except (OperationalError, ProgrammingError) as exc:
        # Two processes racing to create the same table: the loser finds it exists.
        if "already exists" in str(exc.orig):
            metadata.create_all(engine, checkfirst=True)
            return
        raise StorageError(f"cannot create the schema on {mask_url(str(engine.url))}: {exc.orig}") from None
