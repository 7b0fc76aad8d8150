"""The Traffic & Autoscaling page in a real Chromium against ``streamlit run``: upload a small CSV,
run the backtest by clicking, see the forecast chart and the policy table, no exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import open_page, screenshot, wait_for_app_idle
from tests.traffic.test_page import reference_csv


def _tall_screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Streamlit scrolls inside its own container, so a full-page shot needs a tall viewport."""
    page.set_viewport_size({"width": 1400, "height": 4200})
    page.wait_for_timeout(800)
    screenshot(page, name)
    page.set_viewport_size({"width": 1400, "height": 1000})


@pytest.mark.browser
def test_traffic_page_in_chromium(app_server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    open_page(page, f"{app_server}/traffic", "Traffic & Autoscaling")
    assert page.get_by_text("Busiest hour").count() >= 1  # the bundled NASA data opens by default
    assert page.locator('[data-testid="stException"]').count() == 0

    # A small upload keeps the training to seconds (three days at 5 minutes).
    csv = tmp_path / "reference.csv"
    csv.write_bytes(reference_csv())
    page.get_by_text("Upload CSV", exact=True).click()
    wait_for_app_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
    wait_for_app_idle(page)
    page.get_by_role("tab", name="Forecast").click()
    page.get_by_role("button", name="Run backtest").click()
    wait_for_app_idle(page)
    page.get_by_text("Leaderboard, 1 step(s) ahead").wait_for()
    page.locator(".js-plotly-plot .gtitle", has_text="Actual vs predicted").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    _tall_screenshot(page, "traffic_forecast")

    page.get_by_role("tab", name="Autoscaling").click()
    page.get_by_text("Policies side by side").wait_for()
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2  # leaderboard and policy table
    page.locator(".js-plotly-plot .gtitle", has_text="Load vs capacity per policy").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    _tall_screenshot(page, "traffic_autoscaling")
