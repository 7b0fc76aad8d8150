"""The Models page in AppTest, on a fresh registry (own database and model dir) per test."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.ml.registry import ModelRegistry
from core.models.config import EMPTY_STATE
from core.storage import create_db_engine
from tests.models.conftest import SeededRegistry, seed
from tests.support import app_page

PAGE = "pages/9_models.py"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    url, model_dir = f"sqlite:///{tmp_path / 'page.db'}", tmp_path / "models"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HEADROOM_MODEL_DIR", str(model_dir))
    return ModelRegistry(create_db_engine(url), model_dir)


@pytest.fixture
def seeded(registry: ModelRegistry) -> SeededRegistry:
    return seed(registry)


def _page() -> AppTest:
    at = app_page(PAGE, timeout=60).run()
    assert not at.exception, at.exception
    return at


def _table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "model_id" in d.value.columns)


def _comparison(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "field" in d.value.columns).set_index("field")


def _models(at: AppTest) -> list[str]:
    return _table(at)["model_id"].tolist()


def _act(at: AppTest, model_id: str, button: str) -> AppTest:
    at.selectbox(key="models-chosen").set_value(model_id).run()
    at.button(key=f"models-action-{button}").click().run()
    assert not at.exception, at.exception
    return at


def test_empty_registry_says_how_to_get_a_model(registry: ModelRegistry) -> None:
    at = _page()
    assert at.title[0].value == "Models"
    assert [i.value for i in at.info] == [EMPTY_STATE]
    assert not at.dataframe


def test_lists_every_model_and_filters_by_domain(seeded: SeededRegistry) -> None:
    at = _page()
    assert _models(at) == [seeded.energy.model_id, seeded.jobs_baseline.model_id, seeded.jobs_lgbm.model_id]
    table = _table(at)
    assert {"runtime.r2_log", "rmse_ratio", "size_mb", "artifact_present"} <= set(table.columns)
    assert any("**3** models · **1** deployed" in m.value for m in at.markdown)
    assert any(d.key == "models-download" for d in at.get("download_button"))

    at.selectbox(key="models-domain").set_value("jobs").run()
    assert _models(at) == [seeded.jobs_baseline.model_id, seeded.jobs_lgbm.model_id]
    assert "rmse_ratio" not in _table(at).columns


def test_compare_offers_only_the_same_domain(seeded: SeededRegistry) -> None:
    at = _page()
    at.selectbox(key="models-compare-a").set_value(seeded.jobs_lgbm.model_id).run()
    second = at.selectbox(key="models-compare-b")
    assert second.value == seeded.jobs_baseline.model_id and len(second.options) == 1
    assert second.options[0].startswith(f"{seeded.jobs_baseline.model_id} · history-baseline")
    pair = _comparison(at)
    assert list(pair.columns) == [seeded.jobs_lgbm.model_id, seeded.jobs_baseline.model_id]
    assert pair.loc["runtime.r2_log"].tolist() == ["0.81", "0.55"]
    assert pair.loc["Artifact on disk"].tolist() == ["yes", "yes"]

    at.selectbox(key="models-compare-a").set_value(seeded.energy.model_id).run()
    assert any("No other Energy Device Health (energy) model" in i.value for i in at.info)


def test_deploy_and_retire(seeded: SeededRegistry) -> None:
    at = _act(_page(), seeded.jobs_lgbm.model_id, "deploy")
    assert any(f"Deployed {seeded.jobs_lgbm.model_id}" in s.value for s in at.success)
    assert seeded.registry.get(seeded.jobs_lgbm.model_id).status == "deployed"
    assert at.button(key="models-action-deploy").disabled  # already deployed

    at = _act(at, seeded.jobs_lgbm.model_id, "retire")
    assert any(f"Retired {seeded.jobs_lgbm.model_id}" in s.value for s in at.success)
    assert seeded.registry.get(seeded.jobs_lgbm.model_id).status == "retired"
    table = _table(at).set_index("model_id")
    assert table.loc[seeded.jobs_lgbm.model_id, "status"] == "retired"


def test_delete_removes_the_artifacts(seeded: SeededRegistry) -> None:
    path = seeded.registry.artifact_dir(seeded.jobs_baseline)
    at = _page()
    at.selectbox(key="models-chosen").set_value(seeded.jobs_baseline.model_id).run()
    assert any("removes the model's artifact files" in c.value for c in at.caption)
    assert not at.checkbox  # a trained model needs no confirmation
    at = _act(at, seeded.jobs_baseline.model_id, "delete")
    assert any(f"Deleted {seeded.jobs_baseline.model_id}" in s.value for s in at.success)
    assert not path.exists()
    assert seeded.jobs_baseline.model_id not in _models(at)


def test_deleting_the_deployed_model_needs_the_confirmation_ticked(seeded: SeededRegistry) -> None:
    model_id = seeded.energy.model_id
    at = _page()
    at.selectbox(key="models-chosen").set_value(model_id).run()
    assert at.button(key="models-action-delete").disabled
    confirm = at.checkbox(key=f"models-action-confirm-{model_id}")
    assert "although it is deployed" in confirm.label
    confirm.check().run()
    assert not at.button(key="models-action-delete").disabled
    at.button(key="models-action-delete").click().run()
    assert not at.exception, at.exception
    assert not seeded.registry.artifact_dir(seeded.energy).exists()
    assert model_id not in _models(at)


def test_the_last_model_deleted_leaves_the_empty_state(registry: ModelRegistry) -> None:
    record = registry.save("jobs", {"w": 1}, algorithm="lightgbm", params={}, metrics={}, fingerprint="f")
    at = _act(_page(), record.model_id, "delete")
    assert any("Deleted" in s.value for s in at.success)
    assert [i.value for i in at.info] == [EMPTY_STATE]
