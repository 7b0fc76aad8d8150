"""Widgets of the AutoML page's "Build a model" tab: the data source, the target, the EDA report, the leakage
sentinel, the column roles, the training settings and the Train button.

Reading, profiling, the EDA report and the leakage scan are cached per data key (the sample's file or the
upload's content hash) and target in bounded ``st.cache_data`` stores. ``Train`` only queues a job: the
background worker runs it (``automl_common.job_registry``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from core.automl import config, service
from core.automl.eda import MEASURE_HELP
from core.automl.jobs import QUEUED, RUNNING, JobRegistry
from core.errors import HeadroomError
from core.ui.automl_common import (
    CONTEXT_SCOPE_KEY,
    DATA_SCOPE_KEY,
    GOTO_KEY,
    ROLE_BASE_KEY,
    ROLE_VERSION_KEY,
    enter_scope,
    flash,
    plural,
    scope_of,
    scoped,
    table,
)
from core.ui.downloads import download_table
from core.ui.errors import show_errors
from core.ui.format import PERCENT
from core.ui.resources import app_settings

SOURCES = ("Sample data set", "Upload a CSV")
EDA_TABS = ("Warnings", "Columns", "Distributions", "Target", "Associations")
DEFAULT_TRIALS = 20


def task_reason(reason: str, task: str | None) -> str:
    """The detection's reason without its trailing ": <task>" (the sentence around it names the task)."""
    suffix = f": {task}"
    return reason[: -len(suffix)] if task and reason.endswith(suffix) else reason


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:60] or "data"


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
    enter_scope(DATA_SCOPE_KEY, scope_of(dataset.key))
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
    enter_scope(CONTEXT_SCOPE_KEY, scope_of(f"{data.key}|{target}"))
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
    return scoped(f"automl_roles_{int(st.session_state.get(scoped(ROLE_VERSION_KEY), 0))}")


def current_roles(found: service.Profile) -> dict[str, str]:
    """The roles as the column table shows them now: detected, then the last reset (a drop), then the
    edits in the table (read from its state, so widgets drawn above the table see them too)."""
    roles = {**found.role_of, **dict(st.session_state.get(scoped(ROLE_BASE_KEY)) or {})}
    names = [str(c) for c in found.roles["column"] if c != found.target]
    edits = st.session_state.get(_editor_key())
    for row, change in (edits.get("edited_rows", {}) if isinstance(edits, Mapping) else {}).items():
        if "role" in change and change["role"] and 0 <= int(row) < len(names):
            roles[names[int(row)]] = str(change["role"])
    roles[found.target] = config.TARGET
    return roles


def _drop_columns(found: service.Profile, columns: Sequence[str]) -> None:
    """Button callback: the current roles with ``columns`` set to drop become the table's new start."""
    st.session_state[scoped(ROLE_BASE_KEY)] = {**current_roles(found), **{c: config.DROP for c in columns}}
    st.session_state.pop(_editor_key(), None)
    st.session_state[scoped(ROLE_VERSION_KEY)] = int(st.session_state.get(scoped(ROLE_VERSION_KEY), 0)) + 1
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
    base = {**detected, **dict(st.session_state.get(scoped(ROLE_BASE_KEY)) or {})}  # edits are the editor's own state
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
    st.caption(f"Target **{found.target}** (fixed). The model reads {plural(used, 'column')} "
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
    single_model: bool = False


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
                                   key=scoped(f"automl_time_{scope_of('|'.join(times))}"),
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
    single = st.checkbox("One model only", key=scoped("automl_single_model"),
                         help="No ensembles or blends: the winner is one model, smaller, faster to predict and "
                              "easier to read. It is also more often flattered by its CV score: on new rows it "
                              "lost to the default LightGBM on 3 of the 8 bench sets (wine's log loss by 21 %), "
                              "where the default choice, which averages with it, lost on none.")
    name = st.text_input("Job name (optional)", key=scoped("automl_job_name"), max_chars=120,
                         placeholder=f"{found.target} · {data.name}")
    return TrainChoices(task, time_column or None, budget, seed, trials, name.strip(), single)


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
                                 seed=choices.seed, time_column=choices.time_column, max_trials=choices.max_trials,
                                 single_model=choices.single_model)
        job_id = service.submit(registry, data.frame, data.name, spec, choices.name or None)
    except HeadroomError as exc:
        st.error(exc.message)
        return
    flash("success", f"Job queued with a {choices.budget_seconds:,} s budget. It trains in the background: keep "
                     "using the page, refresh it or come back later.")
    st.session_state[GOTO_KEY] = job_id
    st.rerun()
