"""The energy page in Chromium against a real `streamlit run`: grid and chart render, no exception,
the device editor follows the selected device, a retrain shows its honest choice (earlier hours choose,
later ones score), and a
metered CSV backtest draws its chart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.energy.test_cli import _metered_csv
from tests.support import open_page, screenshot, wait_for_app_idle


@pytest.mark.browser
def test_energy_page_in_chromium(app_server: str, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
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

    # Advancing 48 h puts the simulation ahead of the wall clock: the lag card says so in words.
    page.get_by_role("spinbutton", name="Hours to advance").fill("48")
    page.get_by_role("spinbutton", name="Hours to advance").press("Enter")
    wait_for_app_idle(page)
    page.get_by_role("button", name="Advance", exact=True).click()
    wait_for_app_idle(page)
    page.get_by_text(re.compile(r"^\d+ h ahead$")).wait_for()
    assert page.locator('[data-testid="stMetricDelta"]').count() == 0  # no arrows on text
    page.get_by_text("Simulated time (UTC)").scroll_into_view_if_needed()
    screenshot(page, "energy_status_ahead")

    page.get_by_role("tab", name="Models").click()
    page.get_by_role("button", name="Retrain", exact=True).click()
    # The toast, once the retrain is done.
    page.get_by_text("was chosen on the earlier held-out hours").wait_for(timeout=120_000)
    wait_for_app_idle(page)
    page.get_by_text("Last retrain", exact=True).wait_for()
    page.get_by_text("The choice was made on the earlier ones").first.scroll_into_view_if_needed()
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "energy_admin_models")

    page.get_by_role("tab", name="Backtest a CSV").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(_metered_csv(tmp_path / "meters.csv")))
    wait_for_app_idle(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Time zone of the timestamps").click()
    page.get_by_role("option", name="Europe/London").click()
    wait_for_app_idle(page)
    page.get_by_role("button", name="Run backtest").click()
    wait_for_app_idle(page)
    title = page.locator(".js-plotly-plot .gtitle", has_text="held-out hours")
    title.first.wait_for()
    title.first.scroll_into_view_if_needed()
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "energy_admin_backtest")
