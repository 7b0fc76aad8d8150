"""Start-up cost of the app: import time, first Home run, and memory.

Each figure is measured in a fresh Python process so earlier imports don't hide costs.
Run: .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_HOME_IMPORTS = """
import time, resource, json
t = time.perf_counter()
import streamlit, pandas, plotly, sqlalchemy
import core.datasets, core.storage, core.ui.domains, core.ui.resources
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

_HOME_RUN = """
import time, resource, json, sys
from streamlit.testing.v1 import AppTest
t = time.perf_counter()
at = AppTest.from_file("Home.py", default_timeout=300).run()
first = time.perf_counter() - t
t = time.perf_counter()
at.run()
second = time.perf_counter() - t
assert not at.exception, at.exception
print(json.dumps({"first_run": first, "rerun": second,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "tensorflow_imported": "tensorflow" in sys.modules}))
"""

_FULL_IMPORTS = """
import time, resource, json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
t = time.perf_counter()
import streamlit, pandas, numpy, plotly, sklearn, xgboost, lightgbm, sqlalchemy, psycopg2, joblib
import prophet, tensorflow, keras
import core.cli
print(json.dumps({"seconds": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _measure(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"bench failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    imports = _measure(_HOME_IMPORTS)
    home = _measure(_HOME_RUN)
    full = _measure(_FULL_IMPORTS)
    print(f"import of Home's modules        {imports['seconds']:.2f} s")
    print(f"first AppTest run of Home       {home['first_run']:.2f} s (rerun {home['rerun']:.2f} s)")
    print(f"peak RSS after running Home     {home['peak_rss_mb']:.0f} MB")
    print(f"TensorFlow imported by Home     {home['tensorflow_imported']}")
    print(f"full dependency set import      {full['seconds']:.2f} s, RSS {full['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
