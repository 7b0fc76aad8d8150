"""Energy tables and the SQL that touches them (SQLAlchemy Core, SQLite and PostgreSQL).

Writes are idempotent: readings are unique per (device, hour), forecasts per (device, hour,
model), health per (device, window end, model). Timestamps are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.storage.schema import metadata

devices = Table(
    "energy_devices",
    metadata,
    Column("device_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False),
    Column("base_load", Float, nullable=False),
    Column("profile", String(32), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

readings = Table(
    "energy_readings",
    metadata,
    Column("device_id", Integer, ForeignKey("energy_devices.device_id", ondelete="CASCADE"), primary_key=True),
    Column("ts_utc", DateTime(timezone=True), primary_key=True),  # start of the metered hour
    Column("value", Float, nullable=False),
    Index("ix_energy_readings_ts", "ts_utc"),
)

forecasts = Table(
    "energy_forecasts",
    metadata,
    Column("device_id", Integer, ForeignKey("energy_devices.device_id", ondelete="CASCADE"), primary_key=True),
    Column("ts_utc", DateTime(timezone=True), primary_key=True),  # the hour forecast
    Column("model_id", String(80), primary_key=True),
    Column("y_pred", Float, nullable=False),
    Column("lower", Float, nullable=True),
    Column("upper", Float, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_energy_forecasts_ts", "ts_utc"),
)

health = Table(
    "energy_health",
    metadata,
    Column("device_id", Integer, ForeignKey("energy_devices.device_id", ondelete="CASCADE"), primary_key=True),
    Column("window_end", DateTime(timezone=True), primary_key=True),  # health of [end - 24 h, end)
    Column("model_id", String(80), primary_key=True),
    Column("n_scored", Integer, nullable=False),
    Column("rmse", Float),
    Column("mape", Float),
    Column("bias", Float),
    Column("baseline_rmse", Float),
    Column("rmse_ratio", Float),
    Column("status", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per simulator name: the simulated clock, counters and the writer lease.
sim_state = Table(
    "energy_sim_state",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("sim_time", DateTime(timezone=True)),  # last completed tick (an hour boundary, UTC)
    Column("ticks", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("last_tick_at", DateTime(timezone=True)),  # wall clock of the last committed tick
    Column("last_error", Text),
    Column("holder", String(120)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_auto_retrain", DateTime(timezone=True)),
)

meta = Table(
    "energy_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

SIMULATOR = "simulator"


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping any whose key exists; returns how many were new (best effort)."""
    if not rows:
        return 0
    result = conn.execute(_insert(conn, table).on_conflict_do_nothing(), list(rows))
    return max(int(result.rowcount or 0), 0)


def _utc(value: Any) -> datetime:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _utc_series(values: pd.Series) -> pd.Series:
    out = pd.to_datetime(values, utc=True)
    return out.dt.as_unit("ns") if hasattr(out, "dt") else out


# --- devices ---------------------------------------------------------------------------

def list_devices(conn: Connection | Engine) -> pd.DataFrame:
    query = select(devices).order_by(devices.c.device_id)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            rows = c.execute(query).mappings().all()
    else:
        rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in devices.columns])
    return frame.astype({"device_id": "int64", "base_load": "float64", "seed": "int64"})


def count_devices(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(devices)).scalar() or 0)


def insert_device(conn: Connection, row: dict[str, Any]) -> int | None:
    """Insert a device; None if the name is taken."""
    result = conn.execute(_insert(conn, devices).values(**row).on_conflict_do_nothing().returning(devices.c.device_id))
    found = result.first()
    return int(found[0]) if found else None


def update_device(conn: Connection, device_id: int, values: dict[str, Any]) -> int:
    return int(conn.execute(update(devices).where(devices.c.device_id == device_id).values(**values)).rowcount)


def delete_device(conn: Connection, device_id: int) -> int:
    for table in (health, forecasts, readings):
        conn.execute(delete(table).where(table.c.device_id == device_id))
    return int(conn.execute(delete(devices).where(devices.c.device_id == device_id)).rowcount)


def device_name_taken(conn: Connection, name: str, except_id: int | None = None) -> bool:
    query = select(func.count()).select_from(devices).where(devices.c.name == name)
    if except_id is not None:
        query = query.where(devices.c.device_id != except_id)
    return bool(conn.execute(query).scalar())


# --- readings and forecasts ------------------------------------------------------------

def insert_readings(conn: Connection, frame: pd.DataFrame) -> int:
    rows = [{"device_id": int(d), "ts_utc": t.to_pydatetime(), "value": float(v)}
            for d, t, v in zip(frame["device_id"], _utc_series(frame["ts_utc"]), frame["value"], strict=True)]
    return insert_ignore(conn, readings, rows)


def insert_forecasts(conn: Connection, frame: pd.DataFrame, created_at: datetime) -> int:
    rows = [{"device_id": int(r.device_id), "ts_utc": _utc(r.ts_utc), "model_id": str(r.model_id),
             "y_pred": float(r.y_pred), "lower": float(r.lower), "upper": float(r.upper),
             "created_at": created_at} for r in frame.itertuples(index=False)]
    return insert_ignore(conn, forecasts, rows)


def _between(table: Table, start: Any, end: Any, device_ids: Iterable[int] | None) -> Any:
    cond = [table.c.ts_utc >= _utc(start), table.c.ts_utc < _utc(end)]
    if device_ids is not None:
        cond.append(table.c.device_id.in_([int(d) for d in device_ids]))
    return and_(*cond)


def load_readings(conn: Connection, start: Any, end: Any, device_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Readings with ``start <= ts_utc < end`` as (device_id, ts_utc, value), ts in UTC."""
    query = select(readings.c.device_id, readings.c.ts_utc, readings.c.value).where(
        _between(readings, start, end, device_ids))
    frame = pd.DataFrame(conn.execute(query).all(), columns=["device_id", "ts_utc", "value"])
    frame["ts_utc"] = _utc_series(frame["ts_utc"])
    return frame.astype({"device_id": "int64", "value": "float64"})


def load_forecasts(conn: Connection, start: Any, end: Any, device_ids: Iterable[int] | None = None) -> pd.DataFrame:
    query = select(forecasts).where(_between(forecasts, start, end, device_ids))
    cols = [c.name for c in forecasts.columns]
    frame = pd.DataFrame(conn.execute(query).all(), columns=cols)
    frame["ts_utc"] = _utc_series(frame["ts_utc"])
    frame["created_at"] = _utc_series(frame["created_at"])
    return frame


def reading_bounds(conn: Connection) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    lo, hi = conn.execute(select(func.min(readings.c.ts_utc), func.max(readings.c.ts_utc))).one()
    return (pd.Timestamp(_utc(lo)) if lo else None, pd.Timestamp(_utc(hi)) if hi else None)


def count_readings(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(readings)).scalar() or 0)


# --- health ------------------------------------------------------------------------------

def upsert_health(conn: Connection, frame: pd.DataFrame, created_at: datetime) -> None:
    """Insert health rows, replacing a previous computation of the same window and model."""
    if frame.empty:
        return
    rows = []
    for r in frame.to_dict("records"):
        row = {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        row.update(window_end=_utc(r["window_end"]), created_at=created_at, device_id=int(r["device_id"]),
                   n_scored=int(r["n_scored"]))
        rows.append(row)
    stmt = _insert(conn, health)
    keys = ("device_id", "window_end", "model_id")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c.name: stmt.excluded[c.name] for c in health.columns if c.name not in keys},
    )
    conn.execute(stmt, rows)


def load_health(conn: Connection, since: Any, until: Any | None = None) -> pd.DataFrame:
    query = select(health).where(health.c.window_end >= _utc(since))
    if until is not None:
        query = query.where(health.c.window_end <= _utc(until))
    frame = pd.DataFrame(conn.execute(query.order_by(health.c.window_end)).all(),
                         columns=[c.name for c in health.columns])
    frame["window_end"] = _utc_series(frame["window_end"])
    return frame


# --- simulator state and lease -------------------------------------------------------------

def read_state(conn: Connection | Engine, name: str = SIMULATOR) -> dict[str, Any] | None:
    query = select(sim_state).where(sim_state.c.name == name)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            row = c.execute(query).mappings().first()
    else:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    out = dict(row)
    for key in ("sim_time", "last_tick_at", "lease_until", "last_auto_retrain"):
        if out.get(key) is not None:
            out[key] = pd.Timestamp(_utc(out[key]))
    return out


def ensure_state_row(conn: Connection, name: str = SIMULATOR) -> None:
    insert_ignore(conn, sim_state, [{"name": name, "ticks": 0, "errors": 0}])


def update_state(conn: Connection, values: dict[str, Any], name: str = SIMULATOR) -> None:
    conn.execute(update(sim_state).where(sim_state.c.name == name).values(**values))


def add_to_counter(conn: Connection, column: str, amount: int, name: str = SIMULATOR, **values: Any) -> None:
    col = sim_state.c[column]
    conn.execute(update(sim_state).where(sim_state.c.name == name).values({col: col + amount, **values}))


def take_lease(conn: Connection, holder: str, now: datetime, until: datetime, name: str = SIMULATOR) -> bool:
    """Claim or renew the writer lease: succeeds if ``holder`` has it or it has expired.

    The conditional UPDATE is atomic on both backends, so two processes cannot both win."""
    ensure_state_row(conn, name)
    result = conn.execute(
        update(sim_state)
        .where(sim_state.c.name == name,
               or_(sim_state.c.holder == holder, sim_state.c.holder.is_(None), sim_state.c.lease_until.is_(None),
                   sim_state.c.lease_until < now))
        .values(holder=holder, lease_until=until)
    )
    return int(result.rowcount or 0) == 1


def release_lease(conn: Connection, holder: str, name: str = SIMULATOR) -> None:
    conn.execute(update(sim_state).where(sim_state.c.name == name, sim_state.c.holder == holder)
                 .values(holder=None, lease_until=None))


# --- meta ----------------------------------------------------------------------------------

def claim_meta(conn: Connection, key: str, value: str) -> bool:
    """Set ``key`` if absent; True for the one caller that set it (used for one-time seeding)."""
    result = conn.execute(_insert(conn, meta).values(key=key, value=value).on_conflict_do_nothing().returning(meta.c.key))
    return result.first() is not None
