"""Plotly figure builders for the AutoML page: pure functions of the service's tables (no Streamlit).

Inputs are the frames ``core.automl`` returns (EDA distributions and associations, a leaderboard, the
test predictions, the importance table, the ledger, a drift report), so a unit test can build one from a
small frame and check its traces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

BAR = "#4c78a8"
CHOSEN = "#f58518"
MUTED = "#9e9e9e"
GOOD, WARN, BAD = "#54a24b", "#f2a93b", "#e45756"
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
           "#eeca3b")
MAX_BARS = 25  # bars drawn in importance and association charts (the strongest ones)
PROBA_PREFIX = "proba_"
_LEGEND = {"orientation": "h", "y": -0.2}


def _height(bars: int, per_bar: int = 24, base: int = 140) -> int:
    return max(320, base + per_bar * bars)


def is_binned(dist: pd.DataFrame) -> bool:
    """Whether a distribution table holds numeric bins (a histogram) rather than values or categories."""
    return bool(len(dist)) and bool(dist["low"].notna().all()) and bool((dist["low"] != dist["high"]).any())


def distribution(dist: pd.DataFrame, column: str, *, role: str = "", highlight: bool = False) -> go.Figure:
    """Counts per bin (vertical bars, a histogram) or per value (horizontal bars, most frequent on top)."""
    colour = CHOSEN if highlight else BAR
    hover = "%{customdata[0]}: %{customdata[1]:,} rows (%{customdata[2]:.1%})<extra></extra>"
    custom = np.column_stack([dist["label"].astype(str), dist["count"], dist["share"]]) if len(dist) else None
    fig = go.Figure()
    suffix = f" ({role})" if role else ""
    if is_binned(dist):
        fig.add_trace(go.Bar(x=dist["label"].astype(str), y=dist["count"], marker_color=colour, customdata=custom,
                             hovertemplate=hover))
        fig.update_layout(title=f"{column}{suffix}: rows per range", xaxis_title=column, yaxis_title="rows",
                          bargap=0.05)
    else:
        fig.add_trace(go.Bar(y=dist["label"].astype(str), x=dist["count"], orientation="h", marker_color=colour,
                             customdata=custom, hovertemplate=hover))
        fig.update_layout(title=f"{column}{suffix}: rows per value", xaxis_title="rows",
                          yaxis={"autorange": "reversed", "type": "category"}, height=_height(len(dist)))
    return fig


def associations(table: pd.DataFrame, target: str) -> go.Figure:
    """Each column's association with the target (0 … 1), strongest on top, coloured by the measure used."""
    shown = table.dropna(subset=["association"]).head(MAX_BARS)
    fig = go.Figure()
    for i, (measure, part) in enumerate(shown.groupby("measure", sort=False)):
        fig.add_trace(go.Bar(y=part["column"].astype(str), x=part["association"], orientation="h", name=str(measure),
                             marker_color=PALETTE[i % len(PALETTE)],
                             hovertemplate="%{y}: %{x:.3f}<extra>" + str(measure) + "</extra>"))
    order = list(shown["column"].astype(str))
    fig.update_layout(title=f"How strongly each column goes with {target} (0 = not at all, 1 = fully)",
                      xaxis={"title": "association", "range": [0, 1]},
                      yaxis={"categoryorder": "array", "categoryarray": order[::-1]},
                      height=_height(len(shown)), legend=_LEGEND, barmode="overlay")
    return fig


def correlations(corr: pd.DataFrame) -> go.Figure:
    """Spearman rank correlations among numeric columns (−1 … 1)."""
    z = corr.to_numpy(dtype=float)
    text = [[("" if np.isnan(v) else f"{v:.2f}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[str(c) for c in corr.columns], y=[str(i) for i in corr.index], zmin=-1,
                               zmax=1, colorscale="RdBu", text=text, texttemplate="%{text}",
                               colorbar={"title": "ρ"}, hovertemplate="%{y} and %{x}: %{z:.2f}<extra></extra>"))
    fig.update_layout(title="Rank correlation between numeric columns (Spearman)", yaxis={"autorange": "reversed"},
                      height=_height(len(corr), per_bar=28, base=200))
    return fig


def leaderboard(board: pd.DataFrame) -> go.Figure:
    """Cross-validated score ± one standard deviation per candidate; the chosen model in its own colour."""
    rows = board.dropna(subset=["cv_score"])
    metric = str(rows["metric"].iloc[0]) if len(rows) else "score"
    colours = [CHOSEN if bool(c) else BAR for c in rows.get("chosen", pd.Series(False, index=rows.index))]
    fig = go.Figure(go.Bar(y=rows["model"].astype(str), x=rows["cv_score"], orientation="h", marker_color=colours,
                           error_x={"type": "data", "array": rows["cv_sd"].fillna(0.0).to_numpy(), "visible": True},
                           hovertemplate="%{y}: %{x:.4g}<extra>cross-validated</extra>"))
    fig.update_layout(title=f"Cross-validated {metric} per model (lower is better; orange: chosen)",
                      xaxis_title=f"{metric} (mean over folds ± sd)",
                      yaxis={"autorange": "reversed", "type": "category"}, height=_height(len(rows)))
    return fig


def importance(table: pd.DataFrame) -> go.Figure:
    """Permutation importance on the test set: how much the score drops when a column is shuffled."""
    shown = table.sort_values("importance", ascending=False).head(MAX_BARS)
    fig = go.Figure(go.Bar(y=shown["feature"].astype(str), x=shown["importance"], orientation="h", marker_color=BAR,
                           error_x={"type": "data", "array": shown["sd"].fillna(0.0).to_numpy(), "visible": True},
                           hovertemplate="%{y}: %{x:.4f}<extra>score drop when shuffled</extra>"))
    fig.update_layout(title="Permutation importance on the test set (± sd over repeats)",
                      xaxis_title="drop in the test score when the column is shuffled",
                      yaxis={"autorange": "reversed", "type": "category"}, height=_height(len(shown)))
    return fig


def ledger(seconds: Mapping[str, float], budget_seconds: float) -> go.Figure:
    """Seconds spent per phase, in order, with the total against the budget in the title."""
    phases = [str(p) for p in seconds]
    values = [float(seconds[p] or 0.0) for p in seconds]
    fig = go.Figure(go.Bar(y=phases, x=values, orientation="h", marker_color=BAR,
                           text=[f"{v:.1f} s" for v in values], textposition="outside",
                           hovertemplate="%{y}: %{x:.2f} s<extra></extra>"))
    fig.update_layout(title=f"Where the time went: {sum(values):.1f} s of a {budget_seconds:.0f} s budget",
                      xaxis={"title": "seconds", "range": [0, max(values, default=1.0) * 1.2 or 1.0]}, yaxis={"autorange": "reversed", "type": "category"},
                      height=_height(len(phases), per_bar=26))
    return fig


# --- test set: classification -------------------------------------------------------------------------------


def proba_classes(predictions: pd.DataFrame) -> list[str]:
    """The class labels of the ``proba_<class>`` columns, in column order."""
    return [str(c)[len(PROBA_PREFIX):] for c in predictions.columns if str(c).startswith(PROBA_PREFIX)]


def confusion(predictions: pd.DataFrame, classes: Sequence[str]) -> go.Figure:
    """Test rows per (true class, predicted class), with each row's share of its true class."""
    labels = [str(c) for c in classes]
    truth, guess = predictions["y_true"].astype(str), predictions["y_pred"].astype(str)
    counts = pd.crosstab(pd.Categorical(truth, labels), pd.Categorical(guess, labels), dropna=False)
    z = counts.to_numpy(dtype=float)
    totals = z.sum(axis=1, keepdims=True)
    shares = np.divide(z, totals, out=np.zeros_like(z), where=totals > 0)
    text = [[f"{int(n):,}<br>{s:.0%}" for n, s in zip(row, share_row, strict=True)]
            for row, share_row in zip(z, shares, strict=True)]
    fig = go.Figure(go.Heatmap(z=shares, x=labels, y=labels, text=text, texttemplate="%{text}", zmin=0, zmax=1,
                               colorscale="Blues", colorbar={"title": "share of the<br>true class"},
                               customdata=z, hovertemplate="true %{y}, predicted %{x}: %{customdata:,} rows"
                                                           "<extra></extra>"))
    fig.update_layout(title="Confusion matrix on the test set", xaxis={"title": "predicted", "type": "category"},
                      yaxis={"title": "true", "type": "category", "autorange": "reversed"},
                      height=_height(len(labels), per_bar=50, base=220))
    return fig


def roc_points(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(false-positive rates, true-positive rates, area) of a score for a yes/no truth; None with one side only."""
    order = np.argsort(-score, kind="mergesort")
    ranked, truth = score[order], positive[order].astype(float)
    ends = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]  # last row of each tied score
    true_pos = np.cumsum(truth)[ends]
    false_pos = ends + 1 - true_pos
    positives, negatives = truth.sum(), truth.size - truth.sum()
    if positives == 0 or negatives == 0:
        return None
    fpr, tpr = np.r_[0.0, false_pos / negatives], np.r_[0.0, true_pos / positives]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def roc(predictions: pd.DataFrame) -> go.Figure:
    """ROC curve of the test set: of the second class for two classes, one-vs-rest per class for more."""
    classes = proba_classes(predictions)
    shown = classes[1:] if len(classes) == 2 else classes
    truth = predictions["y_true"].astype(str).to_numpy()
    fig = go.Figure()
    for i, label in enumerate(shown):
        points = roc_points(truth == label, predictions[f"{PROBA_PREFIX}{label}"].to_numpy(dtype=float))
        if points is None:
            continue
        fpr, tpr, area = points
        name = f"{label} (AUC {area:.3f})" if len(classes) == 2 else f"{label} vs rest (AUC {area:.3f})"
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=name, line={"color": PALETTE[i % len(PALETTE)]},
                                 hovertemplate="false positives %{x:.1%}, true positives %{y:.1%}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", hoverinfo="skip",
                             line={"color": MUTED, "dash": "dash", "width": 1}))
    fig.update_layout(title="ROC curve on the test set", xaxis={"title": "false-positive rate", "range": [0, 1]},
                      yaxis={"title": "true-positive rate", "range": [0, 1.02]}, legend=_LEGEND)
    return fig


# --- test set: regression ---------------------------------------------------------------------------------


def predicted_vs_actual(predictions: pd.DataFrame, target: str) -> go.Figure:
    """Each test row's prediction against its true value, with the line of perfect predictions."""
    truth, guess = predictions["y_true"].astype(float), predictions["y_pred"].astype(float)
    fig = go.Figure(go.Scattergl(x=truth, y=guess, mode="markers", name="test rows", opacity=0.6,
                                 marker={"color": BAR, "size": 6},
                                 hovertemplate="true %{x:,.4g}, predicted %{y:,.4g}<extra></extra>"))
    if len(truth):
        low, high = float(min(truth.min(), guess.min())), float(max(truth.max(), guess.max()))
        fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect", hoverinfo="skip",
                                 line={"color": MUTED, "dash": "dash"}))
    fig.update_layout(title=f"Predicted vs true {target} on the test set", xaxis_title=f"true {target}",
                      yaxis_title=f"predicted {target}", legend=_LEGEND)
    return fig


def residuals(predictions: pd.DataFrame, target: str) -> go.Figure:
    """Errors (true − predicted) against the prediction: a pattern or a funnel means the model misses something."""
    truth, guess = predictions["y_true"].astype(float), predictions["y_pred"].astype(float)
    fig = go.Figure(go.Scattergl(x=guess, y=truth - guess, mode="markers", opacity=0.6, name="test rows",
                                 marker={"color": BAR, "size": 6},
                                 hovertemplate="predicted %{x:,.4g}, error %{y:+,.4g}<extra></extra>"))
    fig.add_hline(y=0.0, line={"color": MUTED, "dash": "dash"})
    fig.update_layout(title="Residuals on the test set (true − predicted)", xaxis_title=f"predicted {target}",
                      yaxis_title="residual", showlegend=False)
    return fig


# --- predictions ----------------------------------------------------------------------------------------------


def probabilities(row: pd.Series) -> go.Figure:
    """One prediction's class probabilities (``proba_<class>`` values), the most likely class highlighted."""
    labels = [str(k)[len(PROBA_PREFIX):] for k in row.index]
    values = row.to_numpy(dtype=float)
    colours = [CHOSEN if v == values.max() else BAR for v in values]
    fig = go.Figure(go.Bar(y=labels, x=values, orientation="h", marker_color=colours,
                           text=[f"{v:.1%}" for v in values], textposition="auto",
                           hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_layout(title="Class probabilities", xaxis={"title": "probability", "range": [0, 1]},
                      yaxis={"autorange": "reversed", "type": "category"}, height=_height(len(labels), per_bar=30))
    return fig


def drift(report: pd.DataFrame, moderate: float, major: float) -> go.Figure:
    """PSI per input column against training, coloured by level, with the two thresholds drawn."""
    shown = report.dropna(subset=["psi"]).sort_values("psi", ascending=False)
    colours = [BAD if p >= major else WARN if p >= moderate else GOOD for p in shown["psi"]]
    fig = go.Figure(go.Bar(y=shown["column"].astype(str), x=shown["psi"], orientation="h", marker_color=colours,
                           customdata=shown["level"], hovertemplate="%{y}: PSI %{x:.3f} (%{customdata})"
                                                                    "<extra></extra>"))
    for value in (moderate, major):
        fig.add_vline(x=value, line={"color": MUTED, "dash": "dot"})
    fig.update_layout(title="Drift of this batch against the training data (population stability index)",
                      xaxis_title=f"PSI (dotted: moderate from {moderate:g}, major from {major:g})", yaxis={"autorange": "reversed", "type": "category"},
                      height=_height(len(shown)))
    return fig
