"""AutoML models on the Models page: a done AutoML job is one model of domain ``automl``, listed,
compared, deployed, undeployed and deleted through the Models service, which acts through the AutoML
job registry (its ONNX parity gate, its per-job deploy, its delete with files).

The jobs are real rows and files: a small logistic regression is trained in this process and
recorded with ``JobRegistry.mark_done``, as the worker does (no worker, no search: well under a second).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.automl.artifact import MODEL_FILE
from core.automl.jobs import JobRegistry
from core.errors import HeadroomError, InputError
from core.models import service
from core.models.config import EMPTY_STATE, TABLE_COLUMNS
from tests.models.automl_stores import Stores
from tests.support import app_page

PAGE = "pages/9_models.py"


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    return Stores(f"sqlite:///{tmp_path / 'models.db'}", tmp_path / "models")


# --- the service -------------------------------------------------------------------------------------------

def test_a_done_automl_job_is_a_model_of_domain_automl(stores: Stores) -> None:
    catalog = service.catalog(stores.registry, stores.jobs)
    assert catalog.problem is None
    assert catalog.domains == ["automl", "energy", "jobs"]
    table = catalog.table()
    # Newest first across both sources; a queued job has no model and is not listed.
    assert table["model_id"].tolist()[:2] == [stores.job, stores.refused]
    assert stores.queued not in table["model_id"].tolist() and len(table) == 5
    row = table.set_index("model_id").loc[stores.job]
    assert (row["domain"], row["algorithm"], row["name"], row["status"]) == ("automl", "logistic", "churn", "trained")
    assert row["artifact_present"] and 0 < row["size_mb"] < 1
    assert row["created_at"] == pd.Timestamp(stores.jobs.get(stores.job).finished_at).tz_convert("UTC")
    # Its held-out test scores are its metric columns; the default LightGBM's baseline score is not one.
    assert row["accuracy"] == stores.jobs.get(stores.job).metrics["test"]["accuracy"]  # type: ignore[index]
    assert "default_accuracy" not in table.columns

    automl = catalog.table("automl")
    assert automl["model_id"].tolist() == [stores.job, stores.refused]
    assert [c for c in automl.columns if c not in TABLE_COLUMNS] == ["accuracy"]
    # Without the AutoML registry the service lists what it listed before.
    assert service.domains(stores.registry) == ["energy", "jobs"]


def test_compare_two_automl_models(stores: Stores) -> None:
    pair = service.compare(stores.registry, stores.job, stores.refused, stores.jobs)
    assert pair.loc["domain"].tolist() == ["automl", "automl"]
    assert pair.loc["name"].tolist() == ["churn", "refused export"]
    assert pair.loc["params.target"].tolist() == ["y", "y"]
    assert "accuracy" in pair.index
    with pytest.raises(InputError, match="compare two models of one domain"):
        service.compare(stores.registry, stores.job, stores.seeded.energy.model_id, stores.jobs)


def test_deploy_and_retire_act_on_the_automl_job(stores: Stores) -> None:
    change = service.apply(stores.registry, "deploy", stores.job, automl=stores.jobs)
    assert change.status == "deployed" and change.domain == "automl"
    assert stores.jobs.get(stores.job).deployed
    # AutoML's own rule: one deployed model per job, and the registry's deployed energy model is untouched.
    assert stores.registry.get(stores.seeded.energy.model_id).status == "deployed"
    assert "already deployed" in service.deploy(stores.registry, stores.job, stores.jobs).message

    # The parity gate refuses, with the AutoML registry's own reason.
    with pytest.raises(InputError, match="does not reproduce the trained one.*no ONNX converter"):
        service.apply(stores.registry, "deploy", stores.refused, automl=stores.jobs)
    assert not stores.jobs.get(stores.refused).deployed

    change = service.apply(stores.registry, "retire", stores.job, automl=stores.jobs)
    assert change.status == "trained" and "Undeployed" in change.message
    assert not stores.jobs.get(stores.job).deployed
    assert "not deployed" in service.retire(stores.registry, stores.job, stores.jobs).message

    with pytest.raises(InputError, match="is queued: only a done job has a model"):
        service.deploy(stores.registry, stores.queued, stores.jobs)


def test_delete_removes_the_automl_job_and_its_files(stores: Stores) -> None:
    directory = stores.jobs.job_dir(stores.job)
    assert (directory / MODEL_FILE).is_file()
    service.deploy(stores.registry, stores.job, stores.jobs)
    with pytest.raises(service.ConfirmationNeeded, match="is deployed"):
        service.apply(stores.registry, "delete", stores.job, automl=stores.jobs)
    assert directory.is_dir()  # nothing touched

    change = service.apply(stores.registry, "delete", stores.job, confirm_deployed=True, automl=stores.jobs)
    assert change.status == "deleted" and change.freed_bytes > 0 and "its files" in change.message
    assert not directory.exists()
    with pytest.raises(InputError, match="does not exist"):
        stores.jobs.get(stores.job)
    assert stores.job not in service.model_table(stores.registry, automl=stores.jobs)["model_id"].tolist()


def test_an_unreadable_automl_registry_leaves_the_other_domains_listed(stores: Stores) -> None:
    stores.break_automl_table()
    catalog = service.catalog(stores.registry, stores.jobs)
    assert catalog.domains == ["energy", "jobs"] and len(catalog.table()) == 3
    assert catalog.problem is not None and "AutoML models are not listed" in catalog.problem
    assert "metrics" in catalog.problem  # the database's own words: which column is missing



def test_a_registry_that_cannot_be_opened_is_reported_and_acting_on_it_is_a_clear_error(stores: Stores) -> None:
    def unreachable() -> JobRegistry:
        raise OSError("connection refused")

    automl = service.open_automl_jobs(unreachable)
    catalog = service.catalog(stores.registry, automl)
    assert len(catalog.table()) == 3 and "connection refused" in (catalog.problem or "")
    with pytest.raises(HeadroomError, match="could not be opened: connection refused"):
        service.describe(stores.registry, stores.job, automl=automl)

# --- the page ------------------------------------------------------------------------------------------------

@pytest.fixture
def page_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stores:
    url, model_dir = f"sqlite:///{tmp_path / 'page.db'}", tmp_path / "models"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HEADROOM_MODEL_DIR", str(model_dir))
    return Stores(url, model_dir)


def _page() -> AppTest:
    at = app_page(PAGE, timeout=60).run()
    assert not at.exception, at.exception
    return at


def _table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "model_id" in d.value.columns).set_index("model_id")


def test_the_page_lists_an_automl_model_and_deploys_it(page_stores: Stores) -> None:
    at = _page()
    table = _table(at)
    assert table.loc[page_stores.job, "domain"] == "automl"
    assert table.loc[page_stores.job, "algorithm"] == "logistic"
    assert any("**5** models · **1** deployed" in m.value for m in at.markdown)
    assert "AutoML (automl)" in at.selectbox(key="models-domain").options

    at.selectbox(key="models-chosen").set_value(page_stores.job).run()
    assert at.button(key="models-action-retire").label == "Undeploy"
    assert at.button(key="models-action-retire").disabled  # not deployed: nothing to undeploy
    at.button(key="models-action-deploy").click().run()
    assert not at.exception, at.exception
    assert any(f"Deployed {page_stores.job}" in s.value for s in at.success)
    assert page_stores.jobs.get(page_stores.job).deployed
    assert _table(at).loc[page_stores.job, "status"] == "deployed"

    # A refused deploy shows the parity reason, and nothing changes.
    at.selectbox(key="models-chosen").set_value(page_stores.refused).run()
    at.button(key="models-action-deploy").click().run()
    assert any("no ONNX converter" in e.value for e in at.error)
    assert not page_stores.jobs.get(page_stores.refused).deployed
    assert not at.button(key="models-action-delete").disabled  # the other controls stay in place


def test_the_page_reports_an_unreadable_automl_registry(page_stores: Stores) -> None:
    page_stores.break_automl_table()
    at = _page()
    assert any("AutoML models are not listed" in w.value for w in at.warning)
    assert sorted(_table(at)["domain"]) == ["energy", "jobs", "jobs"]


def test_no_models_and_no_automl_jobs_is_the_empty_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("HEADROOM_MODEL_DIR", str(tmp_path / "models"))
    at = _page()
    assert [i.value for i in at.info] == [EMPTY_STATE] and not at.warning
