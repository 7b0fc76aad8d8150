"""Every page opened cold: the first request after `streamlit run` starts is a deep link to it.

Checks the page's heading and browser title, the sidebar menu (titles and order from
core.ui.domains, not the pages/ file names) and that no exception shows; prints how long the
page took to settle (bench/startup.py reports the same figure).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.ui.domains import menu_pages
from tests.support import StreamlitServer, screenshot, wait_for_app_idle

HEADINGS = {"home": "Headroom", "traffic": "Traffic & Autoscaling", "energy": "Energy Device Health",
            "jobs": "Job Runtime & Memory", "models": "Models", "demand": "Cloud Demand & Capacity",
            "automl": "AutoML"}


def _url_path(page_file: str) -> str:
    """Streamlit's url path of a pages/ file: the name without its number prefix."""
    if page_file == "Home.py":
        return ""
    return Path(page_file).stem.split("_", 1)[1]


@pytest.mark.browser
@pytest.mark.parametrize("entry", menu_pages(), ids=lambda e: e.key)
def test_a_cold_deep_link_opens_the_page_with_the_menu(entry, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ)
    # A fresh store per server: this page is the first thing the app ever serves.
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'cold.db'}", HEADROOM_MODEL_DIR=str(tmp_path / "models"),
               HEADROOM_STATE_DIR=str(tmp_path / "state"))
    server = StreamlitServer(env)
    try:
        server.wait_healthy()
        page = browser_page
        started = time.perf_counter()
        page.goto(f"{server.url}/{_url_path(entry.page)}")
        wait_for_app_idle(page)
        page.get_by_role("heading", name=HEADINGS[entry.key]).first.wait_for()
        settled = time.perf_counter() - started
        print(f"\ncold first visit of {entry.title}: {settled:.1f} s")
        assert page.locator('[data-testid="stException"]').count() == 0, server.output()
        expected_title = "Headroom" if entry.key == "home" else f"{entry.title} · Headroom"
        assert page.title() == expected_title
        sidebar = page.locator('[data-testid="stSidebar"]')
        links = sidebar.locator('[data-testid="stPageLink"]').all_inner_texts()
        titles = [t.strip().splitlines()[-1].strip() for t in links]
        assert titles == [p.title for p in menu_pages()], titles
        assert sidebar.locator('[data-testid="stSidebarNav"]').count() == 0  # Streamlit's own file list is off
        screenshot(page, f"cold_{entry.key}")
    finally:
        server.stop()
