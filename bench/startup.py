"""Start-up and steady-state cost of the app: Home's first render, every page's cached rerun,
memory over many uploads, and every page's cold first visit in Chromium.

Each figure is measured in a fresh Python process (or a fresh server) so earlier imports don't
hide costs. Targets (issue "A house for five domains"): Home first render <= 2 s, a cached
rerun < 0.5 s on every page, RSS flat over 50 uploads, a cold first visit <= 10 s per page.

Run: .venv/bin/python bench/startup.py [--skip-browser] [--uploads 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_HOME_RUN = """
import time, resource, json, sys
from streamlit.testing.v1 import AppTest
t = time.perf_counter()
at = AppTest.from_file("Home.py", default_timeout=300).run()
first = time.perf_counter() - t
assert not at.exception, at.exception
print(json.dumps({"first_run": first, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "tensorflow_imported": "tensorflow" in sys.modules}))
"""

# A page's cached rerun: the first run builds what the page shows (and trains nothing: models
# train on a click), the next runs should only redraw. Median of five reruns.
_PAGE_RERUN = """
import time, json, statistics
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("Home.py", default_timeout=600)
if {page!r} != "Home.py":
    at.switch_page({page!r})  # as served: the menu's links resolve against the entry script
t = time.perf_counter(); at.run(); first = time.perf_counter() - t
assert not at.exception, at.exception
times = []
for _ in range(5):
    t = time.perf_counter(); at.run(); times.append(time.perf_counter() - t)
assert not at.exception, at.exception
print(json.dumps({{"first": first, "rerun": statistics.median(times)}}))
"""

_UPLOADS = """
import json, resource, sys, time
import numpy as np, pandas as pd
from streamlit.testing.v1 import AppTest
import core.traffic.config as config
{patch}
def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
at = AppTest.from_file("Home.py", default_timeout=600).switch_page("pages/1_traffic.py").run()
at.radio(key="traffic_source").set_value("Upload CSV").run()
rss = []
start = time.perf_counter()
for i in range(int(sys.argv[1])):
    rng = np.random.default_rng(i)
    stamps = pd.date_range("2024-03-01", periods=4 * 288, freq="5min", tz="UTC")
    hour = np.asarray(stamps.hour + stamps.minute / 60)
    y = (200 + 150 * np.sin((hour - 6) / 24 * 2 * np.pi) + rng.normal(0, 15, len(stamps))).clip(1).round()
    csv = pd.DataFrame({{"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "requests": y.astype(int)}}).to_csv(index=False)
    at.file_uploader(key="traffic_upload").set_value((f"upload_{{i}}.csv", csv.encode(), "text/csv")).run()
    at.button(key="traffic_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    rss.append(rss_mb())
print(json.dumps({{"rss": rss, "seconds": time.perf_counter() - start}}))
"""


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}", HEADROOM_MODEL_DIR=str(tmp / "models"),
               HEADROOM_STATE_DIR=str(tmp / "state"), TF_CPP_MIN_LOG_LEVEL="2")
    return env


def _measure(code: str, *args: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="headroom-bench-") as tmp:
        out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                             timeout=3600, env=_env(Path(tmp)))
    if out.returncode != 0:
        raise SystemExit(f"bench failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cold_visits() -> dict[str, float]:
    """Each page as the first request of a fresh server, in Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    from core.ui.domains import menu_pages
    from tests.support import CHROMIUM_ARGS, StreamlitServer, chromium_path, wait_for_app_idle

    times = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        for entry in menu_pages():
            path = "" if entry.page == "Home.py" else Path(entry.page).stem.split("_", 1)[1]
            with tempfile.TemporaryDirectory(prefix="headroom-bench-") as tmp:
                server = StreamlitServer(_env(Path(tmp)))
                try:
                    server.wait_healthy()
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    started = time.perf_counter()
                    page.goto(f"{server.url}/{path}")
                    wait_for_app_idle(page, timeout_ms=300_000)
                    times[entry.title] = time.perf_counter() - started - 0.5  # wait_for_app_idle's settle pause
                    page.close()
                finally:
                    server.stop()
        browser.close()
    return times


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _server_cpu_around_training() -> dict[str, float]:
    """The server's CPU share while a backtest trains in the browser, and in the 30 s after it:
    a served app must not keep itself busy watching the files its training writes."""
    import numpy as np
    import pandas as pd
    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM_ARGS, StreamlitServer, chromium_path, wait_for_app_idle

    with tempfile.TemporaryDirectory(prefix="headroom-bench-") as tmp:
        stamps = pd.date_range("2024-03-01", periods=7 * 288, freq="5min", tz="UTC")
        rng = np.random.default_rng(0)
        y = (200 + 150 * np.sin(np.asarray(stamps.hour - 6) / 24 * 2 * np.pi) + rng.normal(0, 15, len(stamps))).clip(1)
        csv = Path(tmp) / "week.csv"
        pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "requests": y.round()}).to_csv(csv, index=False)
        server = StreamlitServer(_env(Path(tmp)))
        try:
            server.wait_healthy()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(600_000)
                page.goto(f"{server.url}/traffic")
                wait_for_app_idle(page)
                page.get_by_text("Upload CSV", exact=True).click()
                wait_for_app_idle(page)
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
                wait_for_app_idle(page)
                page.get_by_role("tab", name="Forecast").click()
                cpu, wall = _cpu_seconds(server.process.pid), time.perf_counter()
                page.get_by_role("button", name="Run backtest").click()
                wait_for_app_idle(page, timeout_ms=600_000)
                during = (_cpu_seconds(server.process.pid) - cpu) / (time.perf_counter() - wall)
                cpu, wall = _cpu_seconds(server.process.pid), time.perf_counter()
                time.sleep(30)
                after = (_cpu_seconds(server.process.pid) - cpu) / (time.perf_counter() - wall)
                browser.close()
            overflow = server.output().count("Inotify queue overflowed")
        finally:
            server.stop()
    return {"during": during, "after": after, "overflow_lines": overflow}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--uploads", type=int, default=50)
    args = parser.parse_args()
    from core.ui.domains import menu_pages

    home = _measure(_HOME_RUN)
    print(f"Home first AppTest render         {home['first_run']:.2f} s (target <= 2 s); "
          f"peak RSS {home['peak_rss_mb']:.0f} MB; TensorFlow imported: {home['tensorflow_imported']}")
    for entry in menu_pages():
        page = _measure(_PAGE_RERUN.format(page=entry.page))
        print(f"{entry.title:<34}first run {page['first']:.2f} s, cached rerun {page['rerun']:.3f} s (target < 0.5 s)")
    if args.uploads:
        patch = ("config.DEFAULTS = __import__('dataclasses').replace(config.DEFAULTS, "
                 "models=('seasonal_naive', 'naive', 'lightgbm'))")
        up = _measure(_UPLOADS.format(patch=patch), str(args.uploads))
        rss = up["rss"]
        marks = [i for i in (0, 4, 9, 19, 29, 39, len(rss) - 1) if i < len(rss)]
        print(f"RSS over {len(rss)} uploads, each trained (3 models): "
              + ", ".join(f"#{i + 1} {rss[i]:.0f} MB" for i in marks)
              + f"; growth after the 5th {rss[-1] - rss[min(4, len(rss) - 1)]:+.0f} MB ({up['seconds']:.0f} s)")
    if not args.skip_browser:
        cpu = _server_cpu_around_training()
        print(f"server CPU while a backtest trains  {cpu['during']:.0%} of a core; in the 30 s after "
              f"{cpu['after']:.1%}; 'Inotify queue overflowed' lines: {cpu['overflow_lines']}")
        for title, seconds in _cold_visits().items():
            print(f"cold first visit in Chromium       {title}: {seconds:.1f} s (target <= 10 s)")


if __name__ == "__main__":
    main()
