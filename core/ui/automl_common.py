"""Shared parts of the AutoML page's widgets: the tabs, session keys and their scopes, tables, messages,
and the job registry with this process's background worker.

The widgets are Streamlit only, the work is in ``core.automl.service`` and the job registry. Each widget returns a
typed value (or None after showing the user why); a ``HeadroomError`` is shown with its message, never a
traceback. Training never runs in the page: ``Train`` queues a job that this process's background worker (started
once per process, ``job_registry``) runs in a child process, and the Jobs tab re-reads progress from the
database, so a refresh or a second tab finds the job where it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.automl import service
from core.automl.jobs import JobRegistry
from core.automl.worker import Worker, start_worker
from core.ui.downloads import download_table
from core.ui.format import column_formats, for_display
from core.ui.resources import app_settings

TABS = ("Build a model", "Jobs and results", "Predict")
BUILD, JOBS, PREDICT = TABS
TAB_KEY = "automl_tab"
HIGHLIGHT = "background-color: rgba(245, 133, 24, 0.18)"

# Session keys. Widgets of one data set (the target) or one data set and target (everything after it) carry
# that scope in their key (``scoped``), so other data give fresh widgets with their defaults; a reused key
# would keep showing the old choice. The keys of a scope left behind are dropped.
DATA_SCOPE_KEY, CONTEXT_SCOPE_KEY = "automl_data_scope", "automl_context_scope"
ROLE_BASE_KEY, ROLE_VERSION_KEY = "automl_role_base", "automl_role_version"
JOB_KEY, GOTO_KEY, _FLASH, ACTIVE_KEY = "automl_job", "automl_goto_job", "automl_flash", "automl_active_jobs"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def short_number(value: Any, spec: str = ".4g") -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(number, spec) if np.isfinite(number) else "–"


def table(frame: pd.DataFrame, file_name: str, *, key: str, labels: Mapping[str, str] | None = None,
          formats: Mapping[str, str] | None = None, highlight: pd.Series | None = None,
          download: pd.DataFrame | None = None, styler: Callable[[pd.DataFrame], Any] | None = None,
          columns: Mapping[str, Any] | None = None) -> None:
    """A table with readable headers and formats (keyed by raw names), optional shaded rows, more column
    settings (``columns``, keyed by the shown names), and its CSV download (raw names, full precision)."""
    labels = dict(labels or {})
    shown = frame[[c for c in labels if c in frame.columns]] if labels else frame
    named = {labels.get(c, c): spec for c, spec in (formats or {}).items()}
    display = for_display(shown.rename(columns=labels), named).reset_index(drop=True)
    data: Any = display
    if highlight is not None and bool(highlight.any()):
        marks = highlight.reset_index(drop=True).astype(bool)
        data = display.style.apply(lambda row: [HIGHLIGHT if marks.iloc[row.name] else ""] * len(row), axis=1)
    elif styler is not None:
        data = styler(display)
    column_config = {**column_formats(display, named, "%.4g"), **dict(columns or {})}
    st.dataframe(data, hide_index=True, column_config=column_config, placeholder="–", key=f"{key}_table")
    download_table(frame if download is None else download, file_name, key=key)


def flash(kind: str, text: str) -> None:
    """A message shown once on the next run (after an action that reruns the page)."""
    st.session_state[_FLASH] = (kind, text)


def show_flash() -> None:
    kind, text = st.session_state.pop(_FLASH, (None, None))
    if kind == "success":
        st.success(text)
    elif kind == "info":
        st.info(text)


# ------------------------------------------------------------------------------------- resources and tabs
@st.cache_resource(show_spinner=False)
def _jobs(url: str, model_dir: str) -> JobRegistry:
    return service.open_jobs(app_settings())


@st.cache_resource(show_spinner=False)
def _worker(url: str, model_dir: str) -> Worker:
    # One per app process: its daemon thread claims queued jobs and runs each in a child process.
    return start_worker(_jobs(url, model_dir))


def job_registry() -> JobRegistry:
    """The job registry on the app's database and model store, with this process's worker running."""
    settings = app_settings()
    key = (settings.database_url, str(settings.model_dir))
    worker = _worker(*key)
    if not worker.alive:
        worker.start()  # stopped (a test, a failed start): poll again
    return _jobs(*key)


def worker_status() -> Any:
    settings = app_settings()
    return _worker(settings.database_url, str(settings.model_dir)).status()


def follow_new_job() -> None:
    """After Train or Rerun, open the Jobs tab on the new job (set before the tabs are drawn)."""
    job_id = st.session_state.pop(GOTO_KEY, None)
    if job_id:
        st.session_state[TAB_KEY] = JOBS
        st.session_state[JOB_KEY] = job_id


def tabs() -> Sequence[Any]:
    # Bound to the address (?automl_tab=...): a refresh or a shared link opens the same tab; only the open
    # tab's content runs (``tab.open``), so reading results does not rebuild the EDA report.
    return st.tabs(list(TABS), key=TAB_KEY, bind="query-params", on_change="rerun")


def scope_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def scoped(name: str, *, data_only: bool = False) -> str:
    """The session key of widget ``name`` in the current data set (and target) scope."""
    return f"{name}__{st.session_state.get(DATA_SCOPE_KEY if data_only else CONTEXT_SCOPE_KEY, '')}"


def enter_scope(holder: str, scope: str) -> None:
    old = st.session_state.get(holder)
    if old == scope:
        return
    if old:
        for name in [k for k in st.session_state if str(k).endswith(f"__{old}")]:
            del st.session_state[name]
    st.session_state[holder] = scope
