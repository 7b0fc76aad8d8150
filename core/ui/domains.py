"""The app's domains: page file, title and a status line for the Home overview.

A domain appears in the navigation only when its page file exists, so only pages
that work are shown. ``status`` names a function ``(Settings, Engine) -> str`` in
the domain package; it must be cheap (no model training, no TensorFlow).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from sqlalchemy import Engine

from core.config import PROJECT_ROOT, Settings


@dataclass(frozen=True)
class Domain:
    key: str
    title: str
    icon: str
    page: str  # path relative to the project root
    summary: str
    status: str | None = None  # "module:function"

    @property
    def available(self) -> bool:
        return (PROJECT_ROOT / self.page).exists()


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "traffic",
        "Traffic & Autoscaling",
        ":material/trending_up:",
        "app_pages/traffic.py",
        "Forecast requests per 1m/5m/15m/1h and replay reactive vs predictive scaling with cost and SLA.",
        "core.traffic.overview:status_line",
    ),
    Domain(
        "energy",
        "Energy Device Health",
        ":material/bolt:",
        "app_pages/energy.py",
        "A background simulation of metered devices, next-hour forecasts and a model-health grid.",
        "core.energy.overview:status_line",
    ),
    Domain(
        "jobs",
        "Job Runtime & Memory",
        ":material/memory:",
        "app_pages/jobs.py",
        "Learn stage runtime and peak memory from flow logs and predict safe resource requests.",
        "core.jobs.overview:status_line",
    ),
)


def available_domains() -> list[Domain]:
    return [d for d in DOMAINS if d.available]


def status_line(domain: Domain, settings: Settings, engine: Engine) -> str:
    """The domain's one-line status; a failure is reported, never raised into Home."""
    if not domain.available:
        return "not available yet"
    if domain.status is None:
        return "ready"
    module_name, func_name = domain.status.split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return str(func(settings, engine))
    except Exception as exc:  # noqa: BLE001 - Home must render whatever one domain does
        return f"status unavailable ({type(exc).__name__}: {exc})"
