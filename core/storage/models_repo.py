"""The SQL of the model registry, over the ``models`` table of ``core.storage.schema``.

Each function takes an Engine (it opens and commits its own transaction) or a Connection (the
caller owns the transaction). Rows come back as plain dicts with ``created_at`` in UTC: SQLite
stores timestamps without their zone, PostgreSQL keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from core.storage.binds import Bind, reading, writing
from core.storage.schema import models


def _row(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    row = {str(k): v for k, v in mapping.items()}
    created = row.get("created_at")
    if isinstance(created, datetime) and created.tzinfo is None:
        row["created_at"] = created.replace(tzinfo=UTC)
    return row


def insert_model(bind: Bind, row: Mapping[str, Any]) -> None:
    """Add one model row (every column of ``models``)."""
    with writing(bind) as conn:
        conn.execute(insert(models).values(**row))


def get_model(bind: Bind, model_id: str) -> dict[str, Any] | None:
    with reading(bind) as conn:
        found = conn.execute(select(models).where(models.c.model_id == model_id)).mappings().first()
    return _row(found) if found is not None else None


def list_models(bind: Bind, domain: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
    """Rows of one domain (and name), or of all, newest first."""
    query = select(models).order_by(models.c.created_at.desc(), models.c.model_id.desc())
    if domain:
        query = query.where(models.c.domain == domain)
    if name:
        query = query.where(models.c.name == name)
    with reading(bind) as conn:
        return [_row(found) for found in conn.execute(query).mappings()]


def list_domains(bind: Bind) -> list[str]:
    """The domains that have at least one model, sorted."""
    query = select(models.c.domain).distinct().order_by(models.c.domain)
    with reading(bind) as conn:
        found: list[Any] = list(conn.execute(query).scalars())
    return [str(domain) for domain in found]


def set_status(bind: Bind, model_id: str, status: str) -> int:
    """Set one model's status; the number of rows changed (0 when the id is unknown)."""
    with writing(bind) as conn:
        return int(conn.execute(update(models).where(models.c.model_id == model_id).values(status=status)).rowcount)


def deploy_only(bind: Bind, model_id: str) -> int:
    """Mark ``model_id`` deployed and every other deployed model of its (domain, name) trained, in one
    transaction. The (domain, name) rows are locked first (``FOR UPDATE`` on PostgreSQL; SQLite has one
    writer anyway), so two concurrent deploys end with exactly one deployed. Returns 0 for an unknown id."""
    with writing(bind) as conn:
        found = conn.execute(
            select(models.c.domain, models.c.name).where(models.c.model_id == model_id)).first()
        if found is None:
            return 0
        domain, name = found
        same = (models.c.domain == domain) & (models.c.name == name)
        conn.execute(select(models.c.model_id).where(same).with_for_update()).all()
        conn.execute(update(models).where(same, models.c.status == "deployed", models.c.model_id != model_id)
                     .values(status="trained"))
        return int(conn.execute(update(models).where(models.c.model_id == model_id)
                                .values(status="deployed")).rowcount)


def delete_model(bind: Bind, model_id: str) -> int:
    """Remove one model's row; the number of rows removed."""
    with writing(bind) as conn:
        return int(conn.execute(delete(models).where(models.c.model_id == model_id)).rowcount)
