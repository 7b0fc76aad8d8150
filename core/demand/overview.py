"""The Home page's one-line status for Cloud Demand & Capacity (cheap: no training, no full CSV parse).

The bundled file is described from its lines (dates from the first and the last, regions and metrics
from a split of each line, no parsing of values); the last stored backtest is named when there is one.
"""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import Engine

from core.config import Settings
from core.demand import config


def _bundled_line(path: Path) -> str:
    regions: set[str] = set()
    metrics: set[str] = set()
    rows, first, last = 0, "", ""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        handle.readline()  # header: date,region,metric,value
        for line in handle:
            parts = line.rstrip("\r\n").split(",")
            if len(parts) < 4:
                continue
            rows += 1
            first = first or parts[0]
            last = parts[0]
            regions.add(parts[1])
            metrics.add(parts[2])
    return (f"bundled cloud demand: {rows:,} daily values, {len(regions)} regions × {len(metrics)} metrics, "
            f"{first[:10]} → {last[:10]}")


def _number(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number


def _last_backtest(settings: Settings) -> str:
    try:
        from core.demand.service import accuracy_history

        history = accuracy_history(settings)
    except Exception:  # noqa: BLE001 - no store yet, or a store this status cannot read: say so, never fail Home
        return "no backtest run yet"
    if history.empty:
        return "no backtest run yet"
    row = history.iloc[-1]
    chosen, baseline = _number(row["chosen_mase"]), _number(row["baseline_mase"])
    strategy = config.STRATEGY_LABELS.get(str(row["strategy"]), str(row["strategy"])).lower()
    name = row["source"]
    source = f" on {name}" if isinstance(name, str) and name else ""
    return (f"last backtest{source}: {strategy}, MASE {chosen:.2f} vs seasonal naive {baseline:.2f} "
            f"({len(history)} stored)")


def status_line(settings: Settings, engine: Engine) -> str:
    path = Path(settings.data_dir) / config.DEFAULT_DATA_FILE
    data = _bundled_line(path) if path.exists() else "bundled cloud demand missing (upload a CSV on the page)"
    return f"{data}; {_last_backtest(settings)}"
