"""The Cloud Demand & Capacity page in a real Chromium against ``streamlit run``: opened cold by a deep
link on a fresh store, it shows its title, the KPI row and the analytics charts with no exception,
and its other tabs say what to do first (training is left to the AppTests: a full backtest takes
minutes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import StreamlitServer, screenshot, wait_for_app_idle

KPIS = ("Regions", "Series", "Forecast accuracy", "Regions at risk", "Average utilisation", "Peak utilisation",
        "Capacity cost per month", "Cost per month after the plan")


@pytest.mark.browser
def test_demand_page_opens_cold_in_chromium(browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ)
    # A fresh store: this page is the first thing the app ever serves.
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'cold.db'}", HEADROOM_MODEL_DIR=str(tmp_path / "models"),
               HEADROOM_STATE_DIR=str(tmp_path / "state"))
    server = StreamlitServer(env)
    try:
        server.wait_healthy()
        page = browser_page
        page.goto(f"{server.url}/demand")
        wait_for_app_idle(page)
        page.get_by_role("heading", name="Cloud Demand & Capacity").first.wait_for()
        assert page.title() == "Cloud Demand & Capacity · Headroom"
        metrics = page.locator('[data-testid="stMetric"]')
        # The KPI row is filled at the end of the script run (it needs the backtest and the plan, if any).
        metrics.nth(len(KPIS) - 1).wait_for()
        labels = [t.strip() for t in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()]
        assert metrics.count() == len(KPIS), labels
        assert all(any(label.startswith(k) for label in labels) for k in KPIS), labels
        values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
        assert values[0].strip() == "6" and values[1].strip() == "18", values  # regions, series of the bundled data
        page.locator(".js-plotly-plot .gtitle", has_text="28-day trend").first.wait_for()
        assert page.locator('[data-testid="stException"]').count() == 0, server.output()
        # Streamlit scrolls inside its own container: a tall viewport gets the whole page in the shot.
        page.set_viewport_size({"width": 1400, "height": 5200})
        page.wait_for_timeout(1500)
        screenshot(page, "demand_page")

        page.set_viewport_size({"width": 1400, "height": 1400})
        page.get_by_role("tab", name="Forecast & model choice").click()
        page.get_by_role("button", name="Run backtest").wait_for()
        page.get_by_role("tab", name="Capacity plan").click()
        page.get_by_text("Run the backtest in").first.wait_for()
        assert page.locator('[data-testid="stException"]').count() == 0, server.output()
        screenshot(page, "demand_page_plan_tab")
    finally:
        server.stop()
