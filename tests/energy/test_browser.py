"""The energy page in Chromium against a real `streamlit run`: grid and chart render, no exception,
and the device editor follows the selected device."""

from __future__ import annotations

import pytest

from tests.support import open_page, screenshot, wait_for_app_idle


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

    # Switch to Device B: the edit form must hold B's values, not A's.
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="Device B (Europe/Berlin, commercial)").click()
    wait_for_app_idle(page)
    page.get_by_text("Edit Device B").wait_for()
    page.get_by_text("Edit Device B").scroll_into_view_if_needed()
    names = page.get_by_role("textbox", name="Name")
    assert names.nth(1).input_value() == "Device B"
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "energy_admin_devices")
    page.get_by_role("tab", name="Simulation").click()
    page.get_by_text("Backfill from (UTC)").scroll_into_view_if_needed()
    screenshot(page, "energy_admin_simulation")
