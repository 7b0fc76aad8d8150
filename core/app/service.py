"""Services the pages share (Home, every page's resources): one call per need, no Streamlit.

Pages and ``core.ui`` reach storage only through here and the domain services, so SQL and
engine details stay in ``core.storage``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from core.config import Settings
from core.datasets import summarize_bundled
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine, describe_backend, ensure_schema, list_tables, mask_url
from core.storage.access import allowed_named_urls, check_user_url


def open_engine(url: str) -> Engine:
    """An engine for the app database with its schema ensured (idempotent)."""
    engine = create_db_engine(url)
    ensure_schema(engine)
    return engine


def open_registry(engine: Engine, model_dir: str | Path) -> ModelRegistry:
    return ModelRegistry(engine, Path(model_dir))


def storage_description(engine: Engine) -> str:
    """Where data lives, in one line, password masked."""
    return describe_backend(engine)


def masked(url: str) -> str:
    return mask_url(url)


def bundled_datasets(settings: Settings) -> pd.DataFrame:
    """One row per bundled data set: file, title, rows, size, date range, which page uses it."""
    return pd.DataFrame([s.__dict__ for s in summarize_bundled(settings.data_dir)])


def named_databases(settings: Settings) -> dict[str, str]:
    """Databases a visitor may pick by name (the app database, those named in secrets)."""
    return allowed_named_urls(settings)


def user_database(url: str, settings: Settings) -> Engine:
    """An engine for a database a visitor chose, if the deployment's policy allows it."""
    return create_db_engine(check_user_url(url, settings))


def user_tables(url: str, settings: Settings) -> list[str]:
    """The tables of a visitor's database (policy checked, engine disposed after)."""
    engine = user_database(url, settings)
    try:
        return list_tables(engine)
    finally:
        engine.dispose()
