"""Shared fixtures. The app under test never touches the developer's own database or
model store: both point at a temp dir before any test module imports core."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_STATE = Path(tempfile.mkdtemp(prefix="headroom-test-"))
os.environ["HEADROOM_STATE_DIR"] = str(_STATE / "state")
os.environ["HEADROOM_MODEL_DIR"] = str(_STATE / "models")
os.environ["DATABASE_URL"] = f"sqlite:///{_STATE / 'state' / 'headroom.db'}"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.support import (  # noqa: E402 - environment first
    CHROMIUM_ARGS,
    PostgresCluster,
    StreamlitServer,
    chromium_path,
    postgres_bin_dir,
    reset_postgres,
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_STATE, ignore_errors=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database for one test."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A real PostgreSQL server (Debian package) in a throwaway cluster for the session."""
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries (initdb/pg_ctl) are not installed; .ci/run installs them")
    cluster = PostgresCluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a storage test once on SQLite and once on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url = request.getfixturevalue("pg_url")
    reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def app_server() -> Iterator[str]:
    """The app served by ``streamlit run Home.py`` on a free port; yields its base URL."""
    server = StreamlitServer(dict(os.environ))
    try:
        server.wait_healthy()
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright, headless."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh page (own context) with a desktop-sized viewport."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        yield page
    finally:
        context.close()
