"""Model registry round trips on SQLite and a real PostgreSQL server."""

from __future__ import annotations

import shutil
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


def test_retire_keeps_the_model_listed_and_loadable(db_url: str, tmp_path: Path) -> None:
    registry = _registry(db_url, tmp_path)
    record = registry.save("jobs", {"w": 1}, algorithm="lgbm", params={}, metrics={}, fingerprint="f")
    registry.deploy(record.model_id)
    registry.retire(record.model_id)
    assert registry.get(record.model_id).status == "retired"
    assert registry.deployed("jobs") is None
    assert registry.load(record.model_id) == {"w": 1}
    with pytest.raises(InputError, match="not in the registry"):
        registry.retire("jobs-unknown")


def test_set_status_deployed_keeps_one_deployed(db_url: str, tmp_path: Path) -> None:
    registry = _registry(db_url, tmp_path)
    first = registry.save("energy", {"w": 1}, algorithm="lgbm", params={}, metrics={}, fingerprint="f", name="n")
    second = registry.save("energy", {"w": 2}, algorithm="gru", params={}, metrics={}, fingerprint="f", name="n")
    registry.set_status(first.model_id, "deployed")
    registry.set_status(second.model_id, "deployed")
    assert [r.status for r in registry.list("energy")] == ["deployed", "trained"]


def test_delete_removes_the_artifact_directory_then_the_row(db_url: str, tmp_path: Path) -> None:
    registry = _registry(db_url, tmp_path)
    kept = registry.save("jobs", {"w": 1}, algorithm="lgbm", params={}, metrics={}, fingerprint="f")
    gone = registry.save("jobs", {"w": 2}, algorithm="lgbm", params={}, metrics={}, fingerprint="f")
    path = tmp_path / "models" / "jobs" / gone.model_id
    assert path.is_dir() and registry.size_on_disk(gone.model_id) == (path / "model.joblib").stat().st_size > 0
    registry.delete(gone.model_id)
    assert not path.exists()
    assert not list((tmp_path / "models" / "jobs").glob(".*"))  # no staging or tombstone left behind
    assert [r.model_id for r in registry.list()] == [kept.model_id]
    with pytest.raises(InputError, match="not in the registry"):
        registry.delete(gone.model_id)
    assert registry.load(kept.model_id) == {"w": 1}


def test_delete_of_a_model_whose_artifact_is_already_gone_removes_its_row(db_url: str, tmp_path: Path) -> None:
    registry = _registry(db_url, tmp_path)
    record = registry.save("jobs", {"w": 1}, algorithm="lgbm", params={}, metrics={}, fingerprint="f")
    shutil.rmtree(tmp_path / "models" / "jobs" / record.model_id)
    assert registry.size_on_disk(record.model_id) == 0
    registry.delete(record.model_id)
    assert registry.list() == []


def test_a_failed_removal_leaves_the_model_listed(tmp_path: Path, sqlite_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _registry(sqlite_url, tmp_path)
    record = registry.save("jobs", {"w": 1}, algorithm="lgbm", params={}, metrics={}, fingerprint="f")

    def refuse(path: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("core.ml.registry.shutil.rmtree", refuse)
    with pytest.raises(PermissionError):
        registry.delete(record.model_id)
    assert registry.get(record.model_id).model_id == record.model_id  # listed still, so the leftover files are never orphaned
    monkeypatch.undo()
    registry.delete(record.model_id)  # a retry removes the leftover files and the row
    assert registry.list() == [] and not list((tmp_path / "models" / "jobs").iterdir())


def test_size_on_disk_counts_every_file_of_a_self_saving_artifact(tmp_path: Path, sqlite_url: str) -> None:
    registry = _registry(sqlite_url, tmp_path)
    record = registry.save("demo", _Bundle(12345), algorithm="bundle", params={}, metrics={}, fingerprint="x")
    assert registry.size_on_disk(record) == registry.size_on_disk(record.model_id) == len("12345")


def test_list_is_newest_first_with_utc_times_and_domains(db_url: str, tmp_path: Path) -> None:
    registry = _registry(db_url, tmp_path)
    registry.save("jobs", {"w": 1}, algorithm="a", params={}, metrics={}, fingerprint="f")
    registry.save("energy", {"w": 1}, algorithm="b", params={}, metrics={}, fingerprint="f")
    records = registry.list()
    assert [r.domain for r in records] == ["energy", "jobs"]
    assert all(r.created_at.utcoffset() is not None and r.created_at.utcoffset().total_seconds() == 0
               for r in records)
    assert registry.domains() == ["energy", "jobs"]
