"""Widgets of the AutoML page's "Predict" tab: the deployed model to use, its files, one row from a form, and a
CSV of rows with its drift report against the training data.

A CSV's predictions are cached per job and upload in a bounded ``st.cache_data``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.automl import config, service
from core.automl.artifact import MODEL_FILE, ONNX_FILE
from core.automl.jobs import JobRegistry
from core.ml.registry import readable_size
from core.ui import automl_figures as figures
from core.ui.automl_common import plural, short_number, table
from core.ui.downloads import download_table
from core.ui.errors import show_errors
from core.ui.format import PERCENT, column_formats
from core.ui.upload import csv_upload

LEVEL_COLOURS = {config.DRIFT_STABLE: "", config.DRIFT_MODERATE: "background-color: rgba(242, 169, 59, 0.3)",
                 config.DRIFT_MAJOR: "background-color: rgba(228, 87, 86, 0.3)"}


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
            column.download_button(f"Download {file} ({readable_size(path.stat().st_size)})", data=path.read_bytes,
                                   file_name=f"{record.job_id}_{file}", mime="application/octet-stream",
                                   key=f"automl_dl_{file}", icon=":material/download:", help=what)
        else:
            column.caption(f"No {file} for this job.")


def _field_input(field: Mapping[str, Any], key: str) -> Any:
    name, kind, default = str(field["name"]), field["kind"], field["default"]
    if kind == "numeric":
        low, high = field["min"], field["max"]
        whole = all(isinstance(v, float) and float(v).is_integer() for v in (low, high, default))
        help_text = (f"Training range {short_number(low)} – {short_number(high)}, median {short_number(default)}. Outside the range "
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
    shown = value if model.schema.task == config.CLASSIFICATION else short_number(value, ",.4f")
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
        return f"Predicted {plural(len(predicted), 'row')}: {shown}" + (" …" if len(counts) > 8 else "")
    values = pd.to_numeric(predicted, errors="coerce")
    return (f"Predicted {plural(len(predicted), 'row')}: mean {short_number(values.mean())}, from "
            f"{short_number(values.min())} to {short_number(values.max())}")


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
