"""Energy fixtures: a fresh SQLite database and model store per test; simulators always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.energy.config import EnergyConfig, energy_config
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine, ensure_schema

NOW = pd.Timestamp("2026-03-10 09:20", tz="UTC")


@dataclass
class EnergyEnv:
    engine: Engine
    registry: ModelRegistry
    config: EnergyConfig
    url: str


def make_env(url: str, model_dir: Path, **overrides: object) -> EnergyEnv:
    engine = create_db_engine(url)
    ensure_schema(engine)
    config = energy_config(seed_history_days=21, seed_forecast_days=2, train_days=21, poll_seconds=0.05,
                           **overrides)
    return EnergyEnv(engine, ModelRegistry(engine, model_dir), config, url)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[EnergyEnv]:
    e = make_env(f"sqlite:///{tmp_path / 'energy.db'}", tmp_path / "models")
    yield e
    e.engine.dispose()


@pytest.fixture(autouse=True)
def _stop_simulators() -> Iterator[None]:
    yield
    from core.energy.simulator import running_simulators

    for sim in running_simulators():
        sim.stop()


@pytest.fixture
def any_db_env(db_url: str, tmp_path: Path) -> Iterator[EnergyEnv]:
    """The same test on SQLite and on the real PostgreSQL server."""
    e = make_env(db_url, tmp_path / "models")
    yield e
    e.engine.dispose()
