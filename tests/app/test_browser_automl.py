"""The AutoML page in a real Chromium against ``streamlit run``: opened by a deep link, a sample picked,
a training job started with a small budget; the page is reloaded while the job trains and finds it again
from the database with its live progress, and the leaderboard appears by itself once the job is done
(the live fragment reruns the page); deployed, it predicts a row from the form and a CSV with its drift
report. Full-page screenshots go to tests/artifacts/."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from tests.support import ROOT, open_page, screenshot, wait_for_app_idle

JOB = "wine in the browser"
WINE = ROOT / "data" / "automl" / "wine.csv"


def _no_exception(page) -> None:  # type: ignore[no-untyped-def]
    assert page.locator('[data-testid="stException"]').count() == 0


def _full_page(page, name: str, height: int) -> None:  # type: ignore[no-untyped-def]
    # Streamlit scrolls inside its own container: a tall viewport gets the whole page in the shot.
    page.set_viewport_size({"width": 1400, "height": height})
    page.wait_for_timeout(1500)
    screenshot(page, name)
    page.set_viewport_size({"width": 1400, "height": 1000})


@pytest.mark.browser
def test_a_job_trains_in_the_background_and_survives_a_reload(app_server: str, browser_page,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    page = browser_page
    open_page(page, f"{app_server}/automl", "AutoML")
    assert page.title() == "AutoML · Headroom"
    page.get_by_role("heading", name="2. Target and EDA report").wait_for()
    _no_exception(page)

    page.locator('[data-testid="stSelectbox"]').filter(has_text="Sample data set").click()
    page.get_by_role("option", name="Wine cultivars (wine.csv)").click()
    wait_for_app_idle(page)
    page.get_by_text("178 wines from three cultivars").first.wait_for()
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == "178"
    page.locator(".js-plotly-plot .gtitle", has_text="rows per").first.wait_for(state="attached")  # in a tab
    _no_exception(page)
    _full_page(page, "automl_build", 4600)

    page.get_by_text("Set seconds").click()
    wait_for_app_idle(page)
    budget = page.get_by_role("spinbutton", name="Budget (seconds)")
    budget.fill("30")
    budget.press("Enter")
    wait_for_app_idle(page)
    name = page.get_by_role("textbox", name="Job name (optional)")
    name.fill(JOB)
    name.press("Enter")
    wait_for_app_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    # The page follows the new job to the Jobs tab, and says so at the top of it.
    page.get_by_role("tab", name="Jobs and results", selected=True).wait_for()
    page.get_by_text("Job queued with a 30 s budget").wait_for()
    assert "automl_tab=" in page.url  # the Jobs tab is in the address: a reload opens it again

    queued_at = time.monotonic()
    page.reload()
    wait_for_app_idle(page)
    page.get_by_text(f"{JOB} · ").first.wait_for()  # found again, from the database
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=120_000)  # running: elapsed of the budget, trials, best score so far
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stProgress"]')]
                 .some(p => p.innerText.includes('trials done'))""", timeout=120_000)
    text = progress.inner_text()
    assert "s left" in text and "budget" in text, text
    _no_exception(page)
    _full_page(page, "automl_running_after_reload", 1600)

    # No click: the live panel notices the job ended and reruns the page with the results.
    page.get_by_role("heading", name="Leaderboard").wait_for(timeout=300_000)
    print(f"\nthe 30 s job was done {time.monotonic() - queued_at:.0f} s after the reload")
    wait_for_app_idle(page)
    labels = [t.strip() for t in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()]
    assert {"CV log loss", "Test ROC AUC", "Test accuracy", "Trials"} <= set(labels), labels
    page.get_by_text("Chosen model:").first.wait_for()
    page.locator(".js-plotly-plot .gtitle", has_text="Cross-validated log_loss per model").first.wait_for()
    page.locator(".js-plotly-plot .gtitle", has_text="Confusion matrix").first.wait_for()
    _no_exception(page)
    _full_page(page, "automl_results", 5200)

    page.get_by_role("button", name="Deploy", exact=True).click()
    page.get_by_text("is deployed: predict with it").wait_for()
    page.get_by_role("tab", name="Predict").click()
    wait_for_app_idle(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    wait_for_app_idle(page)
    page.get_by_text("Predicted target").wait_for()
    page.locator(".js-plotly-plot .gtitle", has_text="Class probabilities").first.wait_for()
    _no_exception(page)

    rows = pd.read_csv(WINE).drop(columns=["target"]).head(40)
    rows["magnesium"] = rows["magnesium"] * 3  # far outside training: the drift report must say so
    rows.to_csv(tmp_path / "new_wines.csv", index=False)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(tmp_path / "new_wines.csv"))
    wait_for_app_idle(page)
    page.get_by_role("heading", name="Drift against the training data").wait_for()
    page.get_by_role("button", name="Download the predictions (CSV)").wait_for()
    page.get_by_text("outside the training range").first.wait_for()
    _no_exception(page)
    _full_page(page, "automl_predict", 3000)
