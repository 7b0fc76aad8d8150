"""The Job Runtime & Memory page in AppTest (trains on the bundled data with a small LightGBM);
the page opened cold in Chromium is in ``test_browser.py``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.config import ENV_ALLOW_TYPED_DB_URLS, ENV_STATE_DIR
from core.jobs.training import TrainConfig
from tests.support import ROOT

PAGE = "pages/4_jobs.py"


@pytest.fixture
def fast_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.jobs.config

    monkeypatch.setattr(core.jobs.config, "TRAIN_CONFIG", TrainConfig(algorithms=("lightgbm",), lgbm_estimators=40))


def _page() -> AppTest:
    # Run as a page of the app (Home.py is the entry script), as `streamlit run Home.py` serves it:
    # the menu's page links are resolved against the entry script.
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=300)
    at.switch_page(PAGE)
    return at.run()


def test_page_opens_on_the_bundled_runs_before_training(fast_training) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    assert not at.exception
    assert at.title[0].value == "Job Runtime & Memory"
    assert any("13,703" in m.value for m in at.markdown)
    assert at.selectbox(key="jobs-map-runtime").value == "runtime"
    assert at.selectbox(key="jobs-map-memory").value == "memory"
    assert any("Train to score" in i.value for i in at.info)


def test_page_trains_shows_metrics_and_predicts_an_upload(fast_training, small_raw: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    at.button(key="jobs-train-train").click().run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert "runtime R² (log)" in labels and "memory R² (log)" in labels
    memory_r2 = float(next(m.value for m in at.metric if m.label == "memory R² (log)"))
    assert 0.5 < memory_r2 <= 1.0
    assert any(d.key == "dl-scores" for d in at.get("download_button"))

    ids = at.multiselect(key="jobs-compare").options
    assert len(ids) >= 2  # the baseline and LightGBM are both kept in the registry
    at.multiselect(key="jobs-compare").set_value(ids[:2]).run()
    pair = next(d.value for d in at.dataframe if "algorithm" in d.value.index)
    assert list(pair.columns) == ids[:2]
    r2_cells = pair.loc["memory_r2_log"].tolist()
    assert all(len(cell) <= 7 and 0 < float(cell) <= 1 for cell in r2_cells), r2_cells  # 4 significant digits

    assert any(d.key == "dl-history-scores" for d in at.get("download_button"))

    new = small_raw.tail(12).drop(columns=["runtime", "memory", "cpu_time"])
    new.loc[new.index[:2], "stage"] = "cts_never_seen"
    at.radio(key="jobs-predict-source").set_value("Upload CSV").run()
    at.file_uploader(key="jobs-predict-upload").set_value(("new.csv", new.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    predictions = at.dataframe[-1].value
    assert len(predictions) == 12
    assert {"predicted_runtime", "predicted_memory", "memory_request_p90", "model_id"} <= set(predictions.columns)
    assert any(d.key == "dl-predictions" for d in at.get("download_button"))
    assert any("2 runs are of stages this model never saw (cts_never_seen)" in w.value for w in at.warning)

    at.button(key="FormSubmitter:jobs-single-Predict this run").click().run()
    assert not at.exception, at.exception
    assert any(m.label == "Predicted peak memory" and m.value.endswith("M") for m in at.metric)


def test_bad_upload_shows_an_error(fast_training) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    at.radio(key="jobs-train-source").set_value("Upload CSV").run()
    at.file_uploader(key="jobs-train-upload").set_value(("empty.csv", b"", "text/csv")).run()
    assert not at.exception
    assert any("empty" in e.value for e in at.error)


def _database_source(at: AppTest) -> AppTest:
    return at.radio(key="jobs-train-source").set_value("Database table").run()


def test_with_typed_urls_off_the_database_source_offers_only_named_databases(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ALLOW_TYPED_DB_URLS, "false")
    at = _database_source(_page())
    assert not at.exception, at.exception
    assert at.radio(key="jobs-train-db-how").options == ["app database"]
    assert not [t for t in at.text_input if t.key == "jobs-train-db-url"]
    assert any("Typing database URLs is turned off on this deployment" in c.value for c in at.caption)
    assert any("Using sqlite:///" in c.value for c in at.caption)  # the app database, offered by name


def test_a_typed_sqlite_path_outside_the_state_dir_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv(ENV_ALLOW_TYPED_DB_URLS, "true")
    at = _database_source(_page())
    assert at.radio(key="jobs-train-db-how").options == ["app database", "typed URL"]
    at.radio(key="jobs-train-db-how").set_value("typed URL").run()
    at.text_input(key="jobs-train-db-url").input("sqlite:///../../tmp/x.db").run()
    assert not at.exception, at.exception
    assert any("must be a file inside the app's state directory" in e.value and "outside it" in e.value
               for e in at.error), [e.value for e in at.error]
    assert any("Choose a source of stage runs" in i.value for i in at.info)
    state = Path(os.environ[ENV_STATE_DIR])
    assert not (state / "../../tmp/x.db").resolve().exists()  # refused before any engine was made


def test_runs_are_read_from_a_typed_sqlite_table_inside_the_state_dir(small_raw: pd.DataFrame) -> None:
    import os

    from core.storage import create_db_engine

    engine = create_db_engine(f"sqlite:///{Path(os.environ[ENV_STATE_DIR]) / 'jobs_page_runs.db'}")
    small_raw.head(300).to_sql("stage_runs", engine, index=False, if_exists="replace")
    engine.dispose()
    at = _database_source(_page())
    at.radio(key="jobs-train-db-how").set_value("typed URL").run()
    at.text_input(key="jobs-train-db-url").input("sqlite:///jobs_page_runs.db").run()  # relative: in the state dir
    assert any("Choose a source of stage runs" in i.value for i in at.info)  # no table read before one is picked
    at.selectbox(key="jobs-train-db-table").select("stage_runs").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("**300** usable runs" in m.value for m in at.markdown)
