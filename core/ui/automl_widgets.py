"""Widgets of the AutoML page: Streamlit only, the work is in ``core.automl.service`` and the job registry.

Each widget returns a typed value (or None after showing the user why); a ``HeadroomError`` is shown with
its message, never a traceback. Reading, profiling, the EDA report and the leakage scan are cached per data
key (the sample's file or the upload's content hash) and target in bounded ``st.cache_data`` stores; trained
models in a bounded ``st.cache_resource``. Training never runs in the page: ``Train`` queues a job that this
process's background worker (started once per process, ``job_registry``) runs in a child process, and the
Jobs tab re-reads progress from the database, so a refresh or a second tab finds the job where it is.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from core.automl import config, service
from core.automl.artifact import MODEL_FILE, ONNX_FILE
from core.automl.eda import MEASURE_HELP
from core.automl.jobs import CANCELLED, DONE, FAILED, MAX_NOTES_CHARS, MAX_TAG_CHARS, QUEUED, RUNNING, JobRegistry
from core.automl.worker import Worker, start_worker
from core.errors import HeadroomError
from core.ui import automl_figures as figures
from core.ui.downloads import download_table
from core.ui.errors import show_errors
from core.ui.format import PERCENT, column_formats, for_display
from core.ui.resources import app_settings
from core.ui.upload import csv_upload

T = TypeVar("T")
TABS = ("Build a model", "Jobs and results", "Predict")
BUILD, JOBS, PREDICT = TABS
TAB_KEY = "automl_tab"
SOURCES = ("Sample data set", "Upload a CSV")
EDA_TABS = ("Warnings", "Columns", "Distributions", "Target", "Associations")
LIVE_SECONDS = 2.0  # the Jobs tab re-reads progress this often while a job is queued or running
DEFAULT_TRIALS = 20
HIGHLIGHT = "background-color: rgba(245, 133, 24, 0.18)"
LEVEL_COLOURS = {config.DRIFT_STABLE: "", config.DRIFT_MODERATE: "background-color: rgba(242, 169, 59, 0.3)",
                 config.DRIFT_MAJOR: "background-color: rgba(228, 87, 86, 0.3)"}
# What each phase of a job means to a reader (the worker and training write the keys).
PHASES = {QUEUED: "waiting for the background worker", "loading": "loading the data", "training": "starting",
          "split": "splitting off the test rows", "search": "searching models (cross-validated)",
          "selection": "choosing the winner", "refit": "refitting the winner on all training rows",
          "test": "scoring on the test rows", "importance": "measuring permutation importance",
          "trained": "trained", "export": "exporting to ONNX and checking parity", DONE: "done",
          FAILED: "failed", CANCELLED: "cancelled"}
METRICS = {"roc_auc": "ROC AUC", "log_loss": "log loss", "accuracy": "accuracy",
           "balanced_accuracy": "balanced accuracy", "f1_macro": "F1 (macro)", "rmse": "RMSE", "mae": "MAE",
           "r2": "R²"}
HIGHER_IS_BETTER = {"roc_auc", "accuracy", "balanced_accuracy", "f1_macro", "r2"}
HEADLINE_TEST = {config.CLASSIFICATION: ("roc_auc", "accuracy"), config.REGRESSION: ("rmse", "r2")}
DEFAULT_MODEL = "default LightGBM"

# Session keys. Widgets of one data set (the target) or one data set and target (everything after it) carry
# that scope in their key (``scoped``), so other data give fresh widgets with their defaults; a reused key
# would keep showing the old choice. The keys of a scope left behind are dropped.
_DATA_SCOPE, _CONTEXT_SCOPE = "automl_data_scope", "automl_context_scope"
_ROLE_BASE, _ROLE_VERSION = "automl_role_base", "automl_role_version"
_JOB_KEY, _GOTO, _FLASH, _ACTIVE = "automl_job", "automl_goto_job", "automl_flash", "automl_active_jobs"



def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _number(value: Any, spec: str = ".4g") -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(number, spec) if np.isfinite(number) else "–"


def task_reason(reason: str, task: str | None) -> str:
    """The detection's reason without its trailing ": <task>" (the sentence around it names the task)."""
    suffix = f": {task}"
    return reason[: -len(suffix)] if task and reason.endswith(suffix) else reason


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:60] or "data"


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


def _act(call: Callable[[], object], message: str) -> None:
    """Run a registry action; on success rerun the page with ``message``, else show the error."""
    try:
        call()
    except HeadroomError as exc:
        st.error(exc.message)
        return
    flash("success", message)
    st.rerun()


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
    job_id = st.session_state.pop(_GOTO, None)
    if job_id:
        st.session_state[TAB_KEY] = JOBS
        st.session_state[_JOB_KEY] = job_id


def tabs() -> Sequence[Any]:
    # Bound to the address (?automl_tab=...): a refresh or a shared link opens the same tab; only the open
    # tab's content runs (``tab.open``), so reading results does not rebuild the EDA report.
    return st.tabs(list(TABS), key=TAB_KEY, bind="query-params", on_change="rerun")


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Dataset:
    frame: pd.DataFrame
    name: str  # the file name, stored with the job
    key: str  # what caches and widget state are kept under: the sample's file or the upload's hash
    target: str  # the default target


@st.cache_data(show_spinner="Reading the sample…", max_entries=4)
def _sample(file: str, data_dir: str, max_rows: int) -> pd.DataFrame:
    return service.load_sample(file, app_settings())


@st.cache_data(show_spinner="Reading the upload…", max_entries=4)
def _upload(content: bytes, name: str, max_rows: int) -> pd.DataFrame:
    return service.read_upload(content, name, app_settings())


def _scope(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def scoped(name: str, *, data_only: bool = False) -> str:
    """The session key of widget ``name`` in the current data set (and target) scope."""
    return f"{name}__{st.session_state.get(_DATA_SCOPE if data_only else _CONTEXT_SCOPE, '')}"


def _enter_scope(holder: str, scope: str) -> None:
    old = st.session_state.get(holder)
    if old == scope:
        return
    if old:
        for name in [k for k in st.session_state if str(k).endswith(f"__{old}")]:
            del st.session_state[name]
    st.session_state[holder] = scope


def _read_note(frame: pd.DataFrame, name: str) -> str:
    info = frame.attrs.get("csv")
    text = f"{name}: {len(frame):,} rows × {frame.shape[1]} columns"
    if info is None:
        return text
    delimiter = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(info.delimiter, info.delimiter)
    return f"{text}, {delimiter}-separated, {info.encoding}"


def data_source() -> Dataset | None:
    """A bundled sample (its default target preselected) or an uploaded CSV, read and validated."""
    settings = app_settings()
    source = st.radio("Data", SOURCES, horizontal=True, key="automl_source")
    if source == SOURCES[0]:
        titles = {s.file: s for s in service.SAMPLES}
        file = str(st.selectbox("Sample data set", list(titles), key="automl_sample",
                                format_func=lambda f: f"{titles[f].title} ({f})"))
        sample = titles[file]
        st.caption(f"{sample.note}. Exercises: {sample.tests}.")
        frame = show_errors(lambda: _sample(file, str(settings.data_dir), settings.max_upload_rows))
        dataset = None if frame is None else Dataset(frame, file, f"sample:{file}", sample.target)
    else:
        uploaded = st.file_uploader("CSV file", type=["csv", "txt", "tsv"], key="automl_upload",
                                    help="Comma, semicolon, tab or pipe separated; UTF-8 or Latin-1; decimal commas "
                                         f"are read. At most {settings.max_upload_rows:,} rows.")
        if uploaded is None:
            st.info("Upload a CSV with one row per example and one column per attribute, the column to predict "
                    "included; or pick a sample data set.")
            return None
        content = uploaded.getvalue()
        frame = show_errors(lambda: _upload(content, uploaded.name, settings.max_upload_rows))
        digest = hashlib.sha256(content).hexdigest()[:20]
        dataset = None if frame is None else Dataset(frame, uploaded.name, f"upload:{digest}", str(frame.columns[-1]))
    if dataset is None:
        return None
    _enter_scope(_DATA_SCOPE, _scope(dataset.key))
    st.caption(_read_note(dataset.frame, dataset.name))
    # The reader's notes (attrs) are said above; pandas deep-copies attrs in every operation and Parquet
    # cannot store them, so the frame the page works with carries none.
    dataset.frame.attrs = {}
    return dataset


def target_select(data: Dataset) -> str:
    columns = [str(c) for c in data.frame.columns]
    index = columns.index(data.target) if data.target in columns else len(columns) - 1
    target = str(st.selectbox("Target: the column to predict", columns, index=index,
                              key=scoped("automl_target", data_only=True),
                              help="Preselected: the sample's usual target, or an upload's last column."))
    _enter_scope(_CONTEXT_SCOPE, _scope(f"{data.key}|{target}"))
    return target


@st.cache_data(show_spinner="Detecting column roles and the problem type…", max_entries=8)
def _profile(key: str, target: str, _frame: pd.DataFrame) -> service.Profile:
    return service.profile(_frame, target)


def profile(data: Dataset, target: str) -> service.Profile | None:
    return show_errors(lambda: _profile(data.key, target, data.frame))


# ---------------------------------------------------------------------------------------------- EDA
@st.cache_data(show_spinner="Building the EDA report…", max_entries=8)
def _eda(key: str, target: str, _frame: pd.DataFrame, _roles: Mapping[str, str]) -> service.EdaReport:
    return service.eda_report(_frame, target, _roles)


def eda_report(data: Dataset, found: service.Profile) -> service.EdaReport | None:
    return show_errors(lambda: _eda(data.key, found.target, data.frame, found.role_of))


def eda_overview(report: service.EdaReport) -> None:
    info = report.overview
    cards = st.columns(4)
    cards[0].metric("Rows", f"{int(info['rows']):,}")
    cards[1].metric("Columns", f"{int(info['columns']):,}")
    cards[2].metric("Missing cells", f"{int(info['missing_cells']):,}",
                    help=f"{float(info['missing_cells_share']):.1%} of all cells")
    cards[3].metric("Duplicate rows", f"{int(info['duplicate_rows']):,}",
                    help=f"{float(info['duplicate_share']):.1%} of rows; duplicates can sit on both sides of the "
                         "train/test split and flatter the test score")
    for note in report.notes:
        # The target's task and the association measures are said where they are shown.
        if not note.startswith(("Associations with the target:", "Target '")):
            st.caption(note)


def eda_warnings(report: service.EdaReport) -> None:
    if report.warnings.empty:
        st.success("No warnings: no column is mostly missing, skewed, constant or ID-like, and no duplicates.")
        return
    table(report.warnings, "eda_warnings.csv", key="automl_dl_warnings",
          labels={"column": "column", "warning": "warning", "message": "what it means"})


def eda_columns(report: service.EdaReport) -> None:
    table(report.columns, "eda_columns.csv", key="automl_dl_columns",
          labels={"column": "column", "kind": "kind", "role": "role", "missing": "missing",
                  "missing_share": "missing share", "unique": "distinct", "mean": "mean", "sd": "sd", "min": "min",
                  "max": "max", "skew": "skew", "top_values": "most frequent (or range)"},
          formats={"missing_share": PERCENT, "missing": "%d", "unique": "%d", "skew": "%.2f"})


def column_select(report: service.EdaReport) -> str:
    names = list(report.distributions)
    return str(st.selectbox("Column", names, key=scoped("automl_dist_column"),
                            format_func=lambda n: f"{n} ({report.roles.get(n, '')})") or names[0])


def distribution_download(report: service.EdaReport, column: str) -> None:
    download_table(report.distributions[column], f"distribution_{_slug(column)}.csv", key="automl_dl_distribution")


def target_caption(report: service.EdaReport) -> None:
    st.caption(f"**{report.target}** is a **{report.task}** target: {task_reason(report.task_reason, report.task)}.")


def association_table(report: service.EdaReport) -> None:
    st.caption("Association is one number from 0 (none) to 1 (fully determined) per column, by the measure that "
               "fits the pair of kinds: " + "; ".join(f"**{k}**: {v}" for k, v in MEASURE_HELP.items()) + ".")
    table(report.associations, "eda_associations.csv", key="automl_dl_associations",
          labels={"column": "column", "association": "association", "measure": "measure", "rows": "rows used"},
          formats={"association": "%.3f", "rows": "%d"})


def eda_download(report: service.EdaReport, data: Dataset) -> None:
    title = f"EDA report: {data.name}, target {report.target}"
    st.download_button("Download the EDA report (HTML)", data=lambda: service.eda_html(report, title),
                       file_name=f"eda_{_slug(Path(data.name).stem)}_{_slug(str(report.target))}.html",
                       mime="text/html", key="automl_dl_eda", icon=":material/download:",
                       help="One standalone file: every table and chart above, no script, opens offline.")


# ---------------------------------------------------------------------------------------------- leakage
@st.cache_data(show_spinner="Scanning every column for leakage…", max_entries=8)
def _leakage(key: str, target: str, task: str, _frame: pd.DataFrame, _roles: Mapping[str, str]) -> pd.DataFrame:
    return service.leakage_scan(_frame, target, task, _roles)


def _editor_key() -> str:
    return scoped(f"automl_roles_{int(st.session_state.get(scoped(_ROLE_VERSION), 0))}")


def current_roles(found: service.Profile) -> dict[str, str]:
    """The roles as the column table shows them now: detected, then the last reset (a drop), then the
    edits in the table (read from its state, so widgets drawn above the table see them too)."""
    roles = {**found.role_of, **dict(st.session_state.get(scoped(_ROLE_BASE)) or {})}
    names = [str(c) for c in found.roles["column"] if c != found.target]
    edits = st.session_state.get(_editor_key())
    for row, change in (edits.get("edited_rows", {}) if isinstance(edits, Mapping) else {}).items():
        if "role" in change and change["role"] and 0 <= int(row) < len(names):
            roles[names[int(row)]] = str(change["role"])
    roles[found.target] = config.TARGET
    return roles


def _drop_columns(found: service.Profile, columns: Sequence[str]) -> None:
    """Button callback: the current roles with ``columns`` set to drop become the table's new start."""
    st.session_state[scoped(_ROLE_BASE)] = {**current_roles(found), **{c: config.DROP for c in columns}}
    st.session_state.pop(_editor_key(), None)
    st.session_state[scoped(_ROLE_VERSION)] = int(st.session_state.get(scoped(_ROLE_VERSION), 0)) + 1
    flash("success", f"Role set to drop: {', '.join(columns)}.")


def leakage(data: Dataset, found: service.Profile) -> None:
    """Columns that predict the target almost perfectly on their own, each with its reason, and one click to
    leave them out."""
    scan = show_errors(lambda: _leakage(data.key, found.target, found.task, data.frame, found.role_of))
    if scan is None:
        return
    st.caption("Each model column alone is cross-validated against the target, and checked for being a near-copy "
               "or part of an accounting identity with it. A column that gives the answer away will not be there "
               "when you predict, so a model using it looks far better than it is.")
    flagged = scan[scan["flagged"].astype(bool)]
    if flagged.empty:
        st.success("No column gives the target away.")
    else:
        for row in flagged.itertuples(index=False):
            st.warning(f"**{row.column}**: {row.reason}")
        columns = [str(c) for c in flagged["column"]]
        current = current_roles(found)
        done = all(current.get(c) == config.DROP for c in columns)
        st.button("Drop flagged columns", key="automl_drop_leaks", on_click=_drop_columns, args=(found, columns),
                  disabled=done, icon=":material/block:",
                  help="Sets their role to drop in the column table below (you can change it back there).")
    with st.expander("Every column's score on its own"):
        table(scan, "leakage_scan.csv", key="automl_dl_leakage",
              labels={"column": "column", "score": "score alone", "metric": "metric", "near_copy": "near copy",
                      "flagged": "flagged", "reason": "reason"}, formats={"score": "%.4f"})


# ---------------------------------------------------------------------------------------------- columns
def roles_editor(found: service.Profile) -> dict[str, str]:
    """Every column's role, editable (the target excluded: it is fixed); the detected role and its reason
    stay beside it read-only."""
    detected = found.role_of
    base = {**detected, **dict(st.session_state.get(scoped(_ROLE_BASE)) or {})}  # edits are the editor's own state
    rows = found.roles[found.roles["column"] != found.target]
    frame = pd.DataFrame({"column": rows["column"].astype(str), "role": [base[c] for c in rows["column"]],
                          "detected": rows["role"], "reason": rows["reason"], "kind": rows["kind"],
                          "missing_share": rows["missing_share"] * 100.0, "unique_ratio": rows["unique_ratio"]})
    options = [r for r in config.ROLES if r != config.TARGET]
    help_text = " · ".join(f"{r}: {config.ROLE_HELP[r]}" for r in options)
    edited = st.data_editor(
        frame, key=_editor_key(), hide_index=True, num_rows="fixed",
        disabled=["column", "detected", "reason", "kind", "missing_share", "unique_ratio"],
        column_config={
            "column": st.column_config.TextColumn("column", pinned=True),
            "role": st.column_config.SelectboxColumn("role (editable)", options=options, required=True,
                                                     help=help_text),
            "detected": st.column_config.TextColumn("detected role"),
            "reason": st.column_config.TextColumn("why", width="medium"),
            "missing_share": st.column_config.NumberColumn("missing", format="%.1f%%"),
            "unique_ratio": st.column_config.NumberColumn("distinct share", format="%.2f"),
        })
    roles = {str(c): str(r) for c, r in zip(edited["column"], edited["role"], strict=True)}
    roles[found.target] = config.TARGET
    changed = [c for c, r in roles.items() if r != detected.get(c)]
    used = sum(r in config.MODEL_ROLES for c, r in roles.items() if c != found.target)
    st.caption(f"Target **{found.target}** (fixed). The model reads {_plural(used, 'column')} "
               f"(roles {', '.join(config.MODEL_ROLES)}); the others are left out. "
               + (f"Changed by you: {', '.join(changed)}." if changed else "All roles as detected."))
    return roles


# ---------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class TrainChoices:
    task: str
    time_column: str | None
    budget_seconds: int
    seed: int
    max_trials: int | None
    name: str


def _budget_rule() -> str:
    steps = [f"under {below:,} rows {seconds:,} s" for below, seconds in config.BUDGET_TABLE]
    return "; ".join(steps) + f"; more rows {config.BUDGET_ABOVE:,} s"


def train_settings(data: Dataset, found: service.Profile, roles: Mapping[str, str]) -> TrainChoices:
    """Problem type (detected, overridable), time column, budget and reproducible mode."""
    task = str(st.radio("Problem type", config.TASKS, index=config.TASKS.index(found.task), horizontal=True,
                        key=scoped("automl_task")))
    st.caption(f"Detected: **{found.task}**, from the target's values: {task_reason(found.task_reason, found.task)}.")
    times = [c for c, r in roles.items() if r == config.DATETIME]
    default = found.time_column if found.time_column in times else ""
    split = "a random split, stratified by class" if task == config.CLASSIFICATION else "a random split"
    time_column = str(st.selectbox("Time column", ["", *times], index=["", *times].index(default),
                                   # A new widget when the date columns change (a role edit): no stale choice.
                                   key=scoped(f"automl_time_{_scope('|'.join(times))}"),
                                   format_func=lambda c: c or f"none: {split}",
                                   help="Columns with the role datetime. With one, the test rows are the last "
                                        f"{config.TEST_SHARE:.0%} in time order, so the score is measured on a "
                                        "future the model never saw."))
    st.caption(f"Detected: {found.time_column or 'no date column'}. The test set is {config.TEST_SHARE:.0%} of the "
               "rows, held out from the search and used once to score the winner.")
    mode = st.radio("Time budget", ("Automatic", "Set seconds"), horizontal=True, key=scoped("automl_budget_mode"))
    budget = found.budget_seconds
    if mode == "Set seconds":
        budget = int(st.number_input("Budget (seconds)", config.MIN_BUDGET_SECONDS, config.MAX_BUDGET_SECONDS,
                                     found.budget_seconds, step=5, key=scoped("automl_budget_seconds")))
    automatic = f"{found.rows:,} rows → {found.budget_seconds:,} s ({_budget_rule()})"
    st.caption((f"Automatic from the row count: {automatic}." if mode == "Automatic" else
                f"From {config.MIN_BUDGET_SECONDS} to {config.MAX_BUDGET_SECONDS:,} s; automatic would be {automatic}.")
               + f" The whole job (search, refit, test scores, export) ends within the budget plus "
                 f"{config.BUDGET_TOLERANCE:.0%}.")
    reproducible = st.checkbox("Reproducible mode", key=scoped("automl_reproducible"),
                               help="A fixed number of search trials with a fixed seed: the same data and settings "
                                    "give the same leaderboard. Without it the search tries as many models as the "
                                    "budget allows, which depends on the machine's load.")
    trials, seed = None, config.DEFAULT_SEED
    if reproducible:
        left, right = st.columns(2)
        trials = int(left.number_input("Trials", 1, 10_000, DEFAULT_TRIALS, key=scoped("automl_trials"),
                                       help="The search stops after this many trials (or at the budget)."))
        seed = int(right.number_input("Seed", 0, 2**31 - 1, config.DEFAULT_SEED, key=scoped("automl_seed")))
    name = st.text_input("Job name (optional)", key=scoped("automl_job_name"), max_chars=120,
                         placeholder=f"{found.target} · {data.name}")
    return TrainChoices(task, time_column or None, budget, seed, trials, name.strip())


def train_button(registry: JobRegistry, data: Dataset, target: str, roles: Mapping[str, str],
                 choices: TrainChoices) -> None:
    """Queue a training job; the page then opens the Jobs tab on it. The page stays usable meanwhile."""
    busy = [r for r in registry.jobs() if r.status in (QUEUED, RUNNING)]
    st.caption(f"Jobs run one at a time in a background process (it keeps going if you close the page). "
               f"Queued or running now: {len(busy)}.")
    if not st.button("Train", type="primary", key="automl_train", icon=":material/model_training:"):
        return
    try:
        spec = service.make_spec(data.frame, target, roles, task=choices.task, budget_seconds=choices.budget_seconds,
                                 seed=choices.seed, time_column=choices.time_column, max_trials=choices.max_trials)
        job_id = service.submit(registry, data.frame, data.name, spec, choices.name or None)
    except HeadroomError as exc:
        st.error(exc.message)
        return
    flash("success", f"Job queued with a {choices.budget_seconds:,} s budget. It trains in the background: keep "
                     "using the page, refresh it or come back later.")
    st.session_state[_GOTO] = job_id
    st.rerun()


# ---------------------------------------------------------------------------------------------- jobs
def _active(records: Sequence[service.JobRecord]) -> tuple[tuple[str, str], ...]:
    return tuple((r.job_id, r.status) for r in records if r.status in (QUEUED, RUNNING))


def live_jobs(registry: JobRegistry) -> None:
    """Progress of queued and running jobs and the job table, re-read from the database every
    ``LIVE_SECONDS`` while a job is active (a fragment: the rest of the page keeps what you typed)."""
    active = _active(registry.jobs())
    st.session_state[_ACTIVE] = active
    st.fragment(_live_panel, run_every=LIVE_SECONDS if active else None)(registry)


def _live_panel(registry: JobRegistry) -> None:
    records = registry.jobs()
    if _active(records) != st.session_state.get(_ACTIVE):
        st.rerun(scope="app")  # a job started or ended: its details, the picker and the Predict tab change too
    queued = sorted((r for r in records if r.status == QUEUED), key=lambda r: r.created_at)
    for record in [r for r in records if r.status == RUNNING] + queued:
        _progress_card(record, ahead=queued.index(record) if record in queued else 0)
    if _active(records):
        st.caption(f":material/autorenew: Live: re-read from the database every {LIVE_SECONDS:.0f} s while a job "
                   "is queued or running.")
        status = worker_status()
        if status.last_error:
            st.warning(f"The background worker reported: {status.last_error}")
    jobs_table(registry.list_jobs())


def _progress_card(record: service.JobRecord, ahead: int) -> None:
    progress = record.progress
    phase = str(progress.get("phase") or record.status)
    with st.container(border=True):
        st.markdown(f"**{record.name}** · {record.status} · {PHASES.get(phase, phase)}")
        if record.status == QUEUED:
            st.caption("Waiting for the background worker" + (f" ({_plural(ahead, 'job')} ahead)." if ahead else "."))
            return
        elapsed = float(progress.get("elapsed") or 0.0)
        remaining = float(progress.get("remaining", max(record.budget_seconds - elapsed, 0.0)) or 0.0)
        parts = [f"{elapsed:.0f} s of a {record.budget_seconds:.0f} s budget, {remaining:.0f} s left"]
        if progress.get("trials") is not None:
            parts.append(f"{_plural(int(progress['trials']), 'trial')} done")
        if progress.get("best_score") is not None:
            best = METRICS.get(str(progress.get("metric")), str(progress.get("metric") or "score"))
            parts.append(f"best {best} so far {_number(progress['best_score'])}"
                         + (f" ({progress['model']})" if progress.get("model") else ""))
        st.progress(min(elapsed / max(record.budget_seconds, 1.0), 1.0), text=" · ".join(parts))


def jobs_table(frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    shown = frame.assign(tags=frame["tags"].map(lambda t: ", ".join(t) if isinstance(t, list) else ""),
                         phase=frame["phase"].map(lambda p: PHASES.get(str(p), p) if p else ""),
                         metric=frame["metric"].map(lambda m: METRICS.get(str(m), m) if m else ""))
    labels = {"name": "job", "status": "status", "phase": "phase", "dataset": "dataset", "target": "target",
              "task": "task", "budget_seconds": "budget (s)", "trials": "trials", "best_score": "best trial (CV)",
              "metric": "metric", "created_at": "created (UTC)", "finished_at": "finished (UTC)",
              "deployed": "deployed", "tags": "tags"}
    display = shown[list(labels)].rename(columns=labels)
    st.dataframe(display, hide_index=True, placeholder="–", key="automl_jobs_table", column_config={
        "budget (s)": st.column_config.NumberColumn(format="%d"),
        "best trial (CV)": st.column_config.NumberColumn(format="%.4g", help="The best cross-validated score of "
                                                          "one search trial (the chosen model may be an ensemble)."),
        "created (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        "finished (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
    download_table(shown, "automl_jobs.csv", label="Download the job list (CSV)", key="automl_dl_jobs")


def job_picker(registry: JobRegistry) -> service.JobRecord | None:
    """The job to inspect: the one just queued, else the newest."""
    records = {r.job_id: r for r in registry.jobs()}
    if not records:
        return None
    if st.session_state.get(_JOB_KEY) not in records:
        st.session_state.pop(_JOB_KEY, None)  # deleted meanwhile
    # Labels that never change (no status): the browser keeps showing the label it was given.
    job_id = st.selectbox("Job", list(records), key=_JOB_KEY, format_func=lambda j: (
        f"{records[j].name} · {records[j].target} · created {records[j].created_at:%Y-%m-%d %H:%M:%S} UTC"))
    return records[str(job_id)] if job_id else None


def job_header(record: service.JobRecord) -> None:
    spec = record.spec
    mode = (f"reproducible: {spec['max_trials']} trials, seed {record.seed}" if spec.get("max_trials")
            else "as many trials as the budget allows")
    took = ""
    if record.started_at is not None and record.finished_at is not None:
        seconds = (record.finished_at - record.started_at).total_seconds()
        took = f" · ended {seconds:.0f} s after it started (the job process's start-up included)"
    st.caption(f"Target **{record.target}** ({record.task}) · budget {record.budget_seconds:.0f} s, {mode} · "
               f"time column: {spec.get('time_col') or 'none'} · created {record.created_at:%Y-%m-%d %H:%M:%S} "
               f"UTC{took} · id `{record.job_id}`")
    if record.status == FAILED:
        st.error(f"This job failed: {record.error}")
    elif record.status == CANCELLED:
        st.info(f"This job was cancelled ({record.error or 'by the user'}).")
    elif record.status in (QUEUED, RUNNING):
        st.info("This job is still " + record.status + ": its progress is above; its results appear here when "
                "it is done.")


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _model(model_dir: str, job_id: str, finished: str, _registry: JobRegistry) -> service.TrainedModel:
    return _registry.load_model(job_id)


def trained_model(registry: JobRegistry, record: service.JobRecord) -> service.TrainedModel | None:
    """A done job's model (cached per job and finish time), or None after saying why not."""
    if record.status != DONE:
        return None
    return show_errors(lambda: _model(str(registry.model_dir), record.job_id, str(record.finished_at), registry))


# ---------------------------------------------------------------------------------------------- results
def _test_pair(scores: Mapping[str, float], metric: str) -> tuple[float | None, float | None]:
    return scores.get(metric), scores.get(f"default_{metric}")


def headline(model: service.TrainedModel) -> None:
    """The winner, its cross-validated score and its test scores beside the default LightGBM's."""
    board = model.leaderboard
    chosen = board[board["chosen"].astype(bool)].head(1)
    metric = METRICS.get(model.metric, model.metric)
    st.markdown(f"Chosen model: **{model.algorithm}**")
    cards = st.columns(4)
    cv = chosen["cv_score"].iloc[0] if len(chosen) else None
    sd = chosen["cv_sd"].iloc[0] if len(chosen) else None
    cards[0].metric(f"CV {metric}", _number(cv, ".4f"), help=f"Mean over the cross-validation folds of the "
                    f"training rows (± {_number(sd, '.2g')}); lower is better.")
    for card, name in zip(cards[1:3], HEADLINE_TEST[model.spec.task], strict=True):
        value, default = _test_pair(model.test_scores, name)
        difference = None if value is None or default is None else value - default
        card.metric(f"Test {METRICS[name]}", _number(value, ".4f"),
                    delta=None if difference is None else f"{difference:+.4f}",
                    delta_color="off" if not difference else "normal" if name in HIGHER_IS_BETTER else "inverse",
                    delta_arrow="off" if not difference else "auto",
                    help=f"On the held-out test rows. Below: the difference from the {DEFAULT_MODEL} (100 trees, "
                         f"no tuning), which scored {_number(default, '.4f')} on the same rows.")
    cards[3].metric("Trials", f"{model.trials:,}", help="Models the search fitted and cross-validated.")
    st.caption(f"Under each test score: the difference from the {DEFAULT_MODEL} on the same test rows.")


def leaderboard(model: service.TrainedModel) -> None:
    board = model.leaderboard
    # The chosen model's own export decides; for the others, whether their family converts to ONNX.
    exportable = board["exportable"].where(~board["chosen"].astype(bool), model.exportable)
    exportable = exportable.map(lambda v: "yes" if v is True else "no" if v is False else "–")
    shown = board.assign(exportable=exportable, gain_vs_default=board["gain_vs_default"] * 100.0)
    metric = METRICS.get(model.metric, model.metric)
    table(shown, "automl_leaderboard.csv", key="automl_dl_leaderboard", download=board,
          highlight=board["chosen"].astype(bool),
          labels={"model": "model", "cv_score": f"CV {metric}", "cv_sd": "± sd", "fit_seconds": "fit (s)",
                  "predict_ms_per_row": "predict (ms/row)", "exportable": "ONNX export",
                  "gain_vs_default": f"gain over {DEFAULT_MODEL}", "trials": "trials", "validation": "validation"},
          formats={"cv_score": "%.4f", "cv_sd": "%.4f", "fit_seconds": "%.3f", "predict_ms_per_row": "%.3f",
                   "gain_vs_default": "%+.1f%%", "trials": "%d"},
          columns={"model": st.column_config.TextColumn(width="medium", pinned=True)})
    st.caption(f"Shaded: the chosen model. Scores are the mean {metric} over cross-validation folds of the training "
               f"rows (lower is better); the gain is how much lower than the {DEFAULT_MODEL}'s. Fit time is per "
               "fold; prediction time per row in one batch.")


def test_scores(model: service.TrainedModel) -> None:
    rows = []
    for name, value in model.test_scores.items():
        if name.startswith("default_"):
            continue
        default = model.test_scores.get(f"default_{name}")
        higher = name in HIGHER_IS_BETTER
        difference = None if default is None else value - default
        verdict = ("–" if difference is None else "the same" if abs(difference) < 1e-12
                   else "chosen model" if (difference > 0) == higher else DEFAULT_MODEL)
        rows.append({"metric": METRICS.get(name, name), "chosen model": value, DEFAULT_MODEL: default,
                     "difference": difference, "better is": "higher" if higher else "lower",
                     "better on the test rows": verdict})
    table(pd.DataFrame(rows), "automl_test_scores.csv", key="automl_dl_test_scores",
          formats={"chosen model": "%.4f", DEFAULT_MODEL: "%.4f", "difference": "%+.4f"})


def ledger_table(model: service.TrainedModel) -> None:
    frame = pd.DataFrame({"phase": list(model.ledger), "seconds": [float(v or 0.0) for v in model.ledger.values()]})
    table(frame, "automl_ledger.csv", key="automl_dl_ledger", formats={"seconds": "%.2f"})


def training_notes(model: service.TrainedModel) -> None:
    for note in model.notes:
        st.markdown(f"- {note}")
    parity = model.parity or {}
    if parity:
        verdict = "passed" if parity.get("ok") else f"failed: {parity.get('reason') or 'outside the tolerance'}"
        st.caption(f"ONNX parity on {parity.get('rows', '?')} test rows: largest difference "
                   f"{_number(parity.get('max_abs_diff'), '.2g')} (tolerance {_number(parity.get('tolerance'), '.2g')})"
                   f", {verdict}.")


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        return _number(value) if isinstance(value, float) else str(value).replace("|", "\\|")

    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * frame.shape[1]
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def results_report(record: service.JobRecord, model: service.TrainedModel) -> str:
    """The job's results as one Markdown document: request, winner, test scores, leaderboard, ledger, notes."""
    board = model.leaderboard.drop(columns=["params"], errors="ignore")
    scores = pd.DataFrame([{"metric": k, "value": v} for k, v in model.test_scores.items()])
    ledger_rows = pd.DataFrame({"phase": list(model.ledger), "seconds": list(model.ledger.values())})
    notes = "\n".join(f"- {n}" for n in model.notes) or "- none"
    return "\n\n".join([
        f"# AutoML job: {record.name}",
        f"Job `{record.job_id}` · target **{record.target}** ({record.task}) · budget {record.budget_seconds:.0f} s · "
        f"seed {record.seed} · {model.trials} trials · data fingerprint `{model.fingerprint}`",
        f"## Chosen model: {model.algorithm}\n\nSearch metric: {model.metric} (cross-validated, lower is better).",
        "## Test scores (held-out rows; default_ = the default LightGBM)", _markdown_table(scores),
        "## Leaderboard", _markdown_table(board),
        "## Seconds per phase", _markdown_table(ledger_rows),
        "## Notes", notes,
    ]) + "\n"


def result_downloads(record: service.JobRecord, model: service.TrainedModel) -> None:
    left, middle, right = st.columns(3)
    with left:
        download_table(model.test_predictions.reset_index(names="row"), "automl_test_predictions.csv",
                       label="Download the test predictions (CSV)", key="automl_dl_test_predictions")
    with middle:
        download_table(model.importance, "automl_importance.csv", label="Download the importance (CSV)",
                       key="automl_dl_importance")
    right.download_button("Download the results report (Markdown)", data=results_report(record, model),
                          file_name=f"automl_report_{record.job_id}.md", mime="text/markdown",
                          key="automl_dl_report", icon=":material/download:")


# ---------------------------------------------------------------------------------------------- manage
def tags_and_notes(registry: JobRegistry, record: service.JobRecord) -> None:
    left, right = st.columns(2)
    tags = left.text_input("Tags (comma-separated)", ", ".join(record.tags), key=f"automl_tags_{record.job_id}",
                           help=f"At most {MAX_TAG_CHARS} characters each.")
    if left.button("Save tags", key=f"automl_save_tags_{record.job_id}"):
        _act(lambda: registry.set_tags(record.job_id, tags), "Tags saved.")
    notes = right.text_area("Notes", record.notes or "", key=f"automl_notes_{record.job_id}",
                            max_chars=MAX_NOTES_CHARS, height=100)
    if right.button("Save notes", key=f"automl_save_notes_{record.job_id}"):
        _act(lambda: registry.set_notes(record.job_id, notes), "Notes saved.")


def _rerun(registry: JobRegistry, job_id: str) -> None:
    new_id = service.rerun(registry, job_id)
    st.session_state[_GOTO] = new_id


def job_actions(registry: JobRegistry, record: service.JobRecord) -> None:
    """Deploy / undeploy, cancel, rerun and delete, each saying beforehand what it can and cannot do."""
    job_id = record.job_id
    if record.status == DONE and record.deployed:
        st.success("Deployed: this model answers in the **Predict** tab.")
    elif record.status == DONE and not record.exportable:
        st.warning("This model cannot be deployed: its ONNX export did not reproduce the trained model "
                   f"({record.export_reason or 'the parity check failed'}). Rerun with other settings, or pick "
                   "another job.")
    buttons = st.columns(4)
    if record.status == DONE and record.deployed:
        if buttons[0].button("Undeploy", key=f"automl_undeploy_{job_id}", icon=":material/cloud_off:"):
            _act(lambda: registry.undeploy(job_id), f"'{record.name}' is no longer deployed.")
    elif record.status == DONE:
        if buttons[0].button("Deploy", key=f"automl_deploy_{job_id}", type="primary", icon=":material/rocket_launch:",
                             disabled=not record.exportable):
            _act(lambda: registry.deploy(job_id), f"'{record.name}' is deployed: predict with it in the Predict tab.")
    if record.status in (QUEUED, RUNNING):
        if buttons[1].button("Cancel the job", key=f"automl_cancel_{job_id}", icon=":material/stop_circle:"):
            _act(lambda: registry.cancel(job_id), f"'{record.name}' was cancelled.")
    elif buttons[1].button("Rerun", key=f"automl_rerun_{job_id}", icon=":material/replay:",
                           help="Queue the same data and settings again (a new job)."):
        _act(lambda: _rerun(registry, job_id), f"Queued again as a new job: '{record.name} (rerun)'.")
    with buttons[2].popover("Delete…", icon=":material/delete:", disabled=record.status == RUNNING,
                            help="Cancel a running job before deleting it." if record.status == RUNNING else None):
        st.markdown(f"Delete **{record.name}**, its model and its files? This cannot be undone.")
        if st.button("Yes, delete it", key=f"automl_delete_{job_id}", type="primary"):
            _act(lambda: registry.delete(job_id), f"'{record.name}' was deleted.")


def run_card(record: service.JobRecord, model: service.TrainedModel | None) -> None:
    card = service.run_card(record, model)
    with st.expander("Run card: what this job was (data fingerprint, request, versions, seed, time per phase)"):
        st.json(card, expanded=1)
        text = json.dumps(card, indent=2, default=str)
        st.download_button("Download the run card (JSON)", data=text, file_name=f"run_card_{record.job_id}.json",
                           mime="application/json", key="automl_dl_run_card", icon=":material/download:")


# ---------------------------------------------------------------------------------------------- predict
def deployed_picker(records: Sequence[service.JobRecord]) -> service.JobRecord:
    by_id = {r.job_id: r for r in records}
    job_id = st.selectbox("Deployed model", list(by_id), key="automl_predict_job", format_func=lambda j: (
        f"{by_id[j].name} · {by_id[j].target} ({by_id[j].task}) · {by_id[j].created_at:%Y-%m-%d %H:%M} UTC"))
    return by_id[str(job_id or next(iter(by_id)))]


def model_downloads(registry: JobRegistry, record: service.JobRecord) -> None:
    directory = registry.job_dir(record.job_id)
    columns = st.columns(2)
    for column, file, what in ((columns[0], MODEL_FILE, "scikit-learn pipeline, for Python"),
                               (columns[1], ONNX_FILE, "ONNX graph, for ONNX Runtime in any language")):
        path = directory / file
        if path.is_file():
            column.download_button(f"Download {file} ({path.stat().st_size / 1e6:.1f} MB)", data=path.read_bytes,
                                   file_name=f"{record.job_id}_{file}", mime="application/octet-stream",
                                   key=f"automl_dl_{file}", icon=":material/download:", help=what)
        else:
            column.caption(f"No {file} for this job.")


def _field_input(field: Mapping[str, Any], key: str) -> Any:
    name, kind, default = str(field["name"]), field["kind"], field["default"]
    if kind == "numeric":
        low, high = field["min"], field["max"]
        whole = all(isinstance(v, float) and float(v).is_integer() for v in (low, high, default))
        help_text = (f"Training range {_number(low)} – {_number(high)}, median {_number(default)}. Outside the range "
                     "the model extrapolates." if low is not None else "No numbers were seen in training.")
        value = None if default is None else (int(default) if whole else float(default))
        return st.number_input(name, value=value, step=1 if whole else None, key=key, help=help_text,
                               format=None if whole else "%.4f")
    if kind == "categorical":
        options = list(field["options"])
        if not options:
            return st.text_input(name, key=key)
        return st.selectbox(name, options, key=key, help=f"{len(options)} categories seen in training; others are "
                                                          f"treated as '{config.OTHER}'.")
    if kind == "datetime":
        return st.text_input(name, value=str(default or ""), key=key,
                             help=f"A date or time; training covered {field['min']} – {field['max']}.") or None
    return st.text_input(name, value=str(default or ""), key=key, help="Free text.") or None


def single_row_form(model: service.TrainedModel, job_id: str) -> dict[str, Any] | None:
    """The model's input columns as a form (defaults: medians, most frequent categories); the values on submit."""
    fields = service.form_fields(model)
    values: dict[str, Any] = {}
    with st.form("automl_single_row"):
        columns = st.columns(3)
        for i, field in enumerate(fields):
            with columns[i % 3]:
                values[str(field["name"])] = _field_input(field, key=f"automl_field_{job_id}_{i}")
        submitted = st.form_submit_button("Predict", type="primary", icon=":material/online_prediction:")
    return values if submitted else None


def _messages(messages: Sequence[str]) -> None:
    for message in messages:
        text = message[0].upper() + message[1:] if message else message
        (st.warning if message.startswith("warning") else st.info)(text)


def single_prediction(model: service.TrainedModel, values: Mapping[str, Any]) -> pd.Series | None:
    """Show one row's prediction (and warnings); the class probabilities (``proba_<class>``) for a chart."""
    answer = show_errors(lambda: service.predict_one(model, values))
    if answer is None:
        return None
    predictions, messages = answer
    row = predictions.iloc[0]
    value = row["prediction"]
    shown = value if model.schema.task == config.CLASSIFICATION else _number(value, ",.4f")
    st.metric(f"Predicted {model.schema.target}", str(shown))
    _messages(messages)
    probabilities = row[[c for c in predictions.columns if str(c).startswith(figures.PROBA_PREFIX)]]
    return probabilities if len(probabilities) else None


@dataclass(frozen=True)
class BatchResult:
    output: pd.DataFrame  # prediction (and proba_<class>) columns, then the input's own columns
    messages: list[str]
    drift: pd.DataFrame


@st.cache_data(show_spinner="Predicting…", max_entries=4)
def _batch(job_id: str, file_id: str, _model: service.TrainedModel, _raw: pd.DataFrame) -> BatchResult:
    predictions, messages, drift = service.predict_batch(_model, _raw)
    clash = {c: f"input_{c}" for c in _raw.columns if c in predictions.columns}
    return BatchResult(predictions.join(_raw.rename(columns=clash)), messages, drift)


def _batch_summary(predicted: pd.Series, task: str) -> str:
    if task == config.CLASSIFICATION:
        counts = predicted.astype(str).value_counts()
        shown = ", ".join(f"{label} ×{count:,}" for label, count in counts.head(8).items())
        return f"Predicted {_plural(len(predicted), 'row')}: {shown}" + (" …" if len(counts) > 8 else "")
    values = pd.to_numeric(predicted, errors="coerce")
    return (f"Predicted {_plural(len(predicted), 'row')}: mean {_number(values.mean())}, from "
            f"{_number(values.min())} to {_number(values.max())}")


def batch_predictions(model: service.TrainedModel, job_id: str) -> BatchResult | None:
    """An uploaded CSV predicted row by row, with the input checks' messages and the drift report."""
    raw = csv_upload("CSV of rows to predict", key="automl_batch",
                     help="The columns the model reads (others are ignored); the target column is not needed.")
    uploaded = st.session_state.get("automl_batch")
    if raw is None or uploaded is None:
        return None
    result = show_errors(lambda: _batch(job_id, str(uploaded.file_id), model, raw))
    if result is None:
        return None
    _messages(result.messages)
    st.markdown(_batch_summary(result.output["prediction"], model.schema.task))
    probabilities = [c for c in result.output.columns if str(c).startswith(figures.PROBA_PREFIX)]
    st.dataframe(result.output.head(1_000), key="automl_batch_table",
                 column_config=column_formats(result.output, dict.fromkeys(probabilities, "%.4f"), "%.4g"))
    if len(result.output) > 1_000:
        st.caption(f"The first 1,000 of {len(result.output):,} rows; the download has them all.")
    download_table(result.output, "automl_predictions.csv", label="Download the predictions (CSV)",
                   key="automl_dl_predictions")
    return result


def drift_table(drift: pd.DataFrame) -> None:
    def colour(display: pd.DataFrame) -> Any:
        return display.style.map(lambda level: LEVEL_COLOURS.get(str(level), ""), subset=["level"])

    ordered = drift.sort_values("psi", ascending=False, na_position="last", kind="stable")
    table(ordered, "automl_drift.csv", key="automl_dl_drift", styler=colour,
          labels={"column": "column", "kind": "kind", "psi": "PSI", "level": "level", "unseen": "unseen categories",
                  "outside_range": "outside the training range", "missing_now": "missing now",
                  "missing_train": "missing in training"},
          formats={"psi": "%.3f", "unseen": "%d", "outside_range": "%d", "missing_now": PERCENT,
                   "missing_train": PERCENT})
    st.caption(f"PSI below {config.DRIFT_MODERATE_PSI} is stable, from {config.DRIFT_MODERATE_PSI} moderate drift, "
               f"from {config.DRIFT_MAJOR_PSI} major drift: the model meets data unlike what it learned from. Dates "
               "get no PSI (a later batch always differs in time): see how many rows lie outside training.")
