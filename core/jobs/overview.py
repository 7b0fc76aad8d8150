"""The Home page's one-line status for Job Runtime & Memory (cheap: registry rows only)."""

from __future__ import annotations

from sqlalchemy import Engine

from core.config import Settings
from core.ml.registry import ModelRegistry

DOMAIN = "jobs"


def status_line(settings: Settings, engine: Engine) -> str:
    records = ModelRegistry(engine, settings.model_dir).list(DOMAIN)
    if not records:
        return "no model trained yet: open the page to train on the bundled flow logs"
    latest = records[0]
    memory = latest.metrics.get("memory", {}) if isinstance(latest.metrics, dict) else {}
    r2 = memory.get("r2_log")
    score = f", memory R² (log) {r2:.3f} on held-out runs" if isinstance(r2, float) else ""
    return f"{len(records)} trained model(s); latest {latest.algorithm} ({latest.model_id}){score}"
