"""The app's pages in menu order: file, title, icon, and for each domain a Home status line.

Streamlit's own ``pages/`` mechanism serves the files (``Home.py`` is the entry script); its
auto-generated sidebar is turned off (``client.showSidebarNavigation = false``) and
``core.ui.page.setup_page`` draws this list as the menu instead, so titles, icons and order are
ours. A domain page is listed only when its file exists, so only pages that work are shown.
``status`` names a function ``(Settings, Engine) -> str`` in the domain package; it must be
cheap (no model training, no TensorFlow).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from sqlalchemy import Engine

from core.config import PROJECT_ROOT, Settings


@dataclass(frozen=True)
class PageEntry:
    key: str
    title: str
    icon: str
    page: str  # path relative to the project root
    summary: str = ""
    status: str | None = None  # "module:function" for a domain's Home status line
    is_domain: bool = True

    @property
    def available(self) -> bool:
        return (PROJECT_ROOT / self.page).exists()


# Kept for readers of the old name: a domain is a page entry with a status line.
Domain = PageEntry

HOME = PageEntry("home", "Overview", ":material/home:", "Home.py", is_domain=False)
MODELS = PageEntry("models", "Models", ":material/inventory_2:", "pages/9_models.py",
                   "Every trained model across domains: compare, deploy, retire, delete.", is_domain=False)

DOMAINS: tuple[PageEntry, ...] = (
    PageEntry(
        "traffic",
        "Traffic & Autoscaling",
        ":material/trending_up:",
        "pages/1_traffic.py",
        "Forecast requests per 1m/5m/15m/1h and replay reactive vs predictive scaling with cost and SLA.",
        "core.traffic.overview:status_line",
    ),
    PageEntry(
        "demand",
        "Cloud Demand & Capacity",
        ":material/cloud:",
        "pages/2_demand.py",
        "Forecast CPU, storage and active users per region and plan capacity with risk levels.",
        "core.demand.overview:status_line",
    ),
    PageEntry(
        "energy",
        "Energy Device Health",
        ":material/bolt:",
        "pages/3_energy.py",
        "A background simulation of metered devices, next-hour forecasts and a model-health grid.",
        "core.energy.overview:status_line",
    ),
    PageEntry(
        "jobs",
        "Job Runtime & Memory",
        ":material/memory:",
        "pages/4_jobs.py",
        "Learn stage runtime and peak memory from flow logs and predict safe resource requests.",
        "core.jobs.overview:status_line",
    ),
    PageEntry(
        "automl",
        "AutoML",
        ":material/model_training:",
        "pages/5_automl.py",
        "Any CSV to an EDA report, a leaderboard under a time budget, a deployed model and predictions.",
        "core.automl.overview:status_line",
    ),
)


def available_domains() -> list[PageEntry]:
    return [d for d in DOMAINS if d.available]


def menu_pages() -> list[PageEntry]:
    """Every page of the menu, in order: Overview, the installed domains, Models."""
    return [HOME, *available_domains(), *([MODELS] if MODELS.available else [])]


def page_entry(key: str) -> PageEntry:
    for entry in (HOME, MODELS, *DOMAINS):
        if entry.key == key:
            return entry
    raise KeyError(f"no page '{key}'")


@dataclass(frozen=True)
class DomainStatus:
    """A Home status line: ``ok`` False means the domain's status raised, shown as failing."""

    text: str
    ok: bool = True


def status_line(domain: PageEntry, settings: Settings, engine: Engine) -> DomainStatus:
    """The domain's one-line status; a failure is reported as failing, never raised into Home."""
    if not domain.available:
        return DomainStatus("not available yet")
    if domain.status is None:
        return DomainStatus("ready")
    module_name, func_name = domain.status.split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return DomainStatus(str(func(settings, engine)))
    except Exception as exc:  # noqa: BLE001 - Home must render whatever one domain does
        return DomainStatus(f"{type(exc).__name__}: {exc}", ok=False)
