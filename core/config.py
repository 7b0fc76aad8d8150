"""Settings from environment variables, with defaults that need no configuration.

The UI layer may pass Streamlit secrets as ``overrides`` (same keys); core never
reads secrets itself so it runs the same from the CLI, tests and the app.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Keys accepted from the environment or from secrets, with their defaults.
ENV_DATABASE_URL = "DATABASE_URL"
ENV_DATA_DIR = "HEADROOM_DATA_DIR"
ENV_MODEL_DIR = "HEADROOM_MODEL_DIR"
ENV_STATE_DIR = "HEADROOM_STATE_DIR"
ENV_SIM_SPEED = "HEADROOM_SIM_SPEED"
ENV_MAX_UPLOAD_ROWS = "HEADROOM_MAX_UPLOAD_ROWS"
ENV_ALLOW_TYPED_DB_URLS = "HEADROOM_ALLOW_TYPED_DB_URLS"
# A Dask scheduler address (tcp://host:8786): per-series and per-window work runs on that cluster.
ENV_DASK_SCHEDULER = "HEADROOM_DASK_SCHEDULER"
# Named database URLs (a ``[database_urls]`` table in secrets: name = "url"): sources and outputs a
# visitor may pick on a shared deployment, where typing a URL is turned off.
KEY_NAMED_DB_URLS = "database_urls"

DEFAULT_MAX_UPLOAD_ROWS = 2_000_000


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a Headroom process."""

    database_url: str
    data_dir: Path  # bundled, read-only data sets
    model_dir: Path  # trained artifacts: models/<domain>/<model_id>/
    state_dir: Path  # where the default SQLite file lives
    sim_speed: float  # simulated hours per real minute; 0 = real time
    max_upload_rows: int
    # A visitor may type a SQLAlchemy URL for sources and outputs. On by default for a local run;
    # turn it off for a shared deployment (the server could reach any host and file it can).
    allow_typed_db_urls: bool = True
    named_db_urls: Mapping[str, str] = field(default_factory=dict)
    dask_scheduler: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _pick(key: str, overrides: Mapping[str, object] | None) -> str | None:
    if overrides and overrides.get(key) not in (None, ""):
        return str(overrides[key])
    value = os.environ.get(key)
    return value if value not in (None, "") else None


def get_settings(overrides: Mapping[str, object] | None = None) -> Settings:
    """Read settings: ``overrides`` (e.g. Streamlit secrets) win over the environment."""
    data_dir = Path(_pick(ENV_DATA_DIR, overrides) or PROJECT_ROOT / "data")
    model_dir = Path(_pick(ENV_MODEL_DIR, overrides) or PROJECT_ROOT / "models")
    state_dir = Path(_pick(ENV_STATE_DIR, overrides) or PROJECT_ROOT / ".state")
    database_url = _pick(ENV_DATABASE_URL, overrides) or f"sqlite:///{state_dir / 'headroom.db'}"
    if database_url.startswith("postgres://"):  # Heroku-style alias SQLAlchemy rejects
        database_url = "postgresql://" + database_url[len("postgres://") :]
    try:
        sim_speed = float(_pick(ENV_SIM_SPEED, overrides) or 0.0)
    except ValueError as exc:
        raise ValueError(f"{ENV_SIM_SPEED} must be a number of simulated hours per minute") from exc
    try:
        max_rows = int(_pick(ENV_MAX_UPLOAD_ROWS, overrides) or DEFAULT_MAX_UPLOAD_ROWS)
    except ValueError as exc:
        raise ValueError(f"{ENV_MAX_UPLOAD_ROWS} must be a whole number") from exc
    allow_typed = _flag(_pick(ENV_ALLOW_TYPED_DB_URLS, overrides), ENV_ALLOW_TYPED_DB_URLS, default=True)
    named = overrides.get(KEY_NAMED_DB_URLS) if overrides else None
    named_urls = {str(k): str(v) for k, v in named.items() if v} if isinstance(named, Mapping) else {}
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        model_dir=model_dir,
        state_dir=state_dir,
        sim_speed=max(sim_speed, 0.0),
        max_upload_rows=max_rows,
        allow_typed_db_urls=allow_typed,
        named_db_urls=named_urls,
        dask_scheduler=_pick(ENV_DASK_SCHEDULER, overrides),
    )


def _flag(value: str | None, key: str, *, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{key} must be true or false, not '{value}'")
