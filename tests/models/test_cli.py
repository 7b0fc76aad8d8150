"""``python -m core models list | show | delete`` in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.ml.registry import ModelRegistry
from core.storage import create_db_engine
from tests.models.automl_stores import Stores
from tests.models.conftest import SeededRegistry, seed
from tests.support import ROOT


@pytest.fixture
def store(tmp_path: Path) -> SeededRegistry:
    return seed(ModelRegistry(create_db_engine(f"sqlite:///{tmp_path / 'cli.db'}"), tmp_path / "models"))


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", HEADROOM_MODEL_DIR=str(tmp_path / "models"))
    return subprocess.run([sys.executable, "-m", "core", "models", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _json(out: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1  # exactly one JSON object
    return json.loads(lines[0])


def test_list_every_domain_and_one(store: SeededRegistry, tmp_path: Path) -> None:
    everything = _json(_run(["list", "--json"], tmp_path))
    assert everything["count"] == 3
    assert [m["domain"] for m in everything["models"]] == ["energy", "jobs", "jobs"]
    lgbm = next(m for m in everything["models"] if m["model_id"] == store.jobs_lgbm.model_id)
    assert lgbm["metrics"]["runtime.r2_log"] == 0.81 and "rmse" not in lgbm["metrics"]
    assert lgbm["artifact_present"] is True and lgbm["status"] == "trained"

    jobs = _json(_run(["list", "--domain", "jobs", "--json"], tmp_path))
    assert [m["model_id"] for m in jobs["models"]] == [store.jobs_baseline.model_id, store.jobs_lgbm.model_id]

    human = _run(["list"], tmp_path)
    assert human.returncode == 0 and store.energy.model_id in human.stdout


def test_show_gives_the_full_row(store: SeededRegistry, tmp_path: Path) -> None:
    shown = _json(_run(["show", store.jobs_lgbm.model_id, "--json"], tmp_path))
    assert shown["fingerprint"] == "a1b2c3d4e5f6a7b8c9" and shown["artifact_kind"] == "joblib"
    assert shown["metrics"]["by_stage"] == [{"stage": "route", "r2_log": 0.7}]  # nested, in full
    assert shown["size_bytes"] > 0 and shown["artifact_present"] is True


def test_delete_and_the_deployed_guard(store: SeededRegistry, tmp_path: Path) -> None:
    gone = _json(_run(["delete", store.jobs_baseline.model_id, "--json"], tmp_path))
    assert gone["status"] == "deleted" and gone["freed_bytes"] > 0
    assert not (tmp_path / "models" / "jobs" / store.jobs_baseline.model_id).exists()

    refused = _run(["delete", store.energy.model_id, "--json"], tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: ") and len(refused.stderr.strip().splitlines()) == 1
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert (tmp_path / "models" / "energy" / store.energy.model_id).is_dir()

    confirmed = _json(_run(["delete", store.energy.model_id, "--yes", "--json"], tmp_path))
    assert confirmed["status"] == "deleted"
    assert _json(_run(["list", "--json"], tmp_path))["count"] == 1


@pytest.mark.parametrize("args", [["show", "jobs-nope"], ["delete", "../../etc", "--yes"], ["show"], ["frobnicate"]])
def test_bad_input_exits_2_with_one_error_line(store: SeededRegistry, tmp_path: Path, args: list[str]) -> None:
    out = _run(args, tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_list_show_and_delete_cover_automl_models(tmp_path: Path) -> None:
    stores = Stores(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path / "models")
    listed = _json(_run(["list", "--domain", "automl", "--json"], tmp_path))
    assert [m["model_id"] for m in listed["models"]] == [stores.job, stores.refused]  # done jobs only, newest first
    assert listed["models"][0]["algorithm"] == "logistic" and "accuracy" in listed["models"][0]["metrics"]
    assert "warning" not in listed
    shown = _json(_run(["show", stores.job, "--json"], tmp_path))
    assert shown["domain"] == "automl"
    assert _json(_run(["delete", stores.job, "--json"], tmp_path))["model_id"] == stores.job
    assert not stores.jobs.job_dir(stores.job).exists()
    assert _json(_run(["list", "--json"], tmp_path))["count"] == 4  # three registry models and the refused job


def test_list_warns_when_the_automl_registry_cannot_be_read(tmp_path: Path) -> None:
    stores = Stores(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path / "models")
    stores.break_automl_table()
    listed = _json(_run(["list", "--json"], tmp_path))
    assert listed["count"] == 3 and "AutoML models are not listed" in listed["warning"]
