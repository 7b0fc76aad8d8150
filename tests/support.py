"""Helpers for the test layers: a throwaway PostgreSQL cluster, a Streamlit server, Chromium.

Everything here starts real components from the Debian packages (postgresql,
chromium); when the binaries are missing the caller skips with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    """Directory holding initdb and pg_ctl, from PATH or Debian's versioned layout."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _server_user() -> str:
    """PostgreSQL refuses to run as root: use the package's 'postgres' user, or make one."""
    import pwd

    for name in ("postgres", "headroom-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "headroom-pg"], check=True)
    return "headroom-pg"


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster in a temp dir on a free port, run as a non-root user."""

    bin_dir: Path
    root: Path
    port: int
    user: str | None  # OS user to run as (None: the current, non-root user)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://headroom:headroom-secret@127.0.0.1:{self.port}/headroom"

    @classmethod
    def start(cls) -> PostgresCluster:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        user = _server_user() if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="headroom-pg-"))
        if user:
            shutil.chown(root, user=user)
        cluster = cls(bin_dir, root, free_port(), user)
        pwfile = root / "pw"
        pwfile.write_text("headroom-secret\n")
        if user:
            shutil.chown(pwfile, user=user)
        options = f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        try:
            cluster._run("initdb", "-D", str(root / "data"), "-U", "headroom", "--pwfile", str(pwfile),
                         "-A", "scram-sha-256", "-E", "UTF8", "--no-locale")
            cluster._run("pg_ctl", "-D", str(root / "data"), "-o", options, "-l", str(root / "log"), "-w", "start")
            cluster._create_database()
        except BaseException:
            cluster.stop()  # never leave a server behind when setup fails half-way
            raise
        return cluster

    def _create_database(self) -> None:
        import sqlalchemy as sa

        from core.storage import create_db_engine

        admin = create_db_engine(self.url.rsplit("/", 1)[0] + "/postgres").execution_options(
            isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE headroom"))
        admin.dispose()

    def stop(self) -> None:
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class StreamlitServer:
    """``streamlit run Home.py`` on a free port, ready when /_stcore/health answers."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="streamlit-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}: {self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"streamlit did not become healthy in {timeout}s: {self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def wait_for_app_idle(page, timeout_ms: int = 120_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has rendered the app and finished running the script."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    # stApp's data-test-script-state goes initial -> running -> notRunning; wait for the last.
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app !== null && app.getAttribute('data-test-script-state') === 'notRunning';
        }""",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(500)


def open_page(page, url: str, heading: str) -> None:  # type: ignore[no-untyped-def]
    """Load ``url``, wait for the script run to finish and for the page's ``heading`` to show."""
    page.goto(url)
    wait_for_app_idle(page)
    page.get_by_role("heading", name=heading).first.wait_for()


def expect_text(page, text: str, timeout_ms: int = 120_000) -> None:  # type: ignore[no-untyped-def]
    """Wait for ``text`` on the page; when it never shows, fail with what the page did show instead
    (its run and connection state, alerts and exceptions) and keep a screenshot of it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text).first.wait_for(timeout=timeout_ms)
    except PlaywrightTimeout:
        app = page.locator('[data-testid="stApp"]')
        states = [app.get_attribute(f"data-test-{what}-state") for what in ("script", "connection")]
        shown = page.locator('[data-testid="stAlert"], [data-testid="stException"]').all_inner_texts()
        shot = screenshot(page, "missing_" + "".join(c if c.isalnum() else "_" for c in text.lower()))
        raise AssertionError(f"{text!r} never showed; script/connection state {states}; alerts {shown}; "
                             f"screenshot {shot}") from None


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def reset_postgres(url: str) -> None:
    """Drop every table of the test database so a test starts empty."""
    import sqlalchemy as sa

    from core.storage import create_db_engine

    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def app_page(page: str, *, timeout: float = 300) -> AppTest:
    """An AppTest of one page of the app, not yet run. It starts from the entry script and
    switches to ``page`` (e.g. "pages/1_traffic.py"), as the served app does: the sidebar menu's
    links resolve against Home.py, so a page file run as its own main script cannot draw them."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=timeout).switch_page(page)
