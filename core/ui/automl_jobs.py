"""Widgets of the AutoML page's "Jobs and results" tab: live progress and the job table, the job picker, a
done job's results (headline, leaderboard, test scores, time per phase, notes, report and downloads), tags and
notes, deploy / cancel / rerun / delete, and the run card.

Progress is re-read from the database, so a refresh or a second tab finds the job where it is; trained models
are kept in a bounded ``st.cache_resource`` (the Predict tab loads its model here too).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.automl import config, service
from core.automl.jobs import CANCELLED, DONE, FAILED, MAX_NOTES_CHARS, MAX_TAG_CHARS, QUEUED, RUNNING, JobRegistry
from core.errors import HeadroomError
from core.ui.automl_common import ACTIVE_KEY, GOTO_KEY, JOB_KEY, flash, plural, short_number, table, worker_status
from core.ui.downloads import download_table
from core.ui.errors import show_errors

LIVE_SECONDS = 2.0  # the Jobs tab re-reads progress this often while a job is queued or running
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


# ---------------------------------------------------------------------------------------------- jobs
def _active(records: Sequence[service.JobRecord]) -> tuple[tuple[str, str], ...]:
    return tuple((r.job_id, r.status) for r in records if r.status in (QUEUED, RUNNING))


def live_jobs(registry: JobRegistry) -> None:
    """Progress of queued and running jobs and the job table, re-read from the database every
    ``LIVE_SECONDS`` while a job is active (a fragment: the rest of the page keeps what you typed)."""
    active = _active(registry.jobs())
    st.session_state[ACTIVE_KEY] = active
    st.fragment(_live_panel, run_every=LIVE_SECONDS if active else None)(registry)


def _live_panel(registry: JobRegistry) -> None:
    records = registry.jobs()
    if _active(records) != st.session_state.get(ACTIVE_KEY):
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
            st.caption("Waiting for the background worker" + (f" ({plural(ahead, 'job')} ahead)." if ahead else "."))
            return
        elapsed = float(progress.get("elapsed") or 0.0)
        remaining = float(progress.get("remaining", max(record.budget_seconds - elapsed, 0.0)) or 0.0)
        parts = [f"{elapsed:.0f} s of a {record.budget_seconds:.0f} s budget, {remaining:.0f} s left"]
        if progress.get("trials") is not None:
            parts.append(f"{plural(int(progress['trials']), 'trial')} done")
        if progress.get("best_score") is not None:
            best = METRICS.get(str(progress.get("metric")), str(progress.get("metric") or "score"))
            parts.append(f"best {best} so far {short_number(progress['best_score'])}"
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
    if st.session_state.get(JOB_KEY) not in records:
        st.session_state.pop(JOB_KEY, None)  # deleted meanwhile
    # Labels that never change (no status): the browser keeps showing the label it was given.
    job_id = st.selectbox("Job", list(records), key=JOB_KEY, format_func=lambda j: (
        f"{records[j].name} · {records[j].target} · created {records[j].created_at:%Y-%m-%d %H:%M:%S} UTC"))
    return records[str(job_id)] if job_id else None


def job_header(record: service.JobRecord) -> None:
    spec = record.spec
    mode = (f"reproducible: {spec['max_trials']} trials, seed {record.seed}" if spec.get("max_trials")
            else "as many trials as the budget allows") + (" · one model only" if spec.get("single_model") else "")
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
    cards[0].metric(f"CV {metric}", short_number(cv, ".4f"), help=f"Mean over the cross-validation folds of the "
                    f"training rows (± {short_number(sd, '.2g')}); lower is better.")
    for card, name in zip(cards[1:3], HEADLINE_TEST[model.spec.task], strict=True):
        value, default = _test_pair(model.test_scores, name)
        difference = None if value is None or default is None else value - default
        card.metric(f"Test {METRICS[name]}", short_number(value, ".4f"),
                    delta=None if difference is None else f"{difference:+.4f}",
                    delta_color="off" if not difference else "normal" if name in HIGHER_IS_BETTER else "inverse",
                    delta_arrow="off" if not difference else "auto",
                    help=f"On the held-out test rows. Below: the difference from the {DEFAULT_MODEL} (100 trees, "
                         f"no tuning), which scored {short_number(default, '.4f')} on the same rows.")
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
    rival = ("Asked for one model: a single model" if model.spec.single_model else
             f"Only a blend (a model averaged half and half with the {DEFAULT_MODEL})")
    st.caption(f"Shaded: the chosen model. Scores are the mean {metric} over cross-validation folds of the training "
               f"rows (lower is better); the gain is how much lower than the {DEFAULT_MODEL}'s. {rival} can replace "
               f"the {DEFAULT_MODEL}, and only when it beats it by more than one standard error of their per-fold "
               "differences: a model picked from many trials on the same rows looks better on them than it is. "
               "Fit time is per fold; prediction time per row in one batch.")


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
                   f"{short_number(parity.get('max_abs_diff'), '.2g')} (tolerance {short_number(parity.get('tolerance'), '.2g')})"
                   f", {verdict}.")


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        return short_number(value) if isinstance(value, float) else str(value).replace("|", "\\|")

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
def _act(call: Callable[[], object], message: str) -> None:
    """Run a registry action; on success rerun the page with ``message``, else show the error."""
    try:
        call()
    except HeadroomError as exc:
        st.error(exc.message)
        return
    flash("success", message)
    st.rerun()


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
    st.session_state[GOTO_KEY] = new_id


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
