"""Widgets and cached calls of the Job Runtime & Memory page.

Each widget returns a typed value; errors from core are shown as messages here, so
the page stays a short story. No model code lives here: it calls ``core.jobs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import HeadroomError
from core.io import read_csv
from core.jobs.columns import ROLES, ColumnMapping, PreparedRuns, detect_columns
from core.jobs.evaluation import DEFAULT_QUANTILE, QUANTILES
from core.jobs.parsing import MEMORY_UNITS
from core.jobs.service import BUNDLED_FILE, load_source, prepare, register_models, runs_fingerprint
from core.jobs.training import MODEL_ALGORITHMS, TrainConfig, TrainResult, train_models
from core.storage import create_db_engine, list_tables, mask_url
from core.ui.resources import app_settings, get_registry
from core.ui.upload import csv_upload

# Defaults and help texts live here, not in the page.
TRAIN_CONFIG = TrainConfig()
ROLE_HELP = {
    "block": "design / block name", "stage": "flow stage", "runtime": "wall time (HH:MM:SS, MM:SS.ss, "
    "D-HH:MM:SS, 1h 2m 3s or seconds)", "memory": "peak memory (512.3M, 2GiB, or a plain number)",
    "cpu_time": "CPU time (optional; its history is a feature)", "run_date": "when the run started",
    "platform": "process platform / PDK (optional key)", "run_id": "run identifier (optional)",
}
MEMORY_UNIT_LABELS = {"B": "bytes", "K": "KB", "M": "MB", "G": "GB", "T": "TB"}


@dataclass
class DbSource:
    url: str
    table: str
    limit: int | None


@st.cache_data(show_spinner=False)
def bundled_runs(data_dir: str) -> pd.DataFrame:
    return read_csv(f"{data_dir}/{BUNDLED_FILE}")


def _secret_url() -> str | None:
    try:
        secrets: Mapping[str, Any] = st.secrets
        value = secrets.get("JOBS_SOURCE_URL") or secrets.get("DATABASE_URL")
        return str(value) if value else None
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return None


def database_url_input(label: str, *, key: str, offer_app_database: bool = False) -> str | None:
    """A database URL from secrets, or typed into a password field (never echoed back unmasked)."""
    from_secrets = _secret_url()
    options = (["app database"] if offer_app_database else []) + ["typed URL"] + (
        ["URL from secrets"] if from_secrets else [])
    how = st.radio(f"{label}: connection", options, horizontal=True, key=f"{key}-how")
    if how == "app database":
        url = app_settings().database_url
        st.caption(f"Using {mask_url(url)}")
        return url
    if how == "URL from secrets" and from_secrets:
        st.caption(f"Using {mask_url(from_secrets)}")
        return from_secrets
    url = st.text_input(f"{label}: SQLAlchemy URL", type="password", key=f"{key}-url",
                        placeholder="postgresql://user:password@host:5432/db")
    if url:
        st.caption(f"Connecting to {mask_url(url)}")
    return url or None


def database_source(*, key: str) -> DbSource | None:
    """URL, a table picked from the database's own list, and an optional row limit."""
    url = database_url_input("Source database", key=key)
    if not url:
        return None
    try:
        tables = list_tables(create_db_engine(url))
    except HeadroomError as exc:
        st.error(exc.message)
        return None
    if not tables:
        st.info("This database has no tables.")
        return None
    table = st.selectbox("Table", tables, key=f"{key}-table")
    limit = st.number_input("Row limit (0 = all rows)", min_value=0, value=0, step=1000, key=f"{key}-limit")
    return DbSource(url, table, int(limit) or None)


def source_frame(*, key: str, allow_bundled: bool = True) -> tuple[pd.DataFrame | None, str]:
    """The raw runs from the bundled file, an upload, or a database table, and a source label."""
    options = (["Bundled flow logs"] if allow_bundled else []) + ["Upload CSV", "Database table"]
    choice = st.radio("Source", options, horizontal=True, key=f"{key}-source")
    if choice == "Bundled flow logs":
        return bundled_runs(str(app_settings().data_dir)), BUNDLED_FILE
    if choice == "Upload CSV":
        frame = csv_upload("CSV of stage runs", key=f"{key}-upload")
        return frame, "upload"
    db = database_source(key=f"{key}-db")
    if db is None:
        return None, ""
    try:
        return _read_table(db.url, db.table, db.limit), f"table {db.table}"
    except HeadroomError as exc:
        st.error(exc.message)
        return None, ""


@st.cache_data(show_spinner="Reading the table…", ttl=300, max_entries=4)
def _read_table(url: str, table: str, limit: int | None) -> pd.DataFrame:
    return load_source(db_url=url, table=table, limit=limit)


def column_mapping(frame: pd.DataFrame, *, key: str) -> tuple[ColumnMapping, str]:
    """The detected roles, editable: one select per role, a feature list, and the memory unit."""
    detected = detect_columns(frame)
    columns = [str(c) for c in frame.columns]
    chosen: dict[str, Any] = {}
    grid = st.columns(4)
    for i, role in enumerate(ROLES):
        current = getattr(detected, role)
        options = ["—", *columns]
        chosen[role] = grid[i % 4].selectbox(
            role.replace("_", " "), options, index=options.index(current) if current in columns else 0,
            help=ROLE_HELP[role], key=f"{key}-{role}")
        if chosen[role] == "—":
            chosen[role] = None
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in chosen.values()]
    features = st.multiselect("Other numeric features", numeric, default=[c for c in detected.features if c in numeric],
                              key=f"{key}-features")
    unit = st.selectbox("Unit of memory numbers written without a unit", list(MEMORY_UNITS), index=2,
                        format_func=MEMORY_UNIT_LABELS.get, key=f"{key}-unit")
    return ColumnMapping(**chosen, features=features), unit


def prepared_runs(frame: pd.DataFrame, mapping: ColumnMapping, unit: str, name: str) -> PreparedRuns | None:
    try:
        return prepare(frame, mapping, memory_unit=unit, file=name)
    except HeadroomError as exc:
        st.error(exc.message)
        return None


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_model(model_id: str) -> Any:
    return get_registry().load(model_id)


@st.cache_resource(show_spinner=False)
def _trained() -> dict[tuple[Any, ...], tuple[TrainResult, list[str]]]:
    """Trained results by (data fingerprint, config): new data means a new model, not a stale one."""
    return {}


def train_button(prepared: PreparedRuns, *, source: str, key: str) -> tuple[TrainResult, list[str]] | None:
    """Algorithm choice and a Train button; trains once per data fingerprint and settings,
    with a progress bar, and keeps every model in the registry."""
    algorithms = st.multiselect("Algorithms (the history baseline is always trained)", list(MODEL_ALGORITHMS),
                                default=list(TRAIN_CONFIG.algorithms), key=f"{key}-algorithms")
    config = TrainConfig(**{**TRAIN_CONFIG.__dict__, "algorithms": tuple(algorithms)})
    cache_key = (runs_fingerprint(prepared), repr(config))
    cache = _trained()
    if cache_key not in cache:
        if not st.button("Train", type="primary", key=f"{key}-train", icon=":material/model_training:"):
            return None
        bar = st.progress(0.0, text="Preparing features…")
        try:
            result = train_models(prepared, config, progress=lambda f, text: bar.progress(min(f, 1.0), text=text))
            records = register_models(get_registry(), result, prepared, config, source=source)
        except HeadroomError as exc:
            st.error(exc.message)
            return None
        bar.empty()
        cache[cache_key] = (result, [r.model_id for r in records])
    return cache[cache_key]


def quantile_select(*, key: str) -> float:
    return st.select_slider("Request quantile", options=list(QUANTILES), value=DEFAULT_QUANTILE,
                            format_func=lambda q: f"{q:.0%}", key=key)


# Score columns of the jobs tables: rates as percentages, ratios with a "×".
SCORE_FORMATS = {
    **{name: "%.3f" for name in ("R² (log)", "R²", "r2_log", "r2")},
    **{name: "percent" for name in ("MAPE", "mape", "under_rate")},
    **{f"under_q{q}": "percent" for q in (90, 95, 99)},
    **{f"over_q{q}": "%.2f×" for q in (90, 95, 99)},
    "over_provision": "%.2f×", "calibration": "%.2f×", "quantile": "percent", "MAE": "%.1f", "mae": "%.1f",
}
# The model registry table prefixes each score with its target.
MODEL_TABLE_FORMATS = {f"{target}_{name}": spec for target in ("runtime", "memory") for name, spec in SCORE_FORMATS.items()}


def comparison_table(models: pd.DataFrame, model_ids: list[str]) -> pd.DataFrame:
    """Two models' registry rows side by side (one column per model). Transposed, each column
    mixes types, so every value is text, numbers at four significant digits."""
    chosen = models.set_index("model_id").loc[model_ids]
    return chosen.map(lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)).T


def scores_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores with readable column names, baseline first."""
    order = {"history-baseline": 0}
    frame = scores.sort_values(["target", "algorithm"], key=lambda s: s.map(order).fillna(1) if s.name == "algorithm"
                               else s)
    return frame.rename(columns={"r2_log": "R² (log)", "r2": "R²", "mae": "MAE", "mape": "MAPE",
                                 "calibration": "calibration", "n": "runs"})


__all__ = ["MODEL_TABLE_FORMATS", "SCORE_FORMATS", "DbSource", "comparison_table", "column_mapping", "database_source", "database_url_input", "prepared_runs",
           "quantile_select", "scores_table", "source_frame", "train_button", "bundled_runs", "load_model"]
