"""The Home page's one-line status for Traffic & Autoscaling (cheap: no training, no full CSV parse).

The bundled file is described from its first and last lines; the last backtest run in this
app's state directory (written by the page) is named when there is one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.config import Settings

BUNDLED_FILE = "nasa_http_5m.csv"
LAST_BACKTEST_FILE = "traffic_last_backtest.json"


def _bundled_line(path: Path) -> str:
    with path.open("rb") as handle:
        handle.readline()  # header
        first = handle.readline().decode("utf-8", "replace")
        rows = 1 + sum(1 for _ in handle)
        handle.seek(max(0, path.stat().st_size - 512))
        last = handle.read().decode("utf-8", "replace").strip().splitlines()[-1]
    start, end = first.split(",", 1)[0][:10], last.split(",", 1)[0][:10]
    return f"bundled NASA traffic: {rows:,} × 5 min, {start} → {end}"


def record_backtest(settings: Settings, info: dict[str, Any]) -> None:
    """Remember the last backtest's headline for the Home status (best effort: a read-only disk is fine)."""
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=settings.state_dir, delete=False, suffix=".tmp") as tmp:
            json.dump(info, tmp, default=str)
        os.replace(tmp.name, settings.state_dir / LAST_BACKTEST_FILE)
    except OSError:
        pass


def _last_backtest(settings: Settings) -> str:
    try:
        info = json.loads((settings.state_dir / LAST_BACKTEST_FILE).read_text())
        return (f"last backtest: {info['source']} at {info['freq']}, best {info['best_model']} "
                f"RMSE {float(info['rmse']):.1f} (seasonal naive {float(info['baseline_rmse']):.1f})")
    except (OSError, ValueError, KeyError, TypeError):
        return "no backtest run yet"


def status_line(settings: Settings, engine: Engine) -> str:
    path = Path(settings.data_dir) / BUNDLED_FILE
    data = _bundled_line(path) if path.exists() else "bundled NASA traffic missing (upload a CSV on the page)"
    return f"{data}; {_last_backtest(settings)}"
