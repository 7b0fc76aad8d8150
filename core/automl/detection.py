"""Problem type, column roles, the time budget and target checks, each with the reason a user reads.

The rules are the reference system's (its "Problem Type Detection" and "Auto-calculated Time Budget"
tables) with its two flaws fixed: an ID is recognised from a whole name token (``customer_id``,
``PassengerId``), never from a substring (``user_valid``, ``idle_time``, ``paid``), and roles never
encode categories as ordered numbers (that is the features module's job, per model family).

Missing cells include the CSV reader's missing tokens kept as text ("", "NA", "?", ...): Titanic's
empty ``Cabin`` cells are missing here, not a category.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.automl import config
from core.errors import InputError
from core.io.csv_reader import MISSING_TOKENS

# A date somewhere in the text: 2019-03-23, 23/03/2019, 3.23.19, 23 Mar 2019, March 23, 2019.
_DATE_TEXT = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}[ -][A-Za-z]{3,9}[ -,]+\d{2,4}"
    r"|[A-Za-z]{3,9}[ -]\d{1,2},?[ -]\d{2,4}"
)
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_NAME_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_WORD = re.compile(r"[a-z0-9]+")
# Strings sampled for the free-text statistics (words per value, vocabulary).
_TEXT_SAMPLE = 5_000

ROLE_COLUMNS = ["column", "role", "reason", "kind", "unique_ratio", "missing_share"]


def present_values(values: pd.Series) -> pd.Series:
    """The column with text missing tokens ("", "NA", "?", ...) turned into real missing values, so
    every count of values, classes and categories agrees on what is missing."""
    if value_kind(values) != "string":
        return values
    text = values.astype("string").str.strip()
    missing = text.isna() | text.str.lower().isin(MISSING_TOKENS)
    return text.where(~missing).astype(object).where(~missing, np.nan)


def value_kind(values: pd.Series) -> str:
    """What the cells hold: ``boolean``, ``integer`` (whole numbers, even stored as floats),
    ``decimal``, ``datetime`` (a datetime dtype) or ``string``."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    if pd.api.types.is_numeric_dtype(values):
        return "integer" if _whole_numbers(values) else "decimal"
    present = values.dropna()
    if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present):
        return "boolean"
    return "string"


def _whole_numbers(values: pd.Series) -> bool:
    numbers = values.dropna().to_numpy(dtype=float)
    if numbers.size == 0:
        return False
    return bool(np.isfinite(numbers).all() and (numbers == np.floor(numbers)).all())


# --- problem type ---------------------------------------------------------------------------------------


def detect_task(y: pd.Series) -> tuple[str, str]:
    """Classification or regression for a target, and why: text and booleans are classes; whole
    numbers with few distinct values are classes; decimals (35.5, 40.2) stay regression however few."""
    values = present_values(y).dropna()
    if values.empty:
        raise InputError("has no values: nothing to predict", column=str(y.name) if y.name is not None else None)
    kind = value_kind(values)
    unique = int(values.nunique())
    if kind == "datetime":
        raise InputError("holds dates and times: pick a numeric or categorical column to predict",
                         column=str(y.name))
    if kind in ("string", "boolean"):
        label = "text" if kind == "string" else "boolean"
        return config.CLASSIFICATION, f"{label} values with {unique} classes: classification"
    ratio = unique / len(values)
    few = unique < config.CLASS_MAX_UNIQUE and ratio < config.CLASS_MAX_UNIQUE_RATIO
    if kind == "integer" and unique <= config.CLASS_MAX_INTEGER_UNIQUE:
        return (config.CLASSIFICATION,
                f"integer values with {unique} unique values (≤ {config.CLASS_MAX_INTEGER_UNIQUE}): classification")
    if kind == "integer" and few:
        return (config.CLASSIFICATION,
                f"integer values with {unique} unique values (< {config.CLASS_MAX_UNIQUE}) in {len(values):,} rows "
                f"({ratio:.1%} < {config.CLASS_MAX_UNIQUE_RATIO:.0%}): classification")
    if kind == "decimal" and few:
        return (config.REGRESSION,
                f"decimal values with only {unique} unique values: continuous measurements, regression")
    label = "integer" if kind == "integer" else "decimal"
    return (config.REGRESSION,
            f"{label} values with {unique:,} unique values ({ratio:.0%} of rows): regression")


# --- roles ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    kind: str
    rows: int
    present: int
    unique: int
    unique_ratio: float  # distinct values / present values
    missing_share: float


def _profile(values: pd.Series) -> _Profile:
    present = values.dropna()
    unique = int(present.nunique())
    rows = len(values)
    return _Profile(
        kind=value_kind(values),
        rows=rows,
        present=len(present),
        unique=unique,
        unique_ratio=unique / len(present) if len(present) else 0.0,
        missing_share=1.0 - len(present) / rows if rows else 0.0,
    )


def name_tokens(name: str) -> list[str]:
    """A column name's words, lower case: ``PassengerId`` -> passenger, id; ``user_valid`` -> user, valid."""
    return [t.lower() for t in _NAME_TOKEN.findall(str(name))]


def _constant(p: _Profile, values: pd.Series) -> str | None:
    if p.present == 0:
        return "all values missing"
    if p.unique == 1:
        only = values.dropna().iloc[0]
        extra = f", {p.missing_share:.0%} missing" if p.missing_share else ""
        return f"one distinct value ('{only}') in every row{extra}"
    return None


def _datetime(p: _Profile, values: pd.Series) -> str | None:
    if p.kind == "datetime":
        return "date/time values"
    if p.kind != "string":
        return None
    sample = values.dropna().astype(str).head(config.DATETIME_SAMPLE)
    looks = sample.str.contains(_DATE_TEXT) & ~sample.str.fullmatch(_PLAIN_NUMBER)
    if looks.mean() < config.DATETIME_MIN_SHARE:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The parse the model frame uses (features._datetime_parts), so a column read as dates here
        # is one the model can expand.
        parsed = pd.to_datetime(sample.reset_index(drop=True), errors="coerce", utc=True)
    share = float((parsed.notna().to_numpy() & looks.to_numpy()).mean())
    if share < config.DATETIME_MIN_SHARE:
        return None
    return f"{share:.0%} of values parse as dates (e.g. '{sample.iloc[0]}')"


def _id_by_name(name: str, p: _Profile) -> tuple[str | None, str | None]:
    """(ID reason, feature note): a name token such as ``id`` with many distinct values is an ID; with
    few it stays a feature, with a note saying so."""
    if p.kind not in ("integer", "string"):
        return None, None
    hits = [t for t in name_tokens(name) if t in config.ID_NAME_TOKENS]
    if not hits:
        return None, None
    if p.unique_ratio >= config.ID_MIN_UNIQUE_RATIO:
        return f"unique ratio {p.unique_ratio:.2f} and name matches {name} (token '{hits[0]}')", None
    if p.unique > config.MAX_CATEGORIES:
        return (f"name matches {name} (token '{hits[0]}') and {p.unique:,} distinct codes "
                f"(> {config.MAX_CATEGORIES}): an identifier, not a quantity"), None
    return None, f"name reads as an identifier ({name}) but only {p.unique} distinct values: kept"


def _id_by_values(name: str, p: _Profile, values: pd.Series) -> str | None:
    """An ID whatever its name: a row number (consecutive integers once each) or a string different
    in every row."""
    if p.present < config.ID_MIN_ROWS or p.unique != p.present:
        return None
    if any(t in config.ID_NEVER_TOKENS for t in name_tokens(name)):
        return None
    if p.kind == "integer" and p.missing_share == 0:
        numbers = values.to_numpy(dtype=float)
        low, high = numbers.min(), numbers.max()
        if high - low + 1 == p.rows:
            return f"integers {low:,.0f}…{high:,.0f}, each once: a row number"
    if p.kind == "string":
        return f"a different value in every row ({p.unique:,} of {p.present:,}): a label, not a pattern"
    return None


def _text(p: _Profile, values: pd.Series) -> str | None:
    if p.kind != "string" or p.unique_ratio < config.HIGH_CARDINALITY_RATIO:
        return None
    present = values.dropna().astype(str)
    if len(present) > _TEXT_SAMPLE:
        present = present.sample(_TEXT_SAMPLE, random_state=config.DEFAULT_SEED)
    words = float(present.str.split().str.len().mean())
    if words < config.TEXT_MIN_WORDS:
        return None
    tokens = present.str.lower().str.findall(_WORD).explode().dropna()
    if tokens.empty:
        return None
    vocabulary = tokens.nunique() / len(tokens)
    if vocabulary > config.TEXT_MAX_VOCABULARY_RATIO:
        return None
    return (f"free text: {words:.1f} words per value, {p.unique_ratio:.0%} distinct values, and words recur "
            f"across rows (vocabulary {vocabulary:.0%} of words): hashed into token counts")


def _high_cardinality(p: _Profile) -> str | None:
    if p.kind != "string" or p.unique <= config.MAX_CATEGORIES or p.unique_ratio <= config.HIGH_CARDINALITY_RATIO:
        return None
    return (f"{p.unique:,} distinct values (> {config.MAX_CATEGORIES}), unique ratio {p.unique_ratio:.2f}: "
            "too many categories to learn from")


def _feature_reason(p: _Profile) -> str:
    if p.kind in ("integer", "decimal"):
        return f"numeric ({p.kind}, {p.unique:,} distinct values)"
    if p.unique > config.MAX_CATEGORIES:
        return (f"categorical, {p.unique:,} distinct values: the {config.MAX_CATEGORIES} most frequent are kept, "
                "the rest grouped as other")
    return f"categorical ({p.kind}, {p.unique:,} distinct values)"


def column_role(name: str, values: pd.Series) -> tuple[str, str]:
    """The role of one non-target column and why, checked in order: constant, datetime, ID by name,
    free text, ID by values, high cardinality, else feature."""
    present = present_values(values)
    return _role(name, present, _profile(present))


def _role(name: str, values: pd.Series, p: _Profile) -> tuple[str, str]:
    reason = _constant(p, values)
    if reason:
        return config.CONSTANT, reason
    reason = _datetime(p, values)
    if reason:
        return config.DATETIME, reason
    reason, note = _id_by_name(name, p)
    if reason:
        return config.ID, reason
    reason = _text(p, values)
    if reason:
        return config.TEXT, reason
    reason = _id_by_values(name, p, values)
    if reason:
        return config.ID, reason
    reason = _high_cardinality(p)
    if reason:
        return config.HIGH_CARDINALITY, reason
    feature = _feature_reason(p)
    return config.FEATURE, f"{feature}; {note}" if note else feature


def detect_roles(frame: pd.DataFrame, target: str | None) -> pd.DataFrame:
    """One row per column: ``column, role, reason, kind, unique_ratio, missing_share`` (the target gets
    ``config.TARGET``; ``target=None`` profiles a frame before a target is chosen)."""
    rows = []
    for name in frame.columns:
        values = present_values(frame[name])
        p = _profile(values)
        if name == target:
            role, reason = config.TARGET, "the column to predict"
        else:
            role, reason = _role(str(name), values, p)
        rows.append({"column": name, "role": role, "reason": reason, "kind": p.kind,
                     "unique_ratio": round(p.unique_ratio, 4), "missing_share": round(p.missing_share, 4)})
    return pd.DataFrame(rows, columns=ROLE_COLUMNS)


def roles_dict(roles: pd.DataFrame) -> dict[str, str]:
    """``detect_roles``'s table as the ``{column: role}`` mapping jobs and schemas take."""
    return dict(zip(roles["column"], roles["role"], strict=True))


def detect_time_column(frame: pd.DataFrame, roles: dict[str, str]) -> str | None:
    """The column a time-ordered split uses: the first datetime-role column in frame order."""
    for name in frame.columns:
        if roles.get(name) == config.DATETIME:
            return str(name)
    return None


# --- budget and target checks -------------------------------------------------------------------------------


def auto_budget(rows: int) -> int:
    """Search seconds from the row count (the reference's table): 120 s under 1,000 rows, up to 1,200 s."""
    for below, seconds in config.BUDGET_TABLE:
        if rows < below:
            return seconds
    return config.BUDGET_ABOVE


def validate_target(frame: pd.DataFrame, target: str) -> None:
    """Refuse, before any work, a frame or target a model cannot be trained on."""
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InputError("the table is empty: it has no data rows (a header only, or nothing)")
    if target not in frame.columns:
        listed = ", ".join(map(str, frame.columns[:30])) + (", …" if frame.shape[1] > 30 else "")
        raise InputError(f"there is no column '{target}' to predict; the columns are: {listed}")
    if len(frame) < config.MIN_ROWS:
        raise InputError(f"the table has only {len(frame)} row{'s' if len(frame) != 1 else ''}; at least "
                         f"{config.MIN_ROWS} are needed to train and test a model")
    values = present_values(frame[target]).dropna()
    if values.empty:
        raise InputError("is empty in every row: nothing to predict", column=target)
    if value_kind(values) == "datetime":
        raise InputError("holds dates and times: pick a numeric or categorical column to predict", column=target)
    if values.nunique() == 1:
        raise InputError(f"has one value ('{values.iloc[0]}') in every row with a value: nothing to learn; "
                         "pick another target", column=target)
    if len(values) < config.MIN_ROWS:
        raise InputError(f"has a value in only {len(values)} rows; at least {config.MIN_ROWS} are needed",
                         column=target)
