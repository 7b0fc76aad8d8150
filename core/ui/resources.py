"""Process-wide resources behind ``st.cache_resource``: settings, engine, registry."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from sqlalchemy import Engine

from core.app.service import open_engine, open_registry
from core.config import ENV_ALLOW_TYPED_DB_URLS, KEY_NAMED_DB_URLS, Settings, get_settings
from core.ml.registry import ModelRegistry

_SECRET_KEYS = ("DATABASE_URL", "HEADROOM_DATA_DIR", "HEADROOM_MODEL_DIR", "HEADROOM_STATE_DIR",
                "HEADROOM_SIM_SPEED", "HEADROOM_MAX_UPLOAD_ROWS", ENV_ALLOW_TYPED_DB_URLS)


def _secrets() -> Mapping[str, object]:
    """Top-level keys of secrets.toml, ``[connections.headroom] url`` as DATABASE_URL, and the
    ``[database_urls]`` table of named sources (``JOBS_SOURCE_URL`` is read as one of them)."""
    try:
        secrets = dict(st.secrets)
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):  # no secrets.toml: fine
        return {}
    found: dict[str, object] = {k: secrets[k] for k in _SECRET_KEYS if k in secrets}
    connections = secrets.get("connections")
    connection = connections.get("headroom", {}) if isinstance(connections, Mapping) else {}
    if "DATABASE_URL" not in found and isinstance(connection, Mapping) and connection.get("url"):
        found["DATABASE_URL"] = connection["url"]
    named = secrets.get(KEY_NAMED_DB_URLS)
    urls = {str(k): str(v) for k, v in named.items()} if isinstance(named, Mapping) else {}
    if secrets.get("JOBS_SOURCE_URL"):
        urls.setdefault("jobs source", str(secrets["JOBS_SOURCE_URL"]))
    if urls:
        found[KEY_NAMED_DB_URLS] = urls
    return found


def app_settings() -> Settings:
    """Settings for the app: Streamlit secrets override environment variables."""
    return get_settings(_secrets())


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return open_engine(url)


def get_engine() -> Engine:
    """The process's engine for the configured database, schema ensured once."""
    return _engine(app_settings().database_url)


@st.cache_resource(show_spinner=False)
def _registry(url: str, model_dir: str) -> ModelRegistry:
    return open_registry(_engine(url), model_dir)


def get_registry() -> ModelRegistry:
    settings = app_settings()
    return _registry(settings.database_url, str(settings.model_dir))
