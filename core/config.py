"""Settings from environment variables, with defaults that need no configuration.

The UI layer may pass Streamlit secrets as ``overrides`` (same keys); core never
reads secrets itself so it runs the same from the CLI, tests and the app.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Keys accepted from the environment or from secrets, with their defaults.
ENV_DATABASE_URL = "DATABASE_URL"
ENV_DATA_DIR = "HEADROOM_DATA_DIR"
ENV_MODEL_DIR = "HEADROOM_MODEL_DIR"
ENV_STATE_DIR = "HEADROOM_STATE_DIR"
ENV_SIM_SPEED = "HEADROOM_SIM_SPEED"
ENV_MAX_UPLOAD_ROWS = "HEADROOM_MAX_UPLOAD_ROWS"

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
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        model_dir=model_dir,
        state_dir=state_dir,
        sim_speed=max(sim_speed, 0.0),
        max_upload_rows=max_rows,
    )
