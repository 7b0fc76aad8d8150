"""Reading user-chosen tables safely: names are checked against the database's own list
and tables are addressed through reflected SQLAlchemy objects, never through formatted SQL."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, MetaData, Table, inspect, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from core.errors import InputError, StorageError
from core.storage.engine import mask_url


def list_tables(engine: Engine, schema: str | None = None) -> list[str]:
    """Names of the tables (and views) the database itself reports."""
    try:
        inspector = inspect(engine)
        return sorted(inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema))
    except OperationalError as exc:
        raise StorageError(f"cannot reach {mask_url(str(engine.url))}: {str(exc.orig).strip()}") from None


def validate_table_name(engine: Engine, name: str, schema: str | None = None) -> str:
    """Return ``name`` if it is one of the database's tables, else raise InputError."""
    tables = list_tables(engine, schema)
    if name not in tables:
        shown = ", ".join(tables[:20]) or "none"
        raise InputError(f"table '{name}' does not exist in this database (tables: {shown})")
    return name


def read_table(engine: Engine, name: str, *, limit: int | None = None, schema: str | None = None) -> pd.DataFrame:
    """Read a validated table, optionally its first ``limit`` rows."""
    validate_table_name(engine, name, schema)
    table = Table(name, MetaData(), autoload_with=engine, schema=schema)
    query = select(table)
    if limit is not None:
        if limit < 1:
            raise InputError("the row limit must be at least 1")
        query = query.limit(int(limit))
    try:
        with engine.connect() as conn:
            frame = pd.read_sql(query, conn)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read table '{name}': {type(exc).__name__}") from None
    frame.attrs["source"] = f"table {name}"
    return frame
