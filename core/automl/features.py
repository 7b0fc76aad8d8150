"""From a raw frame to what a model reads, in two steps.

``model_frame`` is stateless given the pinned ``Schema``: it selects the model's columns, coerces
numbers, maps categories to the kept ones (rare and unseen ones to ``OTHER``, missing to ``MISSING``,
so no string NaN reaches an encoder or ONNX), expands datetimes into parts and hashes free text into
token counts. It runs the same at training, prediction and export time.

``make_preprocessor`` is the fitted part (imputers, scalers), placed first in every model's sklearn
pipeline so cross-validation fits it on the training folds only. Linear models get one-hot
categoricals (an ordinal code would impose a false order); trees get ordinal codes from the fixed
category list, never native categorical splits (those do not export to ONNX).
"""

from __future__ import annotations

import re
import zlib
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from core.automl import config
from core.automl.schema import Schema, category_text

Family = Literal["linear", "tree"]
_TOKEN = re.compile(r"[a-z0-9]+")


def datetime_columns(name: str) -> list[str]:
    return [f"{name}__{part}" for part in config.DATETIME_PARTS] + [f"{name}__days"]


def text_columns(name: str) -> list[str]:
    return [f"{name}__h{i}" for i in range(config.TEXT_HASH_BUCKETS)]


def numeric_columns(schema: Schema) -> list[str]:
    """The model frame's numeric columns, in order."""
    out: list[str] = []
    for spec in schema.columns:
        if spec.kind == "numeric":
            out.append(spec.name)
        elif spec.kind == "datetime":
            out.extend(datetime_columns(spec.name))
        elif spec.kind == "text":
            out.extend(text_columns(spec.name))
    return out


def categorical_columns(schema: Schema) -> list[str]:
    return [spec.name for spec in schema.of_kind("categorical")]


def category_levels(schema: Schema) -> list[list[str]]:
    """Per categorical column, the fixed levels an encoder knows: the kept ones, then OTHER and MISSING."""
    return [[*spec.categories, config.OTHER, config.MISSING] for spec in schema.of_kind("categorical")]


def _datetime_parts(values: pd.Series, origin: str | float | None) -> dict[str, np.ndarray]:
    stamps = pd.to_datetime(values, errors="coerce", utc=True)
    # Calendar parts in the data's own wall-clock time: drop the zone after reading it as UTC.
    local = pd.to_datetime(values, errors="coerce")
    if isinstance(local.dtype, pd.DatetimeTZDtype) or local.isna().all():
        local = stamps.dt.tz_localize(None)
    parts = {part: getattr(local.dt, part).astype(float).to_numpy() for part in config.DATETIME_PARTS}
    # Days since the training data's first time, not since 1970: ONNX reads float32, which resolves a day
    # count near 20,000 only to ~3 minutes and moves a linear model's output past the parity tolerance.
    start = pd.Timestamp(origin) if isinstance(origin, str) else pd.Timestamp("1970-01-01", tz="UTC")
    start = start.tz_localize("UTC") if start.tzinfo is None else start
    parts["days"] = ((stamps - start) / pd.Timedelta(days=1)).astype(float).to_numpy()
    return parts


def _hashed_tokens(values: pd.Series) -> np.ndarray:
    counts = np.zeros((len(values), config.TEXT_HASH_BUCKETS))
    for i, text in enumerate(values.astype("string").fillna("").str.lower()):
        for token in _TOKEN.findall(str(text)):
            counts[i, zlib.crc32(token.encode()) % config.TEXT_HASH_BUCKETS] += 1.0
    return counts


def model_frame(raw: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The columns a model's pipeline reads, from a raw frame holding (at least) the schema's columns.
    Numeric columns are float64, categorical ones Python strings from the fixed levels."""
    out: dict[str, object] = {}
    for spec in schema.columns:
        values = raw[spec.name]
        if spec.kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
            out[spec.name] = np.where(np.isfinite(numbers), numbers, np.nan)  # ±inf would crash the imputer
        elif spec.kind == "categorical":
            text = category_text(values)
            known = text.isin(spec.categories) | (text == config.MISSING)
            out[spec.name] = text.where(known, config.OTHER).to_numpy(dtype=object)
        elif spec.kind == "datetime":
            for column, part in zip(datetime_columns(spec.name), _datetime_parts(values, spec.low).values(), strict=True):
                out[column] = part
        else:
            for column, bucket in zip(text_columns(spec.name), _hashed_tokens(values).T, strict=True):
                out[column] = bucket
    frame = pd.DataFrame(out, index=raw.index)
    return frame[numeric_columns(schema) + categorical_columns(schema)]


def missing_indicator_columns(schema: Schema) -> list[str]:
    """Model-frame columns that get a missing-value indicator in tree models: numeric columns that had
    missing values in training, and one part per such datetime column (all its parts are missing together)."""
    out: list[str] = []
    for spec in schema.columns:
        if spec.missing_share > 0 and spec.kind == "numeric":
            out.append(spec.name)
        elif spec.missing_share > 0 and spec.kind == "datetime":
            out.append(datetime_columns(spec.name)[-1])
    return out


def make_preprocessor(schema: Schema, family: Family) -> ColumnTransformer:
    """The in-fold preprocessing for one model family, over ``model_frame``'s columns."""
    numeric, categorical = numeric_columns(schema), categorical_columns(schema)
    parts: list[tuple[str, object, list[str]]] = []
    if numeric:
        if family == "linear":
            steps = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        else:
            steps = Pipeline([("impute", SimpleImputer(strategy="median"))])
        parts.append(("numeric", steps, numeric))
        flagged = missing_indicator_columns(schema)
        if family == "tree" and flagged:
            # A missing-value indicator keeps the information trees would have read from NaN. It is a step of
            # its own (not SimpleImputer(add_indicator=True), whose ONNX converter drops the indicator) over
            # the columns the schema saw missing, so every fold and the ONNX graph have the same columns.
            parts.append(("missing", MissingIndicator(features="all", error_on_new=False), flagged))
    if categorical:
        levels = category_levels(schema)
        encoder: object
        if family == "linear":
            encoder = OneHotEncoder(categories=levels, handle_unknown="ignore", sparse_output=False)
        else:
            encoder = OrdinalEncoder(categories=levels, dtype=np.float64)
        parts.append(("categorical", encoder, categorical))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False)
