"""The energy page in Chromium against a real `streamlit run`: grid and chart render, no exception."""

from __future__ import annotations

import pytest

from tests.support import open_page, screenshot


@pytest.mark.browser
def test_energy_page_in_chromium(app_server: str, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    open_page(page, f"{app_server}/energy", "Energy Device Health")
    page.locator('[data-testid="stPlotlyChart"]').nth(1).wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 2  # 24 h + next hour chart, health grid
    assert page.get_by_text("Model health per device and UTC day").count() >= 1
    assert page.get_by_text("Last 24 readings").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "energy_page")
    page.locator('[data-testid="stPlotlyChart"]').nth(1).scroll_into_view_if_needed()
    screenshot(page, "energy_page_grid")
