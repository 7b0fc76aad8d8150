"""The Job Runtime & Memory page in a real Chromium against ``streamlit run``: opened cold by a
deep link, it shows the bundled runs and their charts with no exception (training is left to
the AppTests: it takes too long for a browser test)."""

from __future__ import annotations

import pytest

from tests.support import open_page, screenshot, wait_for_app_idle


@pytest.mark.browser
def test_jobs_page_opens_cold_in_chromium(app_server: str, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    open_page(page, f"{app_server}/jobs", "Job Runtime & Memory")
    page.get_by_text("usable runs").first.wait_for()
    page.get_by_role("button", name="Train").wait_for()
    page.locator(".js-plotly-plot .gtitle", has_text="runtime by stage").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    # Streamlit scrolls inside its own container: a tall viewport gets the whole page in the shot.
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.wait_for_timeout(800)
    screenshot(page, "jobs")

    # A database source offers the app database by name (URLs only ever shown masked).
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_text("Database table", exact=True).click()
    wait_for_app_idle(page)
    page.get_by_text("Source database: connection").wait_for()
    assert page.get_by_text("app database", exact=True).count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "jobs_database_source")
