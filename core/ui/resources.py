"""Process-wide resources behind ``st.cache_resource``: settings, engine, registry."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from sqlalchemy import Engine

from core.config import Settings, get_settings
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine, ensure_schema

_SECRET_KEYS = ("DATABASE_URL", "HEADROOM_DATA_DIR", "HEADROOM_MODEL_DIR", "HEADROOM_STATE_DIR",
                "HEADROOM_SIM_SPEED", "HEADROOM_MAX_UPLOAD_ROWS")


def _secrets() -> Mapping[str, object]:
    """Top-level keys of secrets.toml, plus ``[connections.headroom] url`` as DATABASE_URL."""
    try:
        secrets = dict(st.secrets)
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):  # no secrets.toml: fine
        return {}
    found: dict[str, object] = {k: secrets[k] for k in _SECRET_KEYS if k in secrets}
    connection = secrets.get("connections", {}).get("headroom", {}) if isinstance(secrets.get("connections"), Mapping) else {}
    if "DATABASE_URL" not in found and isinstance(connection, Mapping) and connection.get("url"):
        found["DATABASE_URL"] = connection["url"]
    return found


def app_settings() -> Settings:
    """Settings for the app: Streamlit secrets override environment variables."""
    return get_settings(_secrets())


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    engine = create_db_engine(url)
    ensure_schema(engine)
    return engine


def get_engine() -> Engine:
    """The process's engine for the configured database, schema ensured once."""
    return _engine(app_settings().database_url)


@st.cache_resource(show_spinner=False)
def _registry(url: str, model_dir: str) -> ModelRegistry:
    from pathlib import Path

    return ModelRegistry(_engine(url), Path(model_dir))


def get_registry() -> ModelRegistry:
    settings = app_settings()
    return _registry(settings.database_url, str(settings.model_dir))
