"""Widgets and cached calls of the Job Runtime & Memory page.

Each widget returns a typed value; errors from core are shown as messages here, so the page
stays a short story. Defaults, limits and help texts come from ``core.jobs.config``; model code
and storage are reached through ``core.jobs.service`` and ``core.app.service`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import streamlit as st

from core.app.service import masked, named_databases, user_tables
from core.config import ENV_ALLOW_TYPED_DB_URLS
from core.errors import HeadroomError
from core.io import read_csv
from core.jobs import config
from core.jobs.columns import ROLES, ColumnMapping, PreparedRuns, detect_columns
from core.jobs.parsing import MEMORY_UNITS
from core.jobs.service import (
    BUNDLED_FILE,
    HeadlineScore,
    SingleRunPrediction,
    TrainedJobs,
    prepare,
    read_runs_table,
    runs_fingerprint,
    train,
)
from core.jobs.service import load_model as load_job_model
from core.jobs.training import MODEL_ALGORITHMS, JobModel
from core.ui.downloads import download_table
from core.ui.format import number
from core.ui.resources import app_settings, get_registry
from core.ui.result_store import result_store
from core.ui.upload import csv_upload

TYPED_URL = "typed URL"


@dataclass(frozen=True)
class DbSource:
    url: str
    table: str
    limit: int | None


@dataclass(frozen=True)
class SingleRunRequest:
    """What the single-run form asks for: the run's keys and its numeric design features."""

    platform: str
    block: str
    stage: str
    features: dict[str, float | None]


@st.cache_data(show_spinner=False)
def bundled_runs(data_dir: str) -> pd.DataFrame:
    return read_csv(f"{data_dir}/{BUNDLED_FILE}")


def database_url_input(label: str, *, key: str) -> str | None:
    """A database picked by name (the app database, those named in secrets) or, where this
    deployment allows it, a URL typed into a password field. URLs are only shown masked."""
    settings = app_settings()
    named = named_databases(settings)
    options = [*named, *([TYPED_URL] if settings.allow_typed_db_urls else [])]
    how = st.radio(f"{label}: connection", options, horizontal=True, key=f"{key}-how")
    if not settings.allow_typed_db_urls:
        st.caption(f"Typing database URLs is turned off on this deployment ({ENV_ALLOW_TYPED_DB_URLS}=false): "
                   "pick a database the app names.")
    if how is not None and how in named:
        st.caption(f"Using {masked(named[how])}")
        return named[how]
    url = st.text_input(f"{label}: SQLAlchemy URL", type="password", key=f"{key}-url",
                        placeholder="postgresql://user:password@host:5432/db",
                        help="A SQLite file must be inside the app's state directory (a relative path is taken there).")
    if url:
        st.caption(f"Connecting to {masked(url)}")
    return url or None


def database_source(*, key: str) -> DbSource | None:
    """URL, a table picked from the database's own list, and an optional row limit."""
    url = database_url_input("Source database", key=key)
    if not url:
        return None
    try:
        tables = user_tables(url, app_settings())
    except HeadroomError as exc:
        st.error(exc.message)
        return None
    if not tables:
        st.info("This database has no tables.")
        return None
    # No table is read until one is picked: the app database's first table is rarely the runs.
    table = st.selectbox("Table", tables, index=None, placeholder="Choose a table", key=f"{key}-table")
    limit = st.number_input("Row limit (0 = all rows)", min_value=0, value=0, step=config.ROW_LIMIT_STEP,
                            key=f"{key}-limit")
    return DbSource(url, str(table), int(limit) or None) if table is not None else None


@st.cache_data(show_spinner="Reading the table…", ttl=config.TABLE_CACHE_SECONDS, max_entries=config.TABLE_CACHE_ENTRIES)
def _read_table(url: str, table: str, limit: int | None) -> pd.DataFrame:
    # The policy is checked here as well as when the tables were listed: a cached frame is only
    # ever read through an allowed URL.
    return read_runs_table(url, table, limit, app_settings())


def source_frame(*, key: str, allow_bundled: bool = True) -> tuple[pd.DataFrame | None, str]:
    """The raw runs from the bundled file, an upload, or a database table, and a source label."""
    options = (["Bundled flow logs"] if allow_bundled else []) + ["Upload CSV", "Database table"]
    choice = st.radio("Source", options, horizontal=True, key=f"{key}-source")
    if choice == "Bundled flow logs":
        return bundled_runs(str(app_settings().data_dir)), BUNDLED_FILE
    if choice == "Upload CSV":
        return csv_upload("CSV of stage runs", key=f"{key}-upload"), "upload"
    db = database_source(key=f"{key}-db")
    if db is None:
        return None, ""
    try:
        return _read_table(db.url, db.table, db.limit), f"table {db.table}"
    except HeadroomError as exc:
        st.error(exc.message)
        return None, ""


def column_mapping(frame: pd.DataFrame, *, key: str) -> tuple[ColumnMapping, str]:
    """The detected roles, editable: one select per role, a feature list, and the memory unit."""
    detected = detect_columns(frame)
    columns = [str(c) for c in frame.columns]
    chosen: dict[str, str | None] = {}
    grid = st.columns(4)
    for i, role in enumerate(ROLES):
        current = getattr(detected, role)
        options = ["—", *columns]
        picked = grid[i % 4].selectbox(
            role.replace("_", " "), options, index=options.index(current) if current in columns else 0,
            help=config.ROLE_HELP[role], key=f"{key}-{role}")
        chosen[role] = None if picked in (None, "—") else str(picked)
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in chosen.values()]
    features = st.multiselect("Other numeric features", numeric, default=[c for c in detected.features if c in numeric],
                              key=f"{key}-features")
    units = list(MEMORY_UNITS)
    unit = st.selectbox("Unit of memory numbers written without a unit", units,
                        index=units.index(config.MEMORY_UNIT_DEFAULT),
                        format_func=lambda u: config.MEMORY_UNIT_LABELS.get(u, u), key=f"{key}-unit")
    mapping = ColumnMapping.from_dict({**chosen, "features": list(features)})
    return mapping, unit or config.MEMORY_UNIT_DEFAULT


def prepared_runs(frame: pd.DataFrame, mapping: ColumnMapping, unit: str, name: str) -> PreparedRuns | None:
    try:
        return prepare(frame, mapping, memory_unit=unit, file=name)
    except HeadroomError as exc:
        st.error(exc.message)
        return None


def runs_summary(prepared: PreparedRuns) -> None:
    """How many runs are usable, over which span, and the rows excluded (listed, downloadable)."""
    runs, rejected = prepared.runs, prepared.rejected
    st.markdown(f"**{len(runs):,}** usable runs of **{runs['block'].nunique()}** blocks and "
                f"**{runs['stage'].nunique()}** stages, {runs['run_date'].min():%Y-%m-%d} to "
                f"{runs['run_date'].max():%Y-%m-%d}.")
    if not rejected.empty:
        with st.expander(f"{rejected['row'].nunique()} rows excluded (unreadable values, never guessed)"):
            st.dataframe(rejected, hide_index=True)
            download_table(rejected, "excluded_rows.csv", key="dl-excluded")


@st.cache_resource(show_spinner="Loading the model…", max_entries=config.LOADED_MODELS_MAX)
def load_model(model_id: str) -> JobModel:
    return load_job_model(get_registry(), model_id)


def train_button(prepared: PreparedRuns, *, source: str, key: str) -> TrainedJobs | None:
    """Algorithm choice and a Train button; trains once per data fingerprint and settings, with a
    progress bar, and keeps every model in the registry. Results live in a bounded store shared by
    the process's sessions (the oldest go first), not in a dict that grows with every upload."""
    defaults = config.TRAIN_CONFIG
    algorithms = st.multiselect("Algorithms (the history baseline is always trained)", list(MODEL_ALGORITHMS),
                                default=list(defaults.algorithms), key=f"{key}-algorithms")
    train_config = replace(defaults, algorithms=tuple(algorithms))
    store = result_store("jobs-trained", config.TRAINED_RESULTS_MAX_ITEMS, config.TRAINED_RESULTS_MAX_MB)
    cache_key = (runs_fingerprint(prepared), repr(train_config))
    found: TrainedJobs | None = store.find(cache_key)
    if found is not None:
        return found
    if not st.button("Train", type="primary", key=f"{key}-train", icon=":material/model_training:"):
        return None
    bar = st.progress(0.0, text="Preparing features…")

    def progress(fraction: float, text: str) -> None:
        bar.progress(min(fraction, 1.0), text=text)

    try:
        trained = train(prepared, train_config, get_registry(), source=source, progress=progress)
    except HeadroomError as exc:
        st.error(exc.message)
        return None
    bar.empty()
    return store.put(cache_key, trained)


def score_cards(headlines: list[HeadlineScore]) -> None:
    """Per target: R² (log) with its gain over the baseline, and the calibration factor."""
    cols = st.columns(2 * len(headlines))
    for i, score in enumerate(headlines):
        # R² is undefined when every held-out run took the same time: "n/a", not "nan".
        gain = score.gain_vs_baseline
        cols[2 * i].metric(f"{score.target} R² (log)", number(score.r2_log, ".3f"),
                           f"{gain:+.3f} vs baseline" if gain is not None else None)
        cols[2 * i + 1].metric(f"{score.target} calibration factor", number(score.calibration, ".2f"))


def quantile_select(*, key: str) -> float:
    value = st.select_slider("Request quantile", options=list(config.REQUEST_QUANTILES),
                             value=config.DEFAULT_REQUEST_QUANTILE, format_func=lambda q: f"{q:.0%}", key=key)
    return float(value)


def unseen_notes(unseen: Mapping[str, Mapping[str, int]]) -> None:
    """Say which stages (a warning: often a changed flow), blocks and platforms no training run had."""
    if "stage" in unseen:
        st.warning(f"{sum(unseen['stage'].values()):,} runs are of stages this model never saw "
                   f"({', '.join(unseen['stage'])}): a changed flow? Their predictions lean on related stages "
                   "and are the least reliable (see Scores by history); retrain once some have run.")
    others = [f"{len(unseen[c])} new {c}(s) ({', '.join(unseen[c])})" for c in ("block", "platform") if c in unseen]
    if others:
        st.info(f"Not in the training runs: {'; '.join(others)}. Those predictions come from other blocks' "
                "runs of the same stages.")


def single_run_form(model: JobModel) -> SingleRunRequest | None:
    """Platform, block, stage and the model's numeric inputs; the request once submitted."""
    with st.form("jobs-single"):
        cols = st.columns(3)
        platform = cols[0].selectbox("Platform", model.platforms)
        block = cols[1].selectbox("Block", model.blocks)
        stage = cols[2].selectbox("Stage", model.stages)
        values: dict[str, Any] = {c: st.number_input(c, value=None, key=f"jobs-single-{c}")
                                  for c in model.design_columns}
        submitted = st.form_submit_button("Predict this run")
    if not submitted:
        return None
    return SingleRunRequest(str(platform), str(block), str(stage),
                            {c: (None if v is None else float(v)) for c, v in values.items()})


def single_run_result(one: SingleRunPrediction) -> None:
    cols = st.columns(4)
    cols[0].metric("Predicted runtime", one.runtime)
    cols[1].metric(f"Runtime upper bound ({one.quantile:.0%})", one.runtime_upper)
    cols[2].metric("Predicted peak memory", one.memory)
    cols[3].metric(f"Memory request ({one.quantile:.0%})", one.memory_request)
    st.caption(f"Based on {one.earlier_runs} earlier run(s) of this block+stage"
               + ("." if one.history_from == "this block+stage" else f"; history from {one.history_from}."))
    st.dataframe(one.row, hide_index=True)


__all__ = ["DbSource", "SingleRunRequest", "bundled_runs", "column_mapping", "database_source",
           "database_url_input", "load_model", "prepared_runs", "quantile_select", "runs_summary",
           "score_cards", "single_run_form", "single_run_result", "source_frame", "train_button",
           "unseen_notes"]
