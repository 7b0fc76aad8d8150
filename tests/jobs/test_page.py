"""The Job Runtime & Memory page in AppTest (trains on the bundled data with a small LightGBM)
and in a real Chromium against ``streamlit run``."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.jobs.training import TrainConfig
from tests.support import ROOT, open_page, screenshot

PAGE = str(ROOT / "pages" / "4_jobs.py")


@pytest.fixture
def fast_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.ui.jobs_widgets as widgets

    monkeypatch.setattr(widgets, "TRAIN_CONFIG", TrainConfig(algorithms=("lightgbm",), lgbm_estimators=40))


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=300).run()


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


@pytest.mark.browser
def test_jobs_page_in_chromium(app_server: str, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    open_page(page, f"{app_server}/jobs", "Job Runtime & Memory")
    assert page.get_by_text("usable runs").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "jobs")
