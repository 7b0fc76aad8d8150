"""A small registry of real (tiny) models of two domains, for the service, CLI and page tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from core.ml.registry import ModelRecord, ModelRegistry
from core.storage import create_db_engine


def fitted_model(slope: float = 3.0) -> LinearRegression:
    X = np.arange(20, dtype=float).reshape(-1, 2)
    return LinearRegression().fit(X, X[:, 0] * slope + 1)


JOBS_METRICS = {
    "runtime": {"r2_log": 0.81, "mae": 12.5},
    "memory": {"r2_log": 0.9, "mae": None},
    "by_stage": [{"stage": "route", "r2_log": 0.7}],  # a breakdown: never a column
    "split": {"train_rows": 900, "test_start": "2024-01-01", "deep": {"too": {"far": 1.0}}},
    "fit_seconds": 1.5,
}
ENERGY_METRICS = {"rmse": 0.31, "rmse_ratio": 0.72, "n_validation": 480, "cutoff": "2024-05-01 00:00"}


@dataclass(frozen=True)
class SeededRegistry:
    registry: ModelRegistry
    jobs_lgbm: ModelRecord
    jobs_baseline: ModelRecord
    energy: ModelRecord  # deployed


def seed(registry: ModelRegistry) -> SeededRegistry:
    """Two jobs models (trained) and one deployed energy model, oldest first."""
    lgbm = registry.save("jobs", fitted_model(3), algorithm="lightgbm", name="lightgbm", fingerprint="a1b2c3d4e5f6a7b8c9",
                         params={"half_life_days": 30, "mapping": {"runtime": "real_time"}}, metrics=JOBS_METRICS)
    baseline = registry.save("jobs", fitted_model(2), algorithm="history-baseline", name="history-baseline",
                             fingerprint="a1b2c3d4e5f6a7b8c9", params={}, metrics={"runtime": {"r2_log": 0.55}})
    energy = registry.save("energy", fitted_model(1), algorithm="lightgbm", name="next-hour", fingerprint="ffee",
                           params={"n_estimators": 200}, metrics=ENERGY_METRICS)
    registry.deploy(energy.model_id)
    return SeededRegistry(registry, lgbm, baseline, registry.get(energy.model_id))


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(create_db_engine(f"sqlite:///{tmp_path / 'registry.db'}"), tmp_path / "models")


@pytest.fixture
def seeded(registry: ModelRegistry) -> SeededRegistry:
    return seed(registry)
