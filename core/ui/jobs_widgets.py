"""Widgets and cached calls of the Job Runtime & Memory page.

Each widget returns a typed value; errors from core are shown as messages here, so the page
stays a short story. Defaults, limits and help texts come from ``core.jobs.config``; model code
and storage are reached through ``core.jobs.service`` and ``core.app.service`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from core.jobs.history import TARGETS
from core.jobs.parsing import MEMORY_UNITS
from core.jobs.service import (
    BUNDLED_FILE,
    HeadlineScore,
    ModelChoice,
    SingleRunPrediction,
    TrainedJobs,
    prepare,
    read_runs_table,
    runs_fingerprint,
    score_labels,
    scores_table,
    train,
)
from core.jobs.service import load_model as load_job_model
from core.jobs.service import model_labels as service_model_labels
from core.jobs.training import MODEL_ALGORITHMS, JobModel
from core.ui.downloads import download_table
from core.ui.format import show_configured
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


def _versus(mine: float | None, base: float | None, fmt: Callable[[float], str],
            delta: Callable[[float], str], colour: str) -> dict[str, Any]:
    """A card's value, its delta (the model minus the baseline) and the baseline's own figure."""
    card: dict[str, Any] = {"value": fmt(mine) if mine is not None else "n/a"}
    if base is None:
        return card
    if mine is None:
        return {**card, "delta_description": f"baseline {fmt(base)}"}
    return {**card, "delta": delta(mine - base), "delta_color": colour, "delta_description": f"vs baseline {fmt(base)}"}


def _figure_formats(unit: str, sign: str = "") -> dict[str, Callable[[float], str]]:
    """How cards and captions write each score: R² at 3 decimals, MAE with its unit, rates in %
    (``sign="+"`` for a difference)."""
    return {"r2_log": lambda v: f"{v:{sign}.3f}", "r2": lambda v: f"{v:{sign}.3f}",
            "mae": lambda v: f"{v:{sign},.1f} {unit}", "mape": lambda v: f"{v:{sign}.2%}",
            "calibration": lambda v: f"{v:{sign}.2f}×"}


def _baseline_lead(score: HeadlineScore) -> str | None:
    """A plain sentence naming every headline score on which the history baseline beats the model."""
    if score.baseline is None or not score.baseline_better:
        return None
    shown = _figure_formats(score.unit)
    parts = []
    for name in score.baseline_better:
        base, mine = getattr(score.baseline, name), getattr(score.model, name)
        direction = "higher" if name.startswith("r2") else "lower"
        parts.append(f"{direction} {config.SCORE_WORDS[name]} ({shown[name](base)} vs {shown[name](mine)})")
    return (f":material/warning: **The history baseline beats {score.algorithm} on {score.target}**: "
            f"{', '.join(parts)}.")


def score_cards(headlines: list[HeadlineScore]) -> None:
    """Per target, a row of R² (log), MAE (in s or MB) and calibration factor cards, each with the
    history baseline's own figure beside the model's, and a plain caption where the baseline wins:
    a gain on one score cannot hide a loss on another."""
    for score in headlines:
        shown, delta = _figure_formats(score.unit), _figure_formats(score.unit, "+")
        # R² is undefined when every held-out run took the same time: "n/a", not "nan". A higher MAE
        # than the baseline's is bad news (inverse: red); a calibration factor is neither good nor bad.
        cards = (("r2_log", f"{score.target} R² (log)", "normal"),
                 ("mae", f"{score.target} MAE ({score.unit})", "inverse"),
                 ("calibration", f"{score.target} calibration factor", "off"))
        for col, (name, label, colour) in zip(st.columns(3), cards, strict=True):
            base = getattr(score.baseline, name) if score.baseline else None
            col.metric(label, help=config.SCORE_HELP[name],
                       **_versus(getattr(score.model, name), base, shown[name], delta[name], colour))
        lead = _baseline_lead(score)
        if lead:
            st.caption(lead)
    if headlines and headlines[0].baseline is None:
        st.caption("These are the history baseline's own scores: the reference every model is compared with.")


def _score_columns(frame: pd.DataFrame, labels: Mapping[str, str]) -> dict[str, Any]:
    """``column_config`` for a score table whose columns are named by ``labels`` (raw -> shown):
    each score in its format, with its one-line help on the header."""
    out: dict[str, Any] = {}
    for raw, label in labels.items():
        if label in frame and (raw in config.SCORE_FORMATS or raw in config.SCORE_HELP):
            out[label] = st.column_config.NumberColumn(label, format=config.SCORE_FORMATS.get(raw),
                                                       help=config.SCORE_HELP.get(raw))
    return out


def scores_tables(scores: pd.DataFrame, *, more: str | None = None) -> None:
    """One table per target (overall, per stage or per history), columns named with units and
    explained on hover, narrow enough to need no horizontal scrolling. With ``more``, the other
    columns (requests at 95% and 99%) in an expander of that title; else the download has them."""
    tables = [scores_table(scores, target) for target in TARGETS]
    for table in tables:
        st.markdown(f"**{table.target.capitalize()}** · MAE in {config.UNIT_WORDS[table.unit]}")
        show_configured(table.main, _score_columns(table.main, score_labels(table.target)))
    if not more:
        st.caption("More columns (raw R², over-provision, requests at 95% and 99%) are in the CSV download.")
        return
    with st.expander(more):
        for table in tables:
            st.markdown(f"**{table.target.capitalize()}**")
            show_configured(table.more, _score_columns(table.more, score_labels(table.target)))


def safety_table(curve: pd.DataFrame) -> None:
    """The cost-of-safety curve as a table: one row per model, target and request quantile."""
    labels = {raw: label for raw, label in config.SCORE_LABELS.items() if "{unit}" not in label}
    frame = curve.rename(columns=labels)
    show_configured(frame, _score_columns(frame, labels))


def deployment_note(models: ModelChoice, model_id: str) -> str:
    """Which model is deployed, and which one the predictions below use (not deployed until the
    user clicks Deploy: training keeps every model but deploys none)."""
    used = f"**{models.label(model_id)}**"
    if models.deployed == model_id:
        return f":material/check_circle: {used} is deployed ✓ and the predictions below use it."
    until = "it is not deployed until you click “Deploy this model”."
    if models.deployed is None:
        return (f"No jobs model is deployed yet (training keeps every model, deploys none). The predictions "
                f"below use {used}, picked under “Model to use”; {until}")
    return (f"Deployed: **{models.label(models.deployed)}**. The predictions below use {used}, picked under "
            f"“Model to use”; {until}")


def _model_columns(frame: pd.DataFrame) -> dict[str, Any]:
    """``column_config`` of the models table: each target's scores in their format, with help."""
    out: dict[str, Any] = {"status": st.column_config.TextColumn("status", help=config.STATUS_HELP),
                           "trained at": st.column_config.DatetimeColumn("trained at", format=config.TRAINED_AT_FORMAT)}
    for raw, label in service_model_labels().items():
        target, _, score = raw.partition("_")
        if label in frame and target in TARGETS and score in config.SCORE_FORMATS:
            out[label] = st.column_config.NumberColumn(label, format=config.SCORE_FORMATS[score],
                                                       help=config.SCORE_HELP.get(score))
    return out


def models_overview(models: ModelChoice, model_id: str) -> None:
    """The models table with the deployed one marked, what the predictions use, and every column
    (fingerprints, requests at 95%) in an expander."""
    show_configured(models.main_table, _model_columns(models.main_table))
    st.caption(deployment_note(models, model_id))
    with st.expander("All columns of the models table"):
        show_configured(models.all_table, _model_columns(models.all_table))


def quantile_select(*, key: str) -> float:
    value = st.select_slider("Request quantile", options=list(config.REQUEST_QUANTILES),
                             value=config.DEFAULT_REQUEST_QUANTILE, format_func=lambda q: f"{q:.0%}", key=key,
                             help=config.SCORE_HELP["quantile"])
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
           "database_url_input", "deployment_note", "load_model", "models_overview", "prepared_runs",
           "quantile_select", "runs_summary", "safety_table", "score_cards", "scores_tables", "single_run_form",
           "single_run_result", "source_frame", "train_button", "unseen_notes"]
