"""Column detection and the preparation of raw job logs into clean runs.

``detect_columns`` guesses which header plays which role (block, stage, runtime,
memory, ...); the UI shows the guess as an editable mapping. ``prepare_runs``
applies a mapping: it parses every cell, reports each unusable row with its
spreadsheet row number and reason, and keeps only rows it could read.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from core.errors import InputError
from core.io import parse_numeric, parse_timestamps
from core.io.timestamps import MixedTimeZoneError
from core.jobs.parsing import DEFAULT_MEMORY_UNIT, parse_memory, parse_runtime

# Aliases per role, compared after lower-casing and dropping non-alphanumerics.
ALIASES: dict[str, tuple[str, ...]] = {
    "block": ("block", "design", "designname", "blockname", "top", "topmodule", "module", "design_nickname"),
    "stage": ("stage", "step", "flowstage", "stagename", "task", "flowstep", "phase"),
    "runtime": ("runtime", "realtime", "runtimesec", "walltime", "wallclock", "elapsed", "elapsedtime",
                "duration", "wall", "runtimes"),
    "cpu_time": ("cputime", "cpu", "cpusec", "usertime", "cpuseconds"),
    "memory": ("memory", "peakmem", "peakmemory", "maxrss", "mem", "peakrss", "maxmemory", "memmb", "memorymb"),
    "run_date": ("rundate", "date", "timestamp", "starttime", "submittime", "datetime", "ts", "runtimestamp",
                 "started", "start"),
    "platform": ("platform", "pdk", "tech", "technology", "process", "node", "techname"),
    "run_id": ("runid", "run", "jobid", "id", "flowid", "buildid"),
}
# Substrings that identify a role when no alias matches exactly (checked in this order).
HINTS: dict[str, tuple[str, ...]] = {
    "runtime": ("runtime", "run_time", "wall", "elapsed", "real_time", "duration"),
    "memory": ("peak_mem", "memory", "maxrss", "rss", "mem"),
    "cpu_time": ("cpu",),
    "block": ("design", "block"),
    "stage": ("stage", "step"),
    "platform": ("platform", "pdk"),
    "run_date": ("date", "timestamp", "submit", "start"),
    "run_id": ("run_id", "job_id"),
}
ROLES = ("block", "stage", "runtime", "memory", "cpu_time", "run_date", "platform", "run_id")
REQUIRED_FOR_TRAINING = ("block", "stage", "runtime", "memory", "run_date")
KEYS = ("platform", "block", "stage")  # categorical keys of a run, in canonical form
_DURATION_LIKE = re.compile(r"^\d+(-\d{1,2})?:\d{2}(:\d{2})?(\.\d+)?$")
_SIZE_LIKE = re.compile(r"^\d+(\.\d+)?\s*[KMGTkmgt]i?[Bb]?$")


def _norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass
class ColumnMapping:
    """Which source column plays each role; None when absent. ``features`` are extra numeric inputs."""

    block: str | None = None
    stage: str | None = None
    runtime: str | None = None
    memory: str | None = None
    cpu_time: str | None = None
    run_date: str | None = None
    platform: str | None = None
    run_id: str | None = None
    features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ColumnMapping:
        """The mapping saved with a model (``to_dict``); unknown keys are ignored."""

        def role(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        features = data.get("features")
        return cls(block=role("block"), stage=role("stage"), runtime=role("runtime"), memory=role("memory"),
                   cpu_time=role("cpu_time"), run_date=role("run_date"), platform=role("platform"),
                   run_id=role("run_id"),
                   features=[str(f) for f in features] if isinstance(features, (list, tuple)) else [])

    def require(self, roles: tuple[str, ...], *, file: str | None = None) -> None:
        missing = [role for role in roles if getattr(self, role) is None]
        if missing:
            raise InputError(f"no column chosen for {', '.join(missing)}", file=file)
        used = [getattr(self, role) for role in ROLES if getattr(self, role) is not None]
        dupes = sorted({c for c in used if used.count(c) > 1})
        if dupes:
            raise InputError(f"column '{dupes[0]}' is chosen for more than one role", file=file)


def _sample_share(values: pd.Series, pattern: re.Pattern[str]) -> float:
    sample = values.dropna().astype(str).str.strip().head(200)
    sample = sample[sample != ""]
    if sample.empty:
        return 0.0
    return float(sample.str.match(pattern).mean())


def detect_columns(df: pd.DataFrame) -> ColumnMapping:
    """Best guess at each role from header names, then from cell contents."""
    columns = list(df.columns)
    taken: dict[str, str] = {}

    def free(column: str) -> bool:
        return column not in taken.values()

    for role in ROLES:  # exact alias matches first, for every role
        for column in columns:
            if free(column) and _norm(column) in {_norm(a) for a in ALIASES[role]}:
                taken[role] = column
                break
    for role in ROLES:  # then substring hints
        if role in taken:
            continue
        for hint in HINTS[role]:
            match = next((c for c in columns if free(c) and hint.replace("_", "") in _norm(c)), None)
            if match is not None:
                taken[role] = match
                break
    # Contents: a column of durations or of sizes is recognisable whatever its name.
    for role, pattern in (("runtime", _DURATION_LIKE), ("memory", _SIZE_LIKE)):
        if role not in taken:
            match = next((c for c in columns if free(c) and _sample_share(df[c], pattern) > 0.8), None)
            if match is not None:
                taken[role] = match
    if "run_date" not in taken:
        taken_date = _date_like_column(df, [c for c in columns if free(c)])
        if taken_date is not None:
            taken["run_date"] = taken_date
    features = [
        c for c in columns
        if free(c) and pd.api.types.is_numeric_dtype(df[c]) and df[c].notna().any() and df[c].nunique() > 1
    ]
    return ColumnMapping(**taken, features=features)


def _date_like_column(df: pd.DataFrame, candidates: list[str]) -> str | None:
    for column in candidates:
        sample = df[column].dropna().astype(str).head(20)
        if sample.empty or pd.api.types.is_numeric_dtype(df[column]) or sample.str.match(_DURATION_LIKE).any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(sample, format="mixed", errors="coerce")
        if parsed.notna().all() and sample.str.contains(r"\d{4}|\d{1,2}[-/]\d{1,2}[-/]\d{2}").all():
            return column
    return None


@dataclass
class PreparedRuns:
    """Clean runs in canonical columns plus the rows that were excluded.

    ``runs`` columns: row (spreadsheet row of the source), platform, block, stage, run_date,
    run_id, runtime_s, memory_mb, cpu_time_s, and the numeric feature columns.
    ``rejected`` columns: row, column, value, reason.
    """

    runs: pd.DataFrame
    rejected: pd.DataFrame
    mapping: ColumnMapping
    memory_unit: str = DEFAULT_MEMORY_UNIT

    @property
    def feature_columns(self) -> list[str]:
        return list(self.mapping.features)


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.where(~text.str.lower().isin({"", "nan", "none", "null", "n/a", "na"}), pd.NA)


def exclusion_note(rejected: pd.DataFrame, *, count: bool = True) -> str:
    """Where a user should look first when rows were excluded, for error messages:
    " (N rows excluded; first: row R, column 'C': reason)", or "" when none were."""
    if rejected.empty:
        return ""
    first = rejected.sort_values("row", kind="stable").iloc[0]
    where = f"first: row {first['row']}, column '{first['column']}': {first['reason']}"
    return f" ({rejected['row'].nunique()} rows excluded; {where})" if count else f" ({where})"


def _parse_dates(values: pd.Series, column: str, file: str | None) -> tuple[pd.Series, pd.Series]:
    """Dates as naive timestamps (UTC when the data has zones), plus a mask of unusable cells."""
    present = values.notna() & (values.astype("string").str.strip().fillna("") != "")
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values[present]
    else:
        try:
            parsed = parse_timestamps(values[present], column=column, file=file)
        except MixedTimeZoneError:
            raise  # not a cell's fault: guessing a zone for the naive ones would reorder runs silently
        except InputError:  # some cells are not dates: keep the rest, report those rows
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(values[present].astype(str), format="mixed", errors="coerce", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    full = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    full[present] = parsed.astype("datetime64[ns]")
    return full, full.isna()


def prepare_runs(
    df: pd.DataFrame,
    mapping: ColumnMapping,
    *,
    memory_unit: str = DEFAULT_MEMORY_UNIT,
    require_targets: bool = True,
    file: str | None = None,
) -> PreparedRuns:
    """Parse ``df`` with ``mapping``. Rows with an unreadable required value are excluded and
    listed in ``rejected``; raises InputError when no row is left or a column is missing."""
    required = REQUIRED_FOR_TRAINING if require_targets else ("block", "stage")
    mapping.require(required, file=file)
    for role in (*ROLES, "features"):
        chosen = mapping.features if role == "features" else [getattr(mapping, role)]
        for column in chosen:
            if column is not None and column not in df.columns:
                raise InputError(f"has no column '{column}' (chosen for {role})", file=file)

    n = len(df)
    out = pd.DataFrame({"row": np.arange(2, n + 2)}, index=df.index)
    problems: list[pd.DataFrame] = []

    def reject(mask: pd.Series, column: str, reason: str) -> None:
        if mask.any():
            problems.append(pd.DataFrame({
                "row": out.loc[mask, "row"].to_numpy(),
                "column": column,
                "value": df.loc[mask, column].astype("string").fillna("").to_numpy(),
                "reason": reason,
            }))

    for role in KEYS:
        column = getattr(mapping, role)
        if column is None:
            out[role] = ""
            continue
        out[role] = _text(df[column])
        reject(out[role].isna(), column, f"{role} is empty")
    out["run_id"] = _text(df[mapping.run_id]) if mapping.run_id else pd.NA

    if mapping.run_date is not None:
        dates, bad = _parse_dates(df[mapping.run_date], mapping.run_date, file)
        out["run_date"] = dates
        reject(bad, mapping.run_date, "not a date")
    else:
        out["run_date"] = pd.NaT

    for role, target, parser in (
        ("runtime", "runtime_s", parse_runtime),
        ("memory", "memory_mb", lambda v: parse_memory(v, plain_unit=memory_unit)),
        ("cpu_time", "cpu_time_s", parse_runtime),
    ):
        column = getattr(mapping, role)
        if column is None:
            out[target] = np.nan
            continue
        values, bad = parser(df[column])
        out[target] = values
        what = "a duration (HH:MM:SS, MM:SS.ss, D-HH:MM:SS, 1h 2m 3s or seconds)" if role != "memory" else (
            "a memory size (e.g. 512.3M, 2GiB, or a plain number)")
        reject(bad, column, f"not {what}")
        if role in ("runtime", "memory"):
            # A present-but-bad target is never guessed; an empty one is unusable for training.
            if require_targets:
                reject(values.isna() & ~bad, column, f"{role} is empty")
            else:
                out.loc[bad, target] = np.nan

    for column in mapping.features:
        numbers, bad = parse_numeric(df[column])
        out[column] = numbers
        reject(bad, column, "not a number")

    rejected = (pd.concat(problems, ignore_index=True) if problems
                else pd.DataFrame(columns=["row", "column", "value", "reason"]))
    if not require_targets:
        # At prediction time a bad target or feature cell is dropped; only bad keys or dates exclude the row.
        key_cols = {getattr(mapping, r) for r in (*KEYS, "run_date") if getattr(mapping, r)}
        excluding = rejected[rejected["column"].isin(key_cols)]
    else:
        excluding = rejected
    keep = ~out["row"].isin(excluding["row"])
    runs = out[keep].reset_index(drop=True)
    if runs.empty:
        raise InputError(f"no usable rows: all {n} rows were excluded{exclusion_note(rejected, count=False)}", file=file)
    rejected = rejected.sort_values(["row", "column"], kind="stable").reset_index(drop=True)
    return PreparedRuns(runs=runs, rejected=rejected, mapping=replace(mapping), memory_unit=memory_unit)
