"""Home page: AppTest (no exception, key elements) and the real app in Chromium."""

from __future__ import annotations

import sys

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import ROOT, open_page, screenshot


def _home() -> AppTest:
    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120).run()


def test_home_renders_overview_datasets_and_storage() -> None:
    at = _home()
    assert not at.exception
    assert at.title[0].value == "Headroom"
    datasets = at.dataframe[0].value
    assert {"nasa_http_5m.csv", "eda_stage_runs.csv", "azure_usage_sample.csv"} <= set(datasets["file"])
    assert int(datasets.set_index("file").loc["nasa_http_5m.csv", "rows"]) == 17856
    storage = " ".join(m.value for m in at.markdown)
    assert "SQLite file" in storage


def test_home_shows_a_status_line_per_available_domain() -> None:
    from core.ui.domains import available_domains

    at = _home()
    statuses = [m.value for m in at.markdown if m.value.startswith("**Status:**")]
    assert len(statuses) == len(available_domains())
    assert not at.error  # every domain reports: none failing
    assert any("bundled NASA traffic: 17,856 × 5 min" in s for s in statuses)


def test_a_domain_whose_status_raises_shows_as_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.traffic.overview

    def broken(settings, engine):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(core.traffic.overview, "status_line", broken)
    at = _home()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert "Status: failing" in errors[0] and "Traffic & Autoscaling" in errors[0]
    assert "RuntimeError: disk on fire" in errors[0]
    # The other domains still report normally, in plain status lines.
    from core.ui.domains import available_domains

    statuses = [m.value for m in at.markdown if m.value.startswith("**Status:**")]
    assert len(statuses) == len(available_domains()) - 1


def test_home_does_not_import_tensorflow() -> None:
    import subprocess

    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        "at = AppTest.from_file('Home.py', default_timeout=120).run(); "
        "assert not at.exception, at.exception; "
        "print('tensorflow' in sys.modules, 'prophet' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.browser
def test_home_in_chromium(app_server: str, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    open_page(page, app_server, "Headroom")
    assert page.title() == "Headroom"
    assert page.get_by_text("Bundled data sets").count() == 1
    assert page.get_by_text("Storage", exact=True).count() == 1
    assert page.locator('[data-testid="stDataFrame"]').count() == 1  # the data sets table (a canvas grid)
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "home")


@pytest.mark.postgres
def test_home_runs_on_postgresql(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_url)
    at = _home()
    assert not at.exception
    storage = " ".join(m.value for m in at.markdown)
    assert "PostgreSQL 127.0.0.1" in storage
    assert "headroom-secret" not in storage  # the test cluster's password is never shown
