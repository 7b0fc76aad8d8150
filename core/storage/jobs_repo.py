"""Job predictions written to a user's output table: created if missing, appended with a run id.

The table is addressed through SQLAlchemy Table objects, never formatted SQL, and no other
table is touched. An existing table must have the columns written. Which rows and columns go
in is decided by ``core.jobs.output``; this module only stores them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, Float, MetaData, String, Table, inspect
from sqlalchemy.exc import SQLAlchemyError

from core.errors import InputError, StorageError
from core.storage.introspect import list_tables

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class WrittenRows:
    """What a write stored: the table, the run id its rows carry, and how many rows."""

    table: str
    prediction_run_id: str
    rows: int


def _output_table(name: str, text_columns: Sequence[str], number_columns: Sequence[str]) -> Table:
    return Table(
        name, MetaData(),
        Column("prediction_run_id", String(40), nullable=False, index=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        *[Column(c, String(200)) for c in text_columns],
        *[Column(c, Float) for c in number_columns],
    )


def append_predictions(engine: Engine, table_name: str, rows: Sequence[Mapping[str, object]], *,
                       text_columns: Sequence[str], number_columns: Sequence[str]) -> WrittenRows:
    """Append ``rows`` (text and number columns, values already converted) to ``table_name``,
    created when missing, under a new run id. A name that is not a plain identifier and an
    existing table without these columns are refused before anything is written."""
    if not _TABLE_NAME.match(table_name or ""):
        raise InputError(f"'{table_name}' is not a valid output table name (letters, digits, _; max 63)")
    table = _output_table(table_name, text_columns, number_columns)
    run_id = uuid.uuid4().hex
    created = datetime.now(UTC)
    records = [{"prediction_run_id": run_id, "created_at": created, **row} for row in rows]
    try:
        if table_name in list_tables(engine):
            have = {c["name"] for c in inspect(engine).get_columns(table_name)}
            missing = [c.name for c in table.columns if c.name not in have]
            if missing:
                raise InputError(f"table '{table_name}' exists but lacks columns {', '.join(missing)}; "
                                 "choose another output table")
        else:
            table.create(engine, checkfirst=True)
        if records:
            with engine.begin() as conn:
                conn.execute(table.insert(), records)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot write table '{table_name}': {type(exc).__name__}") from None
    return WrittenRows(table_name, run_id, len(records))
