"""The AutoML page in AppTest, with the real background worker: no service is patched.

The user's story: open the page, pick the wine sample, read the EDA report, train in reproducible mode
with a small budget (a real job in a real child process), follow it to done, read the leaderboard,
tag and deploy the model, predict one row from the form and a CSV of rows with its drift report. Bad
uploads and a target that cannot be learned show their message, never a traceback.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.automl.worker import running_workers
from tests.support import ROOT, app_page

PAGE = "pages/5_automl.py"
TAB = "automl_tab"
JOB_TIMEOUT = 300  # seconds a small job may take on a busy 2-core machine (its child imports take a while)
WINE = ROOT / "data" / "automl" / "wine.csv"


@pytest.fixture(scope="module", autouse=True)
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database and model store of this module's own, empty caches, and no worker left running after."""
    import streamlit as st

    from core.ui import automl_common, automl_jobs

    root = tmp_path_factory.mktemp("automl-page")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{root / 'automl.db'}")
        patch.setenv("HEADROOM_MODEL_DIR", str(root / "models"))
        patch.setenv("HEADROOM_STATE_DIR", str(root / "state"))
        st.cache_data.clear()
        try:
            yield root
        finally:
            for worker in running_workers():
                worker.stop(timeout=10, terminate=True)
            for cached in (automl_common._worker, automl_common._jobs, automl_jobs._model):
                cached.clear()
            st.cache_data.clear()


def _page() -> AppTest:
    at = app_page(PAGE, timeout=180).run()
    assert not at.exception, at.exception
    return at


def _open_tab(at: AppTest, label: str) -> AppTest:
    at.query_params[TAB] = label
    at.session_state[TAB] = label
    at.run()
    assert not at.exception, at.exception
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _scoped(widgets, name: str):  # type: ignore[no-untyped-def]
    """The widget ``name`` of the current data set (and target): its key carries that scope."""
    return next(w for w in widgets if str(w.key).startswith(name) and "__" in str(w.key))


def _roles(at: AppTest) -> dict[str, str]:
    """The column table's roles (the data editor is the frame with a "detected" column)."""
    editor = next(d.value for d in at.dataframe if "detected" in d.value.columns)
    return dict(zip(editor["column"], editor["role"], strict=True))


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _wait_for_results(at: AppTest) -> tuple[AppTest, float]:
    """Rerun the page (as the live fragment would) until the selected job shows its leaderboard."""
    started = time.monotonic()
    while time.monotonic() - started < JOB_TIMEOUT:
        time.sleep(2)
        at.run()
        assert not at.exception, at.exception
        failed = [e for e in _errors(at) if e.startswith("This job failed")]
        assert not failed, failed
        if any(s.value == "Leaderboard" for s in at.subheader):
            return at, time.monotonic() - started
    pytest.fail(f"the job did not finish in {JOB_TIMEOUT} s")


def test_the_page_opens_on_a_sample_with_its_eda_report() -> None:
    at = _page()
    assert at.title[0].value == "AutoML"
    labels = [t.label for t in at.tabs]
    assert labels[0] == "Build a model" and "Warnings" in labels  # only the open tab runs (and its EDA tabs)
    assert _scoped(at.selectbox, "automl_target").value == "Survived"  # titanic's own target, preselected
    metrics = _metrics(at)
    assert metrics["Rows"] == "891" and metrics["Columns"] == "12" and metrics["Missing cells"] == "866"
    assert len(at.get("plotly_chart")) >= 3  # a distribution, the target, the associations
    assert _scoped(at.radio, "automl_task").value == "classification"
    assert any("Automatic from the row count: 891 rows → 120 s (under 1,000 rows 120 s;" in c.value
               for c in at.caption)  # the automatic budget and its rule
    assert at.download_button(key="automl_dl_eda").label == "Download the EDA report (HTML)"
    roles = _roles(at)
    assert "Survived" not in roles  # the target row is fixed, not editable
    assert roles["PassengerId"] == "id" and roles["Name"] == "text" and roles["Sex"] == "feature"
    assert not _errors(at)


def test_flagged_leaks_are_dropped_with_one_click() -> None:
    at = _page()
    at.selectbox(key="automl_sample").set_value("taxis.csv").run()
    assert not at.exception, at.exception
    assert _scoped(at.selectbox, "automl_target").value == "total"  # the new sample's target, not titanic's
    flagged = [w.value for w in at.warning if "total = fare + tip + tolls" in w.value]
    assert len(flagged) == 3, [w.value for w in at.warning]
    at.button(key="automl_drop_leaks").click().run()
    assert not at.exception, at.exception
    roles = _roles(at)
    assert roles["fare"] == roles["tip"] == roles["tolls"] == "drop"
    assert any("Changed by you: fare, tip, tolls" in c.value for c in at.caption)
    assert at.button(key="automl_drop_leaks").proto.disabled  # done: nothing left to drop
    assert _scoped(at.selectbox, "automl_time").value == "pickup"  # detected: a time-ordered split


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("empty.csv", b"", "file 'empty.csv': is empty"),
    ("picture.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "is not a CSV text file"),
    ("header.csv", b"a,b,c\n", "has a header but no data rows"),
], ids=["empty", "binary", "header-only"])
def test_a_bad_upload_shows_its_message_not_a_traceback(name: str, content: bytes, expected: str) -> None:
    at = _page()
    at.radio(key="automl_source").set_value("Upload a CSV").run()
    at.file_uploader(key="automl_upload").set_value((name, content, "text/csv")).run()
    assert not at.exception, at.exception
    assert any(expected in e for e in _errors(at)), _errors(at)
    assert not at.header or at.header[-1].value == "1. Data"  # nothing past the data step


def test_a_target_with_one_value_is_refused_with_its_reason() -> None:
    frame = pd.DataFrame({"x": range(40), "y": ["same"] * 40})
    at = _page()
    at.radio(key="automl_source").set_value("Upload a CSV").run()
    at.file_uploader(key="automl_upload").set_value(("constant.csv", frame.to_csv(index=False).encode(),
                                                     "text/csv")).run()
    assert not at.exception, at.exception
    assert _scoped(at.selectbox, "automl_target").value == "y"  # an upload's last column
    assert _errors(at) and "y" in _errors(at)[0], _errors(at)


def test_train_in_the_background_deploy_and_predict() -> None:
    at = _page()
    at.selectbox(key="automl_sample").set_value("wine.csv").run()
    _scoped(at.radio, "automl_budget_mode").set_value("Set seconds").run()
    _scoped(at.number_input, "automl_budget_seconds").set_value(20)
    _scoped(at.checkbox, "automl_reproducible").check().run()
    _scoped(at.number_input, "automl_trials").set_value(5)
    _scoped(at.text_input, "automl_job_name").input("wine page test")
    at.button(key="automl_train").click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)

    # The page moved to the Jobs tab on the new job, queued or already running, with its progress card.
    assert at.session_state[TAB] == "Jobs and results"
    assert any(s.value.startswith("Job queued with a 20 s budget") for s in at.success)
    assert any(m.value.startswith("**wine page test** · ") for m in at.markdown)
    at, waited = _wait_for_results(at)
    print(f"\nthe 20 s job was done {waited:.0f} s after it was queued")

    metrics = _metrics(at)
    assert {"CV log loss", "Test ROC AUC", "Test accuracy", "Trials"} <= set(metrics)
    assert any(m.value.startswith("Chosen model: **") for m in at.markdown)
    assert 0.5 < float(metrics["Test ROC AUC"]) <= 1.0
    board = next(d for d in at.dataframe if "ONNX export" in d.value.columns).value
    assert len(board) >= 1 and "CV log loss" in board.columns
    assert len(at.get("plotly_chart")) == 5  # leaderboard, confusion matrix, ROC, importance, ledger
    downloads = {d.key for d in at.download_button}
    assert {"automl_dl_leaderboard", "automl_dl_test_predictions", "automl_dl_report", "automl_dl_test_scores",
            "automl_dl_ledger", "automl_dl_importance", "automl_dl_jobs", "automl_dl_run_card"} <= downloads
    job_id = at.selectbox(key="automl_job").value
    assert job_id.startswith("job-")

    at.text_input(key=f"automl_tags_{job_id}").input("wine, baseline")
    at.button(key=f"automl_save_tags_{job_id}").click().run()
    assert any(s.value == "Tags saved." for s in at.success)
    jobs_shown = next(d for d in at.dataframe if "tags" in d.value.columns).value
    assert jobs_shown["tags"].iloc[0] == "wine, baseline"

    at.button(key=f"automl_deploy_{job_id}").click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    assert any("is deployed" in s.value for s in at.success)
    assert at.button(key=f"automl_undeploy_{job_id}")  # deployed: the button turned into Undeploy

    _open_tab(at, "Predict")
    assert at.download_button(key="automl_dl_model.joblib") and at.download_button(key="automl_dl_model.onnx")
    _button(at, "Predict").click().run()
    assert not at.exception, at.exception
    assert _metrics(at)["Predicted target"] in ("class_0", "class_1", "class_2")
    assert len(at.get("plotly_chart")) == 1  # the class probabilities

    rows = pd.read_csv(WINE).drop(columns=["target"]).head(30).astype({"alcohol": object})
    rows.loc[0, "alcohol"] = "about 13"  # a value that is not a number: a warning, the row still predicted
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False)
    at.file_uploader(key="automl_batch").set_value(("new_wines.csv", buffer.getvalue().encode(), "text/csv")).run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    assert any("not numbers" in w.value and "alcohol" in w.value for w in at.warning)
    predicted = next(d for d in at.dataframe if "prediction" in d.value.columns).value
    assert len(predicted) == 30 and {"proba_class_0", "proba_class_1", "proba_class_2"} <= set(predicted.columns)
    assert not at.download_button(key="automl_dl_predictions").proto.disabled
    drift = next(d for d in at.dataframe if "PSI" in d.value.columns).value
    assert len(drift) == 13 and set(drift["level"]) <= {"stable", "moderate", "major", "not measured"}


def _train(at: AppTest, sample: str, *, budget: int, trials: int | None, task: str | None = None,
           single_model: bool = False) -> AppTest:
    at.selectbox(key="automl_sample").set_value(sample).run()
    if single_model:
        _scoped(at.checkbox, "automl_single_model").check()
    if task is not None:
        _scoped(at.radio, "automl_task").set_value(task).run()
    _scoped(at.radio, "automl_budget_mode").set_value("Set seconds").run()
    _scoped(at.number_input, "automl_budget_seconds").set_value(budget)
    if trials is not None:
        _scoped(at.checkbox, "automl_reproducible").check().run()
        _scoped(at.number_input, "automl_trials").set_value(trials)
    at.button(key="automl_train").click().run()
    assert not at.exception, at.exception
    return at


def test_a_regression_job_shows_its_residuals_and_one_model_when_asked() -> None:
    at = _train(_page(), "diabetes.csv", budget=10, trials=3, single_model=True)
    assert not _errors(at), _errors(at)
    at, waited = _wait_for_results(at)
    print(f"\nthe 10 s regression job was done {waited:.0f} s after it was queued")
    assert {"CV RMSE", "Test RMSE", "Test R²", "Trials"} <= set(_metrics(at))
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Predicted vs true target" in t for t in titles) and any("Residuals" in t for t in titles)
    scores = next(d for d in at.dataframe if "better on the test rows" in d.value.columns).value
    assert list(scores["metric"]) == ["RMSE", "MAE", "R²"]
    # Asked for one model: no ensemble or blend on the board, and the job says so.
    board = next(d for d in at.dataframe if "predict (ms/row)" in d.value.columns).value
    assert not board["model"].str.contains("(", regex=False).any(), list(board["model"])
    assert any("one model only" in c.value for c in at.caption)
    assert any(c.value.startswith("Shaded: the chosen model") and "Asked for one model" in c.value for c in at.caption)
    assert json.loads(at.json[0].value)["single_model"] is True  # the run card records the request


def test_a_queued_job_can_be_cancelled_and_deleted() -> None:
    at = _train(_page(), "wine.csv", budget=120, trials=None)
    job_id = at.selectbox(key="automl_job").value
    at.button(key=f"automl_cancel_{job_id}").click().run()  # still queued, or just started: stops either way
    assert not at.exception, at.exception
    assert any("was cancelled" in s.value for s in at.success), [e.value for e in at.error]
    assert any(i.value.startswith("This job was cancelled") for i in at.info)
    at.button(key=f"automl_delete_{job_id}").click().run()  # the confirmation inside "Delete…"
    assert not at.exception, at.exception
    assert any("was deleted" in s.value for s in at.success)
    assert job_id not in (at.selectbox(key="automl_job").options if at.selectbox else [])


def test_a_job_that_cannot_train_says_why() -> None:
    """Regression on class labels: refused at once, or the job fails with its reason shown (no traceback)."""
    at = _train(_page(), "wine.csv", budget=10, trials=2, task="regression")
    if not _errors(at):
        started = time.monotonic()
        while not _errors(at) and time.monotonic() - started < JOB_TIMEOUT:
            time.sleep(2)
            at.run()
            assert not at.exception, at.exception
    errors = _errors(at)
    assert errors and "target" in errors[0], errors
