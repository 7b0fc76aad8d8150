"""Model registry round trips on SQLite and a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from core.errors import InputError
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine


def _registry(db_url: str, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(create_db_engine(db_url), tmp_path / "models")


def test_joblib_round_trip_keeps_predictions_and_metadata(db_url: str, tmp_path: Path) -> None:
    X = np.arange(20, dtype=float).reshape(-1, 2)
    model = LinearRegression().fit(X, X[:, 0] * 3 + 1)
    registry = _registry(db_url, tmp_path)
    record = registry.save("jobs", model, algorithm="linear", params={"fit_intercept": True},
                           metrics={"r2": np.float64(0.9), "mae": float("nan")}, fingerprint="abc123")
    loaded = registry.load(record.model_id)
    assert np.allclose(loaded.predict(X), model.predict(X))
    stored = registry.get(record.model_id)
    assert stored.metrics == {"r2": 0.9, "mae": None}
    assert stored.fingerprint == "abc123" and stored.status == "trained"
    assert (tmp_path / "models" / "jobs" / record.model_id / "model.joblib").exists()


def test_deploy_keeps_one_deployed_per_domain_and_name(db_url: str, tmp_path: Path) -> None:
    registry = _registry(db_url, tmp_path)
    first = registry.save("energy", {"w": 1}, algorithm="lgbm", params={}, metrics={}, fingerprint="f")
    second = registry.save("energy", {"w": 2}, algorithm="lgbm", params={}, metrics={}, fingerprint="f")
    registry.deploy(first.model_id)
    registry.deploy(second.model_id)
    assert registry.deployed("energy").model_id == second.model_id
    assert registry.get(first.model_id).status == "trained"
    assert [r.model_id for r in registry.list("energy")] == [second.model_id, first.model_id]


def test_self_saving_artifact_round_trip(tmp_path: Path, sqlite_url: str) -> None:
    registry = _registry(sqlite_url, tmp_path)
    record = registry.save("demo", _Bundle(7), algorithm="bundle", params={}, metrics={}, fingerprint="x")
    assert record.artifact_kind.startswith("dir:tests.ml.test_registry")
    # Classes outside the core package are never loaded, even when they saved themselves.
    with pytest.raises(InputError, match="not written by Headroom"):
        registry.load(record.model_id)


def test_unknown_and_unsafe_ids_are_refused(tmp_path: Path, sqlite_url: str) -> None:
    registry = _registry(sqlite_url, tmp_path)
    with pytest.raises(InputError, match="not in the registry"):
        registry.load("nope")
    with pytest.raises(InputError, match="not a valid model id"):
        registry._path("jobs", "../../etc")


class _Bundle:
    def __init__(self, value: int) -> None:
        self.value = value

    def save_to_dir(self, path: Path) -> None:
        (path / "value.txt").write_text(str(self.value))

    @classmethod
    def load_from_dir(cls, path: Path) -> _Bundle:
        return cls(int((path / "value.txt").read_text()))


def test_keras_model_round_trip(tmp_path: Path, sqlite_url: str) -> None:
    from core.ml.lazy import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    X = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    model.fit(X, X.sum(axis=1), epochs=1, verbose=0)
    registry = _registry(sqlite_url, tmp_path)
    record = registry.save("demo", model, algorithm="dense", params={"units": 4}, metrics={}, fingerprint="k")
    assert record.artifact_kind == "keras"
    loaded = registry.load(record.model_id)
    assert np.allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
