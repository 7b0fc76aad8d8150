"""The Traffic & Autoscaling page in a real Chromium against ``streamlit run``: upload a small CSV,
run the backtest by clicking, see the forecast chart and the policy table, no exception; then the
bundled NASA data at 1 hour opened from a shared link, with its advice, kept across a refresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import expect_text, open_page, screenshot, wait_for_app_idle
from tests.traffic.test_page import reference_csv


def _tall_screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Streamlit scrolls inside its own container, so a full-page shot needs a tall viewport."""
    page.set_viewport_size({"width": 1400, "height": 4200})
    page.wait_for_timeout(800)
    screenshot(page, name)
    page.set_viewport_size({"width": 1400, "height": 1000})


def _tab(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Open a tab: the open tab is kept in the address, so switching reruns the script."""
    page.get_by_role("tab", name=name).click()
    wait_for_app_idle(page)


@pytest.mark.browser
def test_traffic_page_in_chromium(app_server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    open_page(page, f"{app_server}/traffic", "Traffic & Autoscaling")
    expect_text(page, "Busiest hour")  # the bundled NASA data opens by default
    assert page.locator('[data-testid="stException"]').count() == 0
    _tall_screenshot(page, "traffic_overview")

    # A small upload keeps the training to seconds (three days at 5 minutes).
    csv = tmp_path / "reference.csv"
    csv.write_bytes(reference_csv())
    page.get_by_text("Upload CSV", exact=True).click()
    wait_for_app_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
    wait_for_app_idle(page)
    _tab(page, "Forecast")
    page.get_by_role("button", name="Run backtest").click()
    wait_for_app_idle(page)
    page.get_by_text("Leaderboard, 1 step(s) ahead").wait_for()
    page.locator(".js-plotly-plot .gtitle", has_text="Actual vs predicted").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    _tall_screenshot(page, "traffic_forecast")

    _tab(page, "Autoscaling")
    page.get_by_text("Policies side by side").wait_for()
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2  # leaderboard and policy table
    page.locator(".js-plotly-plot .gtitle", has_text="Load vs capacity per policy").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    _tall_screenshot(page, "traffic_autoscaling")


@pytest.mark.browser
def test_bundled_traffic_at_one_hour_from_a_link(app_server: str, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    # A shared link: granularity, SLO, a parameter and the open tab come from the address.
    open_page(page, f"{app_server}/traffic?traffic_freq=1h&traffic_slo=1.0&max_servers=100&traffic_tab=Forecast",
              "Traffic & Autoscaling")
    page.get_by_role("button", name="Run backtest").click()
    wait_for_app_idle(page)
    page.get_by_text("Leaderboard, 1 step(s) ahead").wait_for()
    _tab(page, "Autoscaling")
    page.get_by_text("Policies side by side").wait_for()
    assert page.get_by_text("600 requests per 1-hour interval").count() >= 1
    page.get_by_role("button", name="Recommend servers for the next hour").click()
    wait_for_app_idle(page)
    page.get_by_text("Peak forecast").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    _tall_screenshot(page, "traffic_nasa_1h")

    # A refresh keeps the view: the tab, the granularity and the applied parameter are in the address.
    assert "traffic_freq=1h" in page.url and "max_servers=100" in page.url
    page.reload()
    wait_for_app_idle(page)
    assert page.get_by_role("tab", name="Autoscaling").get_attribute("aria-selected") == "true"
    expect_text(page, "Policies side by side")  # the shared result, no retraining
    assert page.get_by_text("from the shared cache").count() >= 1
