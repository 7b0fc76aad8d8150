"""Engine factory: SQLite (WAL, foreign keys) by default, PostgreSQL via psycopg2."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.errors import StorageError


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***; safe for UI, logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """Create an engine for ``url``; errors carry a masked URL, never the password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError("the database URL is not valid (expected e.g. postgresql://user:***@host/db)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg2")
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise StorageError(f"unsupported database '{backend}': use sqlite:/// or postgresql://")


def describe_backend(engine: Engine) -> str:
    """A one-line description of where data lives, password masked."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    return f"PostgreSQL {url.host}:{url.port or 5432}/{url.database} as {url.username} ({mask_url(str(url))})"
