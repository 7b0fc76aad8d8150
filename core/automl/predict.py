"""Predictions of a trained AutoML model: input checks against its pinned schema, single and batch
predictions, the fields of the single-row form and the drift report of a batch against training.

Everything is vectorised over columns (no per-row Python), so 100k rows take about as long as the
model itself needs. Messages are plain sentences starting with ``WARNING`` (the input was changed:
a value became missing or "other") or ``NOTE`` (worth knowing, nothing changed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.automl import config
from core.automl.artifact import TrainedModel
from core.automl.features import model_frame
from core.automl.schema import ColumnSpec, Schema, category_text
from core.errors import InputError

WARNING = "warning: "
NOTE = "note: "
# How many example values a message quotes.
EXAMPLES = 3


def _examples(values: pd.Series) -> str:
    counts = values.astype(str).value_counts()
    shown = [f"'{value}' ×{count}" for value, count in counts.head(EXAMPLES).items()]
    more = f" and {len(counts) - EXAMPLES} more" if len(counts) > EXAMPLES else ""
    return ", ".join(shown) + more


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(float values, mask of present values that are not finite numbers, e.g. "n/a" or "inf")."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        # numpy, not pandas, per step: a single-row prediction is mostly per-call overhead.
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        bad = np.isinf(numbers)
    else:
        text = values.astype("string").str.strip()
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        present = (text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)
        bad = present & ~np.isfinite(numbers)
    parsed = np.where(bad, np.nan, numbers)
    return pd.Series(parsed, index=values.index, name=values.name), pd.Series(bad, index=values.index)


def _check_numeric(values: pd.Series, spec: ColumnSpec, messages: list[str]) -> pd.Series:
    parsed, bad = parse_numbers(values)
    if bad.any():
        messages.append(f"{WARNING}column '{spec.name}': {_rows(int(bad.sum()))} with values that are not numbers "
                        f"({_examples(values[bad])}); they are treated as missing.")
    if isinstance(spec.low, float) and isinstance(spec.high, float):
        outside = (parsed < spec.low) | (parsed > spec.high)
        if outside.any():
            messages.append(f"{NOTE}column '{spec.name}': {_rows(int(outside.sum()))} outside the training range "
                            f"[{spec.low:g}, {spec.high:g}]; predictions there extrapolate.")
    return parsed


def _check_categorical(values: pd.Series, spec: ColumnSpec, messages: list[str]) -> pd.Series:
    text = category_text(values)
    unseen = ~text.isin(spec.categories) & (text != config.MISSING)
    if unseen.any():
        messages.append(f"{WARNING}column '{spec.name}': {_rows(int(unseen.sum()))} with categories the model does "
                        f"not know ({_examples(text[unseen])}); they are treated as '{config.OTHER}'.")
    return values


def _check_datetime(values: pd.Series, spec: ColumnSpec, messages: list[str]) -> pd.Series:
    stamps = pd.to_datetime(values, errors="coerce", utc=True)
    bad = values.notna() & stamps.isna()
    if bad.any():
        messages.append(f"{WARNING}column '{spec.name}': {_rows(int(bad.sum()))} with values that are not dates "
                        f"({_examples(values[bad])}); they are treated as missing.")
        values = values.where(~bad)
    if isinstance(spec.low, str) and isinstance(spec.high, str):
        outside = (stamps < pd.Timestamp(spec.low)) | (stamps > pd.Timestamp(spec.high))
        if outside.any():
            messages.append(f"{NOTE}column '{spec.name}': {_rows(int(outside.sum()))} outside the training period "
                            f"{spec.low} – {spec.high}; predictions there extrapolate.")
    return values


def _without_attrs(raw: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy without ``attrs``: pandas deep-copies them on every operation, which made a
    single-row prediction of a frame from ``core.io.read_csv`` several times slower."""
    light = raw.copy(deep=False)
    light.attrs = {}
    return light


def check_input(raw: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, list[str]]:
    """The schema's columns of ``raw`` (index kept), numbers parsed, with messages for the user.
    Raises ``InputError`` naming the missing column(s) when any is absent."""
    if len(raw) == 0:
        raise InputError("there are no rows to predict")
    raw = _without_attrs(raw)
    missing = [name for name in schema.names if name not in raw.columns]
    if missing:
        listed = ", ".join(f"'{name}'" for name in missing)
        raise InputError(f"the model needs column(s) {listed}, which the input does not have",
                         column=missing[0] if len(missing) == 1 else None)
    messages: list[str] = []
    extra = [str(c) for c in raw.columns if c not in schema.names]
    if extra:
        messages.append(f"{NOTE}column(s) not used by the model are ignored: {', '.join(extra)}.")
    checked: dict[str, pd.Series] = {}
    for spec in schema.columns:
        values = raw[spec.name]
        if spec.kind == "numeric":
            checked[spec.name] = _check_numeric(values, spec, messages)
        elif spec.kind == "categorical":
            checked[spec.name] = _check_categorical(values, spec, messages)
        elif spec.kind == "datetime":
            checked[spec.name] = _check_datetime(values, spec, messages)
        else:
            checked[spec.name] = values
    return pd.DataFrame(checked, index=raw.index), messages


def predict_frame(model: TrainedModel, raw: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Predictions for raw rows, in their order and with their index: ``prediction`` (the class label
    or the value) and, for classification, one ``proba_<class>`` column per class; plus the messages
    of ``check_input``."""
    checked, messages = check_input(raw, model.schema)
    frame = model_frame(checked, model.schema)
    if model.schema.task != config.CLASSIFICATION:
        values = np.asarray(model.pipeline.predict(frame), dtype=float).reshape(-1)
        return pd.DataFrame({"prediction": values}, index=raw.index), messages
    proba = np.asarray(model.pipeline.predict_proba(frame), dtype=float)
    labels = np.asarray(model.schema.classes, dtype=object)[proba.argmax(axis=1)]
    out = pd.DataFrame({"prediction": labels}, index=raw.index)
    for i, label in enumerate(model.schema.classes):
        out[f"proba_{label}"] = proba[:, i]
    return out, messages


def single_row_fields(schema: Schema) -> list[dict[str, Any]]:
    """One dict per input column for the single-row form: name, kind, options (categories, most
    frequent first), min, max and default (numeric median, most frequent category, latest date)."""
    fields = []
    for spec in schema.columns:
        field: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "options": [], "min": None, "max": None,
                                 "default": None}
        if spec.kind == "numeric":
            field.update(min=spec.low, max=spec.high, default=spec.median)
        elif spec.kind == "categorical":
            field.update(options=list(spec.categories), default=spec.categories[0] if spec.categories else None)
        elif spec.kind == "datetime":
            field.update(min=spec.low, max=spec.high, default=spec.high)
        else:
            field.update(default="")
        fields.append(field)
    return fields


# --- drift ------------------------------------------------------------------------------------------


def population_stability(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins, each share floored at ``config.DRIFT_EPSILON``."""
    e = np.maximum(expected, config.DRIFT_EPSILON)
    a = np.maximum(actual, config.DRIFT_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_level(psi: float) -> str:
    if not np.isfinite(psi):
        return config.DRIFT_NOT_MEASURED
    if psi < config.DRIFT_MODERATE_PSI:
        return config.DRIFT_STABLE
    if psi < config.DRIFT_MAJOR_PSI:
        return config.DRIFT_MODERATE
    return config.DRIFT_MAJOR


def _shares(bins: np.ndarray, count: int) -> np.ndarray:
    return np.bincount(bins, minlength=count) / max(len(bins), 1)


def _numeric_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index per value: the quantile bins 0..len(edges), then one bin for missing values."""
    bins = np.searchsorted(edges, values, side="right")
    return np.where(np.isnan(values), len(edges) + 1, bins)


def _numeric_psi(reference: pd.Series, current: pd.Series) -> float:
    ref = parse_numbers(reference)[0].to_numpy(dtype=float)
    cur = parse_numbers(current)[0].to_numpy(dtype=float)
    present = ref[~np.isnan(ref)]
    if present.size == 0:
        return float("nan")
    quantiles = np.linspace(0, 1, config.DRIFT_BINS + 1)[1:-1]
    edges = np.unique(np.quantile(present, quantiles))
    count = len(edges) + 2
    return population_stability(_shares(_numeric_bins(ref, edges), count), _shares(_numeric_bins(cur, edges), count))


def _levels(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Categories as the model sees them: the kept ones, OTHER, MISSING."""
    text = category_text(values)
    return text.where(text.isin(spec.categories) | (text == config.MISSING), config.OTHER)


def _categorical_psi(reference: pd.Series, current: pd.Series, spec: ColumnSpec) -> float:
    levels = [*spec.categories, config.OTHER, config.MISSING]
    expected = _levels(reference, spec).value_counts(normalize=True).reindex(levels, fill_value=0.0)
    actual = _levels(current, spec).value_counts(normalize=True).reindex(levels, fill_value=0.0)
    return population_stability(expected.to_numpy(dtype=float), actual.to_numpy(dtype=float))


def _drift_row(spec: ColumnSpec, reference: pd.Series, current: pd.Series) -> dict[str, Any]:
    row: dict[str, Any] = {"column": spec.name, "kind": spec.kind, "psi": float("nan"), "unseen": float("nan"),
                           "outside_range": float("nan"), "missing_now": float(current.isna().mean()),
                           "missing_train": spec.missing_share}
    if spec.kind == "numeric":
        row["psi"] = _numeric_psi(reference, current)
        parsed = parse_numbers(current)[0]
        row["missing_now"] = float(parsed.isna().mean())
        if isinstance(spec.low, float) and isinstance(spec.high, float):
            row["outside_range"] = int(((parsed < spec.low) | (parsed > spec.high)).sum())
    elif spec.kind == "categorical":
        row["psi"] = _categorical_psi(reference, current, spec)
        text = category_text(current)
        row["unseen"] = int((~text.isin(spec.categories) & (text != config.MISSING)).sum())
        row["missing_now"] = float((text == config.MISSING).mean())
    elif spec.kind == "datetime" and isinstance(spec.low, str) and isinstance(spec.high, str):
        # No PSI: a later batch always differs in time; how much of it lies outside training is what matters.
        stamps = pd.to_datetime(current, errors="coerce", utc=True)
        row["outside_range"] = int(((stamps < pd.Timestamp(spec.low)) | (stamps > pd.Timestamp(spec.high))).sum())
        row["missing_now"] = float(stamps.isna().mean())
    row["level"] = drift_level(row["psi"])
    return row


def drift_report(schema: Schema, raw: pd.DataFrame) -> pd.DataFrame:
    """Per input column: PSI of ``raw`` against the schema's training reference, its level, unseen
    categories, values outside the training range, and the missing share now vs in training."""
    if len(raw) == 0:
        raise InputError("there are no rows to compare with training")
    missing = [name for name in schema.names if name not in raw.columns]
    if missing:
        raise InputError(f"the model needs column(s) {', '.join(missing)}, which the input does not have")
    rows = []
    for spec in schema.columns:
        reference = schema.reference[spec.name] if spec.name in schema.reference.columns else pd.Series(dtype=float)
        rows.append(_drift_row(spec, reference, raw[spec.name]))
    columns = ["column", "kind", "psi", "level", "unseen", "outside_range", "missing_now", "missing_train"]
    return pd.DataFrame(rows, columns=columns)
