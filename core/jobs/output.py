"""Writing predictions to a user's output table: created if missing, appended with a run id.

The table is addressed through SQLAlchemy Table objects, never formatted SQL, and no
other table is touched. An existing table must have the columns we write.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Column, DateTime, Engine, Float, MetaData, String, Table, inspect
from sqlalchemy.exc import SQLAlchemyError

from core.errors import InputError, StorageError
from core.storage import list_tables

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TEXT_COLUMNS = ("model_id", "platform", "block", "stage", "predicted_runtime", "predicted_memory",
                 "memory_request", "runtime_upper")
_NUMBER_COLUMNS = ("row", "quantile", "predicted_runtime_s", "predicted_memory_mb", "memory_request_mb",
                   "runtime_upper_s")


def _output_table(name: str) -> Table:
    return Table(
        name, MetaData(),
        Column("prediction_run_id", String(40), nullable=False, index=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        *[Column(c, String(200)) for c in _TEXT_COLUMNS],
        *[Column(c, Float) for c in _NUMBER_COLUMNS],
    )


def output_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """Predictions in the output table's columns (the quantile-named columns renamed)."""
    frame = predictions.copy()
    for prefix in ("memory_request_p", "runtime_upper_p"):
        named = [c for c in frame.columns if c.startswith(prefix)]
        if named:
            frame[prefix[:-2]] = frame[named[0]]
    return frame[[c for c in (*_TEXT_COLUMNS, *_NUMBER_COLUMNS) if c in frame.columns]]


def write_predictions(engine: Engine, table_name: str, predictions: pd.DataFrame) -> dict[str, object]:
    """Append ``predictions`` to ``table_name`` (created when missing) under a new run id."""
    if not _TABLE_NAME.match(table_name or ""):
        raise InputError(f"'{table_name}' is not a valid output table name (letters, digits, _; max 63)")
    table = _output_table(table_name)
    rows = output_rows(predictions)
    run_id = uuid.uuid4().hex
    created = datetime.now(UTC)
    records = [
        {"prediction_run_id": run_id, "created_at": created,
         **{k: (None if pd.isna(v) else (str(v) if k in _TEXT_COLUMNS else float(v))) for k, v in rec.items()}}
        for rec in rows.to_dict("records")
    ]
    try:
        if table_name in list_tables(engine):
            have = {c["name"] for c in inspect(engine).get_columns(table_name)}
            missing = [c.name for c in table.columns if c.name not in have]
            if missing:
                raise InputError(f"table '{table_name}' exists but lacks columns {', '.join(missing)}; "
                                 "choose another output table")
        else:
            table.create(engine, checkfirst=True)
        with engine.begin() as conn:
            conn.execute(table.insert(), records)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot write table '{table_name}': {type(exc).__name__}") from None
    return {"table": table_name, "prediction_run_id": run_id, "rows": len(records)}
