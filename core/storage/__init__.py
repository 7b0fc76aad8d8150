"""Storage: one SQLAlchemy engine, an idempotent schema, and one repository module per domain."""

from core.storage.engine import create_db_engine, describe_backend, mask_url
from core.storage.introspect import list_tables, read_table, validate_table_name
from core.storage.schema import ensure_schema, metadata

__all__ = [
    "create_db_engine",
    "describe_backend",
    "mask_url",
    "list_tables",
    "read_table",
    "validate_table_name",
    "ensure_schema",
    "metadata",
]
