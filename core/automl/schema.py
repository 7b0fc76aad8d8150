"""The pinned input schema of a trained model: which raw columns it reads, of what kind, and what
training saw in them (ranges, categories, a reference sample for drift). Predictions are checked
against it; the single-row form is built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.automl import config

Kind = Literal["numeric", "categorical", "datetime", "text"]
# Rows of the training inputs kept in the schema as the drift reference.
REFERENCE_ROWS = 5_000


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    # numeric: training min, max and median; datetime: min and max as ISO strings
    low: float | str | None = None
    high: float | str | None = None
    median: float | None = None
    # categorical: the kept categories, most frequent first (others map to config.OTHER)
    categories: tuple[str, ...] = ()
    missing_share: float = 0.0


@dataclass(frozen=True)
class Schema:
    target: str
    task: str  # config.CLASSIFICATION | config.REGRESSION
    columns: tuple[ColumnSpec, ...]
    roles: dict[str, str]  # every raw column (target included) -> role, as trained
    classes: tuple[str, ...] = ()  # classification: the class labels, sorted
    reference: pd.DataFrame = field(default_factory=pd.DataFrame)  # a sample of the training inputs

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def of_kind(self, kind: Kind) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.kind == kind)


def is_numeric(values: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(values)) and not pd.api.types.is_bool_dtype(values)


def category_text(values: pd.Series) -> pd.Series:
    """Categories as strings, missing as ``config.MISSING`` (booleans and numbers too, so ``1`` and
    ``"1"`` are one category at training and at predict time)."""
    text = values.astype("string").str.strip()
    return text.fillna(config.MISSING).replace("", config.MISSING).astype(object)


def _kind(values: pd.Series, role: str) -> Kind:
    if role == config.DATETIME:
        return "datetime"
    if role == config.TEXT:
        return "text"
    return "numeric" if is_numeric(values) else "categorical"


def _spec(name: str, values: pd.Series, kind: Kind) -> ColumnSpec:
    missing = float(values.isna().mean()) if len(values) else 0.0
    if kind == "numeric":
        finite = pd.to_numeric(values, errors="coerce").astype(float)
        finite = finite[np.isfinite(finite)]
        if finite.empty:
            return ColumnSpec(name, kind, missing_share=missing)
        return ColumnSpec(name, kind, float(finite.min()), float(finite.max()), float(finite.median()),
                          missing_share=missing)
    if kind == "categorical":
        counts = category_text(values).value_counts()
        kept = tuple(str(c) for c in counts.index[: config.MAX_CATEGORIES] if c != config.MISSING)
        return ColumnSpec(name, kind, categories=kept, missing_share=missing)
    if kind == "datetime":
        stamps = pd.to_datetime(values, errors="coerce", utc=True).dropna()
        if stamps.empty:
            return ColumnSpec(name, kind, missing_share=missing)
        return ColumnSpec(name, kind, stamps.min().isoformat(), stamps.max().isoformat(), missing_share=missing)
    return ColumnSpec(name, kind, missing_share=missing)


def build_schema(train: pd.DataFrame, roles: dict[str, str], target: str, task: str, *,
                 seed: int = config.DEFAULT_SEED) -> Schema:
    """The schema of a model trained on ``train`` (the training split only) with these roles."""
    used = [c for c in train.columns if roles.get(c) in config.MODEL_ROLES and c != target]
    columns = tuple(_spec(c, train[c], _kind(train[c], roles[c])) for c in used)
    classes: tuple[str, ...] = ()
    if task == config.CLASSIFICATION:
        classes = tuple(sorted(category_text(train[target]).unique()))
    sample = train[used].sample(min(len(train), REFERENCE_ROWS), random_state=seed) if used else train[[]]
    return Schema(target=target, task=task, columns=columns, roles=dict(roles), classes=classes,
                  reference=sample.reset_index(drop=True))


def describe(schema: Schema) -> list[dict[str, Any]]:
    """One row per input column, for the page and the run card."""
    rows = []
    for c in schema.columns:
        rows.append({"column": c.name, "kind": c.kind, "low": c.low, "high": c.high,
                     "categories": len(c.categories) if c.kind == "categorical" else None,
                     "missing_share": c.missing_share})
    return rows
