"""The EDA report, built here from plain pandas (ydata-profiling would force pandas 2).

``eda_report`` returns tables and dicts the page draws with plotly; ``eda_html`` writes the same report
as one standalone HTML file (inline CSS, inline SVG charts, no script and no network) for download.

Associations with the target are each a number in [0, 1], and the table says which measure it is:
|Spearman ρ| for numeric–numeric, the correlation ratio η for categorical–numeric (either way round),
Cramér's V (without bias correction) for categorical–categorical. Categories beyond the
``MAX_CATEGORIES`` most frequent are grouped, missing categories are a category of their own, and rows
missing a number are left out of that pair. Frames above ``EDA_SAMPLE_ROWS`` rows are sampled for
associations and correlations (deterministically, and the report says so); counts, shares,
histograms and duplicates always use every row.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.automl import config
from core.automl.detection import detect_roles, detect_task, present_values, roles_dict, value_kind
from core.errors import InputError

SPEARMAN = "|Spearman ρ|"
ETA = "correlation ratio η"
CRAMERS_V = "Cramér's V"
MEASURE_HELP = {
    SPEARMAN: "numeric column, numeric target: strength of a monotonic relation",
    ETA: "categorical and numeric: share of the numeric spread explained by the categories (square root)",
    CRAMERS_V: "categorical column, categorical target: strength of the association in the contingency table",
}
COLUMN_TABLE = ["column", "kind", "role", "missing", "missing_share", "unique", "mean", "sd", "min", "max",
                "skew", "top_values"]
DISTRIBUTION_TABLE = ["label", "count", "share", "low", "high"]
ASSOCIATION_TABLE = ["column", "association", "measure", "rows"]
WARNING_TABLE = ["column", "warning", "message"]
_NUMERIC_KINDS = ("integer", "decimal")
_NOT_ASSOCIATED = (config.CONSTANT, config.ID, config.TEXT, config.DROP)
_MISSING_LABEL = "(missing)"
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


@dataclass(frozen=True, eq=False)
class EdaReport:
    """Everything the EDA shows, as plain tables: the page plots them, ``eda_html`` writes them."""

    overview: dict[str, Any]  # rows, columns, memory_mb, duplicate_rows, missing_cells_share, ...
    columns: pd.DataFrame  # COLUMN_TABLE, one row per column
    distributions: dict[str, pd.DataFrame]  # column -> DISTRIBUTION_TABLE (bins or top values)
    target: str | None
    task: str | None
    task_reason: str
    target_distribution: pd.DataFrame  # DISTRIBUTION_TABLE: every class, or a histogram
    associations: pd.DataFrame  # ASSOCIATION_TABLE, strongest first; measure says which
    correlations: pd.DataFrame  # Spearman among numeric columns (square, at most EDA_MAX_CORRELATION_COLUMNS)
    duplicate_rows: int
    warnings: pd.DataFrame  # WARNING_TABLE
    notes: tuple[str, ...]
    roles: dict[str, str] = field(default_factory=dict)


# --- the numbers ------------------------------------------------------------------------------------------


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V of two categorical columns (no bias correction), in [0, 1]."""
    table = pd.crosstab(a, b).to_numpy(dtype=float)
    n = table.sum()
    k = min(table.shape) - 1
    if n == 0 or k < 1:
        return 0.0
    expected = table.sum(axis=1, keepdims=True) @ table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(min(1.0, math.sqrt(chi2 / (n * k))))


def correlation_ratio(categories: pd.Series, numbers: pd.Series) -> float:
    """η: the square root of the share of the numbers' variance between the categories' means."""
    values = numbers.to_numpy(dtype=float)
    total = float(((values - values.mean()) ** 2).sum()) if values.size else 0.0
    if total == 0.0:
        return 0.0
    grouped = pd.DataFrame({"g": categories.to_numpy(), "x": values}).groupby("g", sort=False)["x"]
    between = float((grouped.count() * (grouped.mean() - values.mean()) ** 2).sum())
    return float(min(1.0, math.sqrt(between / total)))


def spearman(a: pd.Series, b: pd.Series) -> float:
    """|Spearman ρ| (ranks with ties averaged, then Pearson); 0 when either side is constant."""
    ra, rb = a.rank().to_numpy(dtype=float), b.rank().to_numpy(dtype=float)
    if ra.size < 2 or ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(abs(np.corrcoef(ra, rb)[0, 1]))


def _as_categories(values: pd.Series) -> pd.Series:
    """Strings with the rarest categories grouped (beyond MAX_CATEGORIES) and missing as a category."""
    text = values.astype("string").fillna(_MISSING_LABEL).astype(object)
    kept = text.value_counts().index[: config.MAX_CATEGORIES]
    return text.where(text.isin(kept), "(other)")


def _as_numbers(values: pd.Series, role: str) -> pd.Series:
    if role == config.DATETIME or value_kind(values) == "datetime":
        stamps = pd.to_datetime(values, errors="coerce", utc=True)
        return ((stamps - _EPOCH) / pd.Timedelta(days=1)).astype(float)
    return pd.to_numeric(values, errors="coerce").astype(float)


def _is_numeric(values: pd.Series, role: str) -> bool:
    return role == config.DATETIME or value_kind(values) in (*_NUMERIC_KINDS, "datetime")


# --- the tables -------------------------------------------------------------------------------------------


def _histogram(numbers: np.ndarray) -> pd.DataFrame:
    counts, edges = np.histogram(numbers, bins=config.EDA_HISTOGRAM_BINS)
    labels = [f"{_number(lo)} – {_number(hi)}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return _distribution(labels, counts, edges[:-1], edges[1:])


def _distribution(labels: Sequence[str], counts: Sequence[int] | np.ndarray,
                  low: Sequence[float] | np.ndarray | None = None,
                  high: Sequence[float] | np.ndarray | None = None) -> pd.DataFrame:
    counts = np.asarray(counts, dtype=int)
    total = counts.sum()
    nan = [np.nan] * len(counts)
    return pd.DataFrame({
        "label": list(labels),
        "count": counts,
        "share": counts / total if total else counts * 0.0,
        "low": list(low) if low is not None else nan,
        "high": list(high) if high is not None else nan,
    }, columns=DISTRIBUTION_TABLE)


def _top_counts(values: pd.Series, top: int) -> pd.DataFrame:
    present = values.dropna()
    # Numbers as they read (class 1, not 1.0); everything else as its text.
    counts = (present.map(_number) if value_kind(present) in _NUMERIC_KINDS else present.astype(str)).value_counts()
    labels, numbers = list(counts.index[:top]), list(counts.to_numpy()[:top])
    if len(counts) > top:
        labels.append(f"(other: {len(counts) - top:,} values)")
        numbers.append(int(counts.to_numpy()[top:].sum()))
    return _distribution(labels, numbers)


def _date_histogram(values: pd.Series) -> pd.DataFrame:
    days = _as_numbers(values, config.DATETIME).dropna().to_numpy()
    if days.size == 0:
        return _distribution([], [])
    counts, edges = np.histogram(days, bins=config.EDA_HISTOGRAM_BINS)
    stamps = pd.to_datetime(edges, unit="D")
    labels = [str(s.date()) if (edges[-1] - edges[0]) > 2 * config.EDA_HISTOGRAM_BINS else str(s)[:16]
              for s in stamps[:-1]]
    return _distribution(labels, counts, edges[:-1], edges[1:])


def _word_counts(values: pd.Series) -> pd.DataFrame:
    words = values.dropna().astype(str).str.lower().str.findall(r"[a-z0-9]+").explode().dropna()
    return _top_counts(words, config.EDA_TOP_VALUES)


def column_distribution(values: pd.Series, role: str, *, top: int = config.EDA_TOP_VALUES) -> pd.DataFrame:
    """Counts per value for categories and discrete numbers, a histogram for other numbers and
    dates, the most frequent words for free text."""
    if role == config.TEXT:
        return _word_counts(values)
    if role == config.DATETIME or value_kind(values) == "datetime":
        return _date_histogram(values)
    if value_kind(values) not in _NUMERIC_KINDS:
        return _top_counts(values, top)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        return _distribution([], [])
    distinct = np.unique(numbers)
    if distinct.size <= config.EDA_DISCRETE_MAX_UNIQUE:
        counts = pd.Series(numbers).value_counts().sort_index()
        return _distribution([_number(v) for v in counts.index], counts.to_numpy(), counts.index, counts.index)
    return _histogram(numbers)


def _stamps(values: pd.Series) -> pd.Series:
    """Dates in the data's own zone for display; one UTC line only when the zones are mixed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            stamps = pd.to_datetime(values, errors="coerce")
        except (ValueError, TypeError):
            stamps = pd.to_datetime(values, errors="coerce", utc=True)
        if not pd.api.types.is_datetime64_any_dtype(stamps):
            stamps = pd.to_datetime(values, errors="coerce", utc=True)
    return stamps.dropna()


def _column_row(name: str, values: pd.Series, role: str) -> dict[str, Any]:
    kind = value_kind(values)
    present = values.dropna()
    row: dict[str, Any] = {"column": name, "kind": kind, "role": role, "missing": int(len(values) - len(present)),
                           "missing_share": 1 - len(present) / len(values) if len(values) else 0.0,
                           "unique": int(present.nunique()), "mean": np.nan, "sd": np.nan, "min": np.nan,
                           "max": np.nan, "skew": np.nan, "top_values": ""}
    if kind in _NUMERIC_KINDS:
        numbers = pd.to_numeric(present, errors="coerce").astype(float)
        numbers = numbers[np.isfinite(numbers)]
        if len(numbers):
            row.update(mean=float(numbers.mean()), sd=float(numbers.std()) if len(numbers) > 1 else np.nan,
                       min=float(numbers.min()), max=float(numbers.max()),
                       skew=float(numbers.skew()) if len(numbers) > 2 else np.nan)
    elif role == config.DATETIME or kind == "datetime":
        stamps = _stamps(present)
        if len(stamps):
            row["top_values"] = f"{stamps.min()} … {stamps.max()}"
    else:
        counts = present.astype(str).value_counts().head(3)
        row["top_values"] = ", ".join(f"{value} ({count:,})" for value, count in counts.items())
    return row


def _association(column: pd.Series, role: str, target: pd.Series, target_numeric: bool) -> tuple[float, str, int]:
    col_numeric = _is_numeric(column, role)
    x = _as_numbers(column, role) if col_numeric else _as_categories(column)
    y = target.astype(float) if target_numeric else _as_categories(target)
    keep = x.notna() & y.notna()
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return np.nan, "not computed (too few rows)", int(len(x))
    if col_numeric and target_numeric:
        return spearman(x, y), SPEARMAN, len(x)
    if col_numeric:
        return correlation_ratio(y, x), ETA, len(x)
    if target_numeric:
        return correlation_ratio(x, y), ETA, len(x)
    return cramers_v(x, y), CRAMERS_V, len(x)


def _associations(sample: pd.DataFrame, target: str, task: str, roles: dict[str, str]) -> pd.DataFrame:
    rows = []
    labelled = sample[sample[target].notna()]
    target_numeric = task == config.REGRESSION
    y = pd.to_numeric(labelled[target], errors="coerce") if target_numeric else labelled[target]
    for name in sample.columns:
        if name == target:
            continue
        role = roles.get(name, config.FEATURE)
        if role in _NOT_ASSOCIATED:
            rows.append({"column": name, "association": np.nan, "measure": f"not computed ({role})", "rows": 0})
            continue
        score, measure, used = _association(labelled[name], role, y, target_numeric)
        rows.append({"column": name, "association": score, "measure": measure, "rows": used})
    table = pd.DataFrame(rows, columns=ASSOCIATION_TABLE)
    return table.sort_values("association", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def _correlations(sample: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    numeric = [c for c in sample.columns
               if value_kind(sample[c]) in _NUMERIC_KINDS and roles.get(c) not in (config.CONSTANT, config.ID)]
    numeric = numeric[: config.EDA_MAX_CORRELATION_COLUMNS]
    if len(numeric) < 2:
        return pd.DataFrame()
    ranks = sample[numeric].apply(lambda s: pd.to_numeric(s, errors="coerce")).rank()
    return ranks.corr(method="pearson")


def _warnings(columns: pd.DataFrame, target: str | None, task: str | None, target_distribution: pd.DataFrame,
              duplicates: int, rows: int, reasons: dict[str, str]) -> pd.DataFrame:
    found: list[tuple[str, str, str]] = []
    if duplicates:
        found.append(("", "duplicates", f"{duplicates:,} duplicate rows ({duplicates / rows:.1%}): "
                      "they can sit on both sides of a train/test split"))
    for row in columns.itertuples(index=False):
        name, role = str(row.column), str(row.role)
        if role == config.TARGET and row.missing:
            found.append((name, "missing target", f"the target is missing in {row.missing:,} rows: "
                          "they are left out of training"))
        elif row.missing_share > config.WARN_MISSING_SHARE and role != config.CONSTANT:
            found.append((name, "missing", f"{row.missing_share:.0%} of values missing"))
        if role in (config.CONSTANT, config.ID, config.HIGH_CARDINALITY):
            label = {config.CONSTANT: "constant", config.ID: "id-like",
                     config.HIGH_CARDINALITY: "high cardinality"}[role]
            found.append((name, label, f"{reasons.get(name, '')}: left out of the model"))
        skew_matters = role in config.MODEL_ROLES or (role == config.TARGET and task == config.REGRESSION)
        if skew_matters and abs(row.skew) > config.WARN_SKEW:
            found.append((name, "skewed", f"skewness {row.skew:.1f}: a few large values dominate "
                          "(a log scale may read better)"))
    if target and task == config.CLASSIFICATION and len(target_distribution):
        smallest = target_distribution.sort_values("share").iloc[0]
        if smallest["share"] < config.WARN_MINORITY_SHARE:
            found.append((target, "imbalanced target", f"class '{smallest['label']}' is only "
                          f"{smallest['share']:.1%} of rows: accuracy alone would flatter a model"))
    return pd.DataFrame(found, columns=WARNING_TABLE)


def _sample(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    if len(frame) <= config.EDA_SAMPLE_ROWS:
        return frame, None
    sample = frame.sample(config.EDA_SAMPLE_ROWS, random_state=config.DEFAULT_SEED)
    return sample, (f"Associations and correlations use a random sample of {config.EDA_SAMPLE_ROWS:,} of "
                    f"{len(frame):,} rows (seed {config.DEFAULT_SEED}, the same every time); counts, "
                    "missing shares, histograms and duplicates use every row.")


def eda_report(frame: pd.DataFrame, target: str | None, roles: dict[str, str] | None = None) -> EdaReport:
    """Profile a frame (and its relation to ``target`` when given) for the page and the HTML file."""
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InputError("the table is empty: it has no data rows (a header only, or nothing)")
    if target is not None and target not in frame.columns:
        raise InputError(f"there is no column '{target}' to profile as the target")
    role_table = detect_roles(frame, target)
    reasons = dict(zip(role_table["column"], role_table["reason"], strict=True))
    roles = {**roles_dict(role_table), **(roles or {})}
    if target is not None:
        roles[target] = config.TARGET
    clean = pd.DataFrame({name: present_values(frame[name]) for name in frame.columns}, index=frame.index)
    task, task_reason = detect_task(clean[target]) if target is not None else (None, "")
    duplicates = int(frame.duplicated().sum())
    columns = pd.DataFrame([_column_row(str(c), clean[c], roles[c]) for c in clean.columns], columns=COLUMN_TABLE)
    distributions = {str(c): column_distribution(clean[c], roles[c]) for c in clean.columns}
    target_distribution = pd.DataFrame(columns=DISTRIBUTION_TABLE)
    if target is not None:
        # Every class (up to MAX_CATEGORIES) for classification; a histogram for regression.
        target_distribution = (_top_counts(clean[target], config.MAX_CATEGORIES) if task == config.CLASSIFICATION
                               else column_distribution(clean[target], config.FEATURE))
    sample, sample_note = _sample(clean)
    associations = (_associations(sample, target, str(task), roles) if target is not None
                    else pd.DataFrame(columns=ASSOCIATION_TABLE))
    missing_cells = int(clean.isna().sum().sum())
    overview: dict[str, Any] = {
        "rows": len(frame), "columns": frame.shape[1],
        "memory_mb": round(float(frame.memory_usage(deep=True).sum()) / 1e6, 3),
        "duplicate_rows": duplicates, "duplicate_share": duplicates / len(frame),
        "missing_cells": missing_cells, "missing_cells_share": missing_cells / clean.size,
        "rows_sampled": len(sample), "target": target or "", "task": task or "",
        **{f"{role}_columns": sum(1 for r in roles.values() if r == role) for role in config.ROLES},
    }
    notes = [f"Target '{target}': {task_reason}."] if target is not None else []
    notes.append("Associations with the target: " + "; ".join(f"{m}: {h}" for m, h in MEASURE_HELP.items()) + ".")
    if sample_note:
        notes.append(sample_note)
    return EdaReport(
        overview=overview, columns=columns, distributions=distributions, target=target, task=task,
        task_reason=task_reason, target_distribution=target_distribution, associations=associations,
        correlations=_correlations(sample, roles), duplicate_rows=duplicates,
        warnings=_warnings(columns, target, task, target_distribution, duplicates, len(frame), reasons),
        notes=tuple(notes), roles=roles,
    )


# --- the HTML file ------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2933;padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d9e2ec;
padding-bottom:.3rem}h3{font-size:1rem;margin:.2rem 0}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e4e7eb;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f5f7fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:1rem}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:.6rem}
.muted{color:#616e7c;font-size:.85rem}.warn{color:#8a2c0d}
.bar{background:#4c78a8;height:.7rem;display:inline-block;vertical-align:middle}
nav a{margin-right:1rem}
"""
_HTML_MAX_CHARTS = 200
_BAR = "#4c78a8"


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return f"{int(number):,}"
        return f"{number:.4g}"
    return str(value)


def _cell(name: str, value: Any) -> str:
    if isinstance(value, (float, np.floating)) and name.endswith("share") and math.isfinite(float(value)):
        return f'<td class="n">{float(value):.1%}</td>'
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return f'<td class="n">{html.escape(_number(value))}</td>'
    return f"<td>{html.escape(_number(value))}</td>"


def _table(frame: pd.DataFrame, *, index: bool = False) -> str:
    if frame.empty:
        return '<p class="muted">Nothing to show.</p>'
    data = frame.reset_index() if index else frame
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in data.columns)
    body = "".join("<tr>" + "".join(_cell(str(c), v) for c, v in zip(data.columns, row, strict=True)) + "</tr>"
                   for row in data.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg_bars(dist: pd.DataFrame, *, width: int = 330) -> str:
    """Horizontal bars, one per label, each with a hover title: readable for bins and categories alike."""
    if dist.empty:
        return '<p class="muted">No values.</p>'
    label_w, row_h = 130, 14
    height = row_h * len(dist) + 4
    peak = max(int(dist["count"].max()), 1)
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for i, row in enumerate(dist.itertuples(index=False)):
        y = i * row_h + 2
        bar = (width - label_w - 50) * int(row.count) / peak
        label = html.escape(str(row.label)[:22])
        tip = html.escape(f"{row.label}: {int(row.count):,} ({float(row.share):.1%})")
        parts.append(f'<text x="{label_w - 4}" y="{y + 10}" font-size="10" text-anchor="end">{label}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{bar:.1f}" height="{row_h - 3}" fill="{_BAR}">'
                     f"<title>{tip}</title></rect>"
                     f'<text x="{label_w + bar + 3:.1f}" y="{y + 10}" font-size="9" fill="#616e7c">'
                     f"{int(row.count):,}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _association_rows(table: pd.DataFrame) -> str:
    if table.empty:
        return '<p class="muted">No target chosen.</p>'
    rows = []
    for row in table.itertuples(index=False):
        value = float(row.association) if pd.notna(row.association) else None
        bar = f'<span class="bar" style="width:{value * 120:.0f}px"></span> ' if value is not None else ""
        shown = f"{value:.3f}" if value is not None else "–"
        rows.append(f"<tr><td>{html.escape(str(row.column))}</td><td>{bar}{shown}</td>"
                    f"<td>{html.escape(str(row.measure))}</td><td class=\"n\">{int(row.rows):,}</td></tr>")
    return ("<table><thead><tr><th>column</th><th>association</th><th>measure</th><th>rows</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _heatmap(corr: pd.DataFrame) -> str:
    if corr.empty:
        return '<p class="muted">Fewer than two numeric columns.</p>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in corr.columns)
    rows = []
    for name, values in corr.iterrows():
        cells = []
        for v in values:
            v = float(v) if pd.notna(v) else 0.0
            color = f"rgba(76,120,168,{abs(v):.2f})" if v >= 0 else f"rgba(214,96,77,{abs(v):.2f})"
            cells.append(f'<td class="n" style="background:{color}">{v:.2f}</td>')
        rows.append(f"<tr><th>{html.escape(str(name))}</th>{''.join(cells)}</tr>")
    return (f'<table><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<p class="muted">Spearman rank correlation: blue positive, red negative.</p>')


def _overview_table(overview: dict[str, Any]) -> str:
    shown = {k: v for k, v in overview.items() if not (k.endswith("_columns") and v == 0)}
    return _table(pd.DataFrame({"measure": list(shown), "value": [_number(v) if not k.endswith("share")
                                                                  else f"{float(v):.1%}"
                                                                  for k, v in shown.items()]}))


def _distribution_cards(report: EdaReport) -> str:
    cards = []
    names = list(report.distributions)[:_HTML_MAX_CHARTS]
    for name in names:
        role = report.roles.get(name, "")
        cards.append(f'<div class="card"><h3>{html.escape(name)}</h3><p class="muted">{html.escape(role)}</p>'
                     f"{_svg_bars(report.distributions[name])}</div>")
    more = len(report.distributions) - len(names)
    extra = f'<p class="muted">{more:,} more columns are not drawn.</p>' if more > 0 else ""
    return f'<div class="grid">{"".join(cards)}</div>{extra}'


def eda_html(report: EdaReport, title: str) -> str:
    """The report as one standalone HTML document: inline CSS and SVG, no script, no network."""
    target_part = '<p class="muted">No target chosen.</p>'
    if report.target is not None:
        target_part = (f"<p><b>{html.escape(report.target)}</b>: {html.escape(str(report.task))} — "
                       f"{html.escape(report.task_reason)}</p>{_svg_bars(report.target_distribution, width=520)}")
    warning_part = (_table(report.warnings) if not report.warnings.empty
                    else '<p class="muted">No warnings.</p>')
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    sections = [
        ("overview", "Overview", _overview_table(report.overview)),
        ("warnings", "Warnings", f'<div class="warn">{warning_part}</div>'),
        ("target", "Target", target_part),
        ("associations", "Associations with the target", _association_rows(report.associations)),
        ("columns", "Columns", _table(report.columns)),
        ("correlations", "Correlations", _heatmap(report.correlations)),
        ("distributions", "Distributions", _distribution_cards(report)),
        ("notes", "Notes", f"<ul>{notes}</ul>"),
    ]
    nav = "".join(f'<a href="#{key}">{label}</a>' for key, label, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{label}</h2>{content}</section>' for key, label, content in sections)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body><h1>{html.escape(title)}</h1><nav>{nav}</nav>{body}</body></html>")
