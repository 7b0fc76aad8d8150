"""Engine, schema and safe table access on SQLite and a real PostgreSQL server."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from core.errors import InputError, StorageError
from core.storage import (
    create_db_engine,
    describe_backend,
    ensure_schema,
    list_tables,
    mask_url,
    read_table,
    validate_table_name,
)


def test_schema_is_idempotent(db_url: str) -> None:
    engine = create_db_engine(db_url)
    ensure_schema(engine)
    ensure_schema(engine)
    assert "models" in list_tables(engine)


def test_read_table_validates_names_and_limits_rows(db_url: str) -> None:
    engine = create_db_engine(db_url)
    pd.DataFrame({"a": range(10), "b": list("abcdefghij")}).to_sql("runs", engine, index=False)
    assert len(read_table(engine, "runs")) == 10
    assert len(read_table(engine, "runs", limit=3)) == 3
    with pytest.raises(InputError, match="does not exist"):
        read_table(engine, "runs; DROP TABLE runs")
    with pytest.raises(InputError, match="does not exist"):
        validate_table_name(engine, "missing")
    assert validate_table_name(engine, "runs") == "runs"
    assert len(read_table(engine, "runs")) == 10  # still there


def test_sqlite_runs_with_wal_and_foreign_keys(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


def test_passwords_are_masked() -> None:
    url = "postgresql://admin:s3cr3t@db.example.com:5432/headroom"
    assert "s3cr3t" not in mask_url(url)
    assert "db.example.com" in mask_url(url)
    assert "s3cr3t" not in describe_backend(create_db_engine(url))


def test_unreachable_server_error_has_no_password() -> None:
    engine = create_db_engine("postgresql://admin:s3cr3t@127.0.0.1:1/headroom")
    with pytest.raises(StorageError) as err:
        list_tables(engine)
    assert "s3cr3t" not in err.value.message


def test_bad_urls_are_clear() -> None:
    with pytest.raises(StorageError, match="not valid"):
        create_db_engine("not a url")
    with pytest.raises(StorageError, match="unsupported database"):
        create_db_engine("mysql://u:p@h/db")


def test_postgres_backend_is_really_postgres(pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    with engine.connect() as conn:
        assert "PostgreSQL" in conn.execute(sa.text("select version()")).scalar()
    assert describe_backend(engine).startswith("PostgreSQL 127.0.0.1")
