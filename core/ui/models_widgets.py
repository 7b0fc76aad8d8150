"""Widgets of the Models page: the domain filter, the model table, the comparison pickers and
table, and the deploy / retire / delete controls. Each returns a typed choice; the page calls
the service with it. ``automl_jobs`` hands the service the AutoML job registry on the app's engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import streamlit as st

from core.automl.jobs import JobRegistry
from core.ml.registry import BYTES_PER_MB, readable_size
from core.models.config import (
    ALL_DOMAINS,
    AUTOML_DELETE_DEPLOYED,
    AUTOML_DELETE_NOTE,
    AUTOML_DEPLOY_HELP,
    AUTOML_DOMAIN,
    AUTOML_RETIRE_HELP,
    AUTOML_RETIRE_LABEL,
    COLUMN_LABELS,
    DELETE_DEPLOYED,
    DELETE_NOTE,
    DEPLOY_HELP,
    RETIRE_HELP,
    TABLE_COLUMNS,
)
from core.models.service import AutomlJobs, ModelChange, open_automl_jobs
from core.ui.domains import page_entry
from core.ui.resources import app_settings, get_engine

logger = logging.getLogger(__name__)

_LAST_CHANGE = "models-last-change"
_ROW_PX = 35  # st.dataframe's row height


@dataclass(frozen=True)
class ModelAction:
    kind: Literal["deploy", "retire", "delete"]
    model_id: str
    confirm_deployed: bool = False


@st.cache_resource(show_spinner=False)
def _automl_jobs(url: str, model_dir: str) -> JobRegistry:
    # The app's engine (one pool per process); no AutoML worker: this page trains nothing.
    return JobRegistry(get_engine(), Path(model_dir))


def automl_jobs() -> AutomlJobs:
    """The AutoML job registry on the app's database and model store, for the Models service (a failed
    open is not cached: it is retried on the next run)."""
    settings = app_settings()
    return open_automl_jobs(lambda: _automl_jobs(settings.database_url, str(settings.model_dir)))


def domain_label(domain: str) -> str:
    """The domain's page title with its key ("Job Runtime & Memory (jobs)"), or the key alone."""
    if domain == ALL_DOMAINS:
        return domain
    try:
        return f"{page_entry(domain).title} ({domain})"
    except KeyError:
        return domain


def domain_filter(domains: list[str], *, key: str = "models-domain") -> str | None:
    """The domain to list, or None for all of them."""
    picked = st.selectbox("Domain", [ALL_DOMAINS, *domains], format_func=domain_label, key=key)
    return None if picked == ALL_DOMAINS else str(picked)


def _column_config(table: pd.DataFrame) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for column in table.columns:
        label, help_text = COLUMN_LABELS.get(column, (column, None))
        if column == "created_at":
            config[column] = st.column_config.DatetimeColumn(label, help=help_text, format="YYYY-MM-DD HH:mm")
        elif column == "artifact_present":
            config[column] = st.column_config.CheckboxColumn(label, help=help_text)
        elif column == "size_mb":
            config[column] = st.column_config.NumberColumn(label, help=help_text, format="%.3f")
        elif column in TABLE_COLUMNS:
            config[column] = st.column_config.TextColumn(label, help=help_text, pinned=column == "model_id")
        else:
            config[column] = st.column_config.NumberColumn(column, format="%.4g")
    return config


def models_table(table: pd.DataFrame) -> None:
    """The registry's models with readable headers; a one-line count above."""
    deployed = int((table["status"] == "deployed").sum())
    st.markdown(f"**{len(table)}** model{'s' if len(table) != 1 else ''} · **{deployed}** deployed · "
                f"{readable_size(int(table['size_mb'].sum() * BYTES_PER_MB))} on disk")
    st.dataframe(table, hide_index=True, column_config=_column_config(table), placeholder="–")


def _label(table: pd.DataFrame) -> dict[str, str]:
    return {row.model_id: f"{row.model_id} · {row.algorithm} · {row.status}" for row in table.itertuples()}


def comparison_picker(table: pd.DataFrame, *, key: str = "models-compare") -> tuple[str, str] | None:
    """Two models of one domain (the second list offers only the first one's domain)."""
    labels = _label(table)
    domain_of = dict(zip(table["model_id"], table["domain"], strict=True))
    # Start on the newest model that has a partner of its own domain, so the comparison shows at once.
    counts = table["domain"].value_counts()
    paired = [i for i, d in enumerate(table["domain"]) if counts[d] > 1]
    left, right = st.columns(2)
    first = left.selectbox("First model", list(labels), format_func=labels.__getitem__, key=f"{key}-a",
                           index=paired[0] if paired else 0)
    others = [m for m in labels if m != first and domain_of[m] == domain_of.get(first)]
    if first is None or not others:
        right.info(f"No other {domain_label(domain_of.get(first, '?'))} model to compare it with.")
        return None
    second = right.selectbox("Second model (same domain)", others, format_func=labels.__getitem__, key=f"{key}-b")
    return str(first), str(second)


def _as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return str(value)


def comparison_table(frame: pd.DataFrame) -> None:
    """The two models side by side: every value as text (each row mixes types), numbers at four
    significant digits, the registry fields under the page's labels."""
    shown = frame.map(_as_text)
    shown.insert(0, "field", [COLUMN_LABELS.get(field, (field, None))[0] for field in frame.index])
    # Tall enough for every row: a comparison is read top to bottom, not scrolled.
    st.dataframe(shown, hide_index=True, height=_ROW_PX * (len(shown) + 1) + 3,
                 column_config={"field": st.column_config.TextColumn("Field", width="medium", pinned=True)})


def model_picker(table: pd.DataFrame, *, key: str = "models-chosen") -> pd.Series:
    """The model to act on (its table row)."""
    labels = _label(table)
    chosen = st.selectbox("Model", list(labels), format_func=labels.__getitem__, key=key)
    return table.set_index("model_id").loc[chosen].rename(chosen)


def action_buttons(row: pd.Series, *, key: str = "models-action") -> ModelAction | None:
    """Deploy and Retire; Delete after a note on what it removes, and for a deployed model only once
    the user ticks the confirmation. Returns the action clicked. Every control is drawn before
    returning, so a refused action (its error shown below) leaves the others in place."""
    model_id = str(row.name)
    deployed = row["status"] == "deployed"
    # AutoML keeps its own rules: one deployed model per job (not per domain), and no retired state,
    # so its Retire is an undeploy and only a deployed model has one.
    automl = row["domain"] == AUTOML_DOMAIN
    deploy_col, retire_col = st.columns(2)
    deploy = deploy_col.button("Deploy", key=f"{key}-deploy", icon=":material/rocket_launch:", width="stretch",
                               disabled=deployed or not bool(row["artifact_present"]),
                               help=AUTOML_DEPLOY_HELP if automl else DEPLOY_HELP)
    retire = retire_col.button(AUTOML_RETIRE_LABEL if automl else "Retire", key=f"{key}-retire",
                               icon=":material/cloud_off:" if automl else ":material/archive:", width="stretch",
                               disabled=not deployed if automl else row["status"] == "retired",
                               help=AUTOML_RETIRE_HELP if automl else RETIRE_HELP)
    note = AUTOML_DELETE_NOTE if automl else DELETE_NOTE
    st.caption(f"{note} This model's files: {readable_size(int(row['size_mb'] * BYTES_PER_MB))}.")
    confirmed = not deployed or st.checkbox(
        (AUTOML_DELETE_DEPLOYED if automl else DELETE_DEPLOYED).format(model_id=model_id),
        key=f"{key}-confirm-{model_id}")
    delete = st.button("Delete model and its files", key=f"{key}-delete", icon=":material/delete:",
                       disabled=not confirmed)
    if deploy:
        return ModelAction("deploy", model_id)
    if retire:
        return ModelAction("retire", model_id)
    if delete:
        return ModelAction("delete", model_id, confirm_deployed=deployed and confirmed)
    return None


def remember_change(change: ModelChange) -> None:
    """Keep what an action did for the next run, and rerun so the table shows it."""
    st.session_state[_LAST_CHANGE] = change.message
    st.rerun()


def last_change() -> str | None:
    """What the previous run's action did (shown once)."""
    message = st.session_state.pop(_LAST_CHANGE, None)
    return str(message) if message else None
