"""Plotly figure builders for Job Runtime & Memory: pure functions of data frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.jobs.history import TARGETS

_LABEL = {"runtime": "runtime (s)", "memory": "peak memory (MB)"}


def predicted_vs_actual(predictions: pd.DataFrame, target: str, algorithm: str) -> go.Figure:
    """Held-out predicted vs actual on log-log axes, one colour per stage, with the diagonal."""
    data = predictions[(predictions["target"] == target) & (predictions["algorithm"] == algorithm)]
    data = data.assign(actual=data["actual"].clip(lower=0.5), predicted=data["predicted"].clip(lower=0.5))
    fig = px.scatter(data, x="actual", y="predicted", color="stage", log_x=True, log_y=True, opacity=0.6,
                     hover_data=["platform", "block", "run_date"],
                     labels={"actual": f"actual {_LABEL[target]}", "predicted": f"predicted {_LABEL[target]}"},
                     title=f"{algorithm}: predicted vs actual {target} on held-out runs")
    if not data.empty:
        lo, hi = float(min(data["actual"].min(), data["predicted"].min())), float(
            max(data["actual"].max(), data["predicted"].max()))
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="exact",
                                 line={"color": "grey", "dash": "dash"}))
    return fig


def error_by_stage(stage_scores: pd.DataFrame, target: str, metric: str = "mape") -> go.Figure:
    """A held-out error metric per stage, one bar per algorithm."""
    data = stage_scores[stage_scores["target"] == target].sort_values("stage")
    return px.bar(data, x="stage", y=metric, color="algorithm", barmode="group",
                  title=f"{target}: {metric.upper()} by stage on held-out runs",
                  labels={metric: metric.upper().replace("_", " ")})


def distributions_by_stage(runs: pd.DataFrame, target: str) -> go.Figure:
    """Observed runtime or memory per stage (log axis)."""
    column = TARGETS[target]
    order = runs.groupby("stage")[column].median().sort_values().index.tolist()
    return px.box(runs, x="stage", y=column, log_y=True, category_orders={"stage": order}, points=False,
                  labels={column: _LABEL[target]}, title=f"{target} by stage")


def drift_over_time(runs: pd.DataFrame, target: str, *, top_stages: int = 8) -> go.Figure:
    """Monthly median per stage: tools change, and so do the resources a stage needs."""
    column = TARGETS[target]
    stages = runs["stage"].value_counts().head(top_stages).index
    data = runs[runs["stage"].isin(stages)].assign(month=runs["run_date"].dt.to_period("M").dt.to_timestamp())
    monthly = data.groupby(["month", "stage"], as_index=False)[column].median()
    return px.line(monthly, x="month", y=column, color="stage", log_y=True, markers=True,
                   labels={column: f"median {_LABEL[target]}"}, title=f"Drift: monthly median {target} per stage")


def cost_of_safety(curve: pd.DataFrame, target: str = "memory") -> go.Figure:
    """Under-prediction rate vs request quantile, with the median over-provision it costs."""
    data = curve[curve["target"] == target].copy()
    data["quantile_pct"] = (data["quantile"] * 100).round().astype(int).astype(str) + "%"
    fig = px.line(data, x="quantile_pct", y="under_rate", color="algorithm", markers=True,
                  hover_data={"over_provision": ":.2f"},
                  labels={"quantile_pct": "request quantile", "under_rate": "runs above the request"},
                  title=f"{target} requests: under-prediction rate vs quantile (held-out runs)")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(type="category")  # "90%", "95%", "99%": three requests, not a numeric axis
    for trace in fig.data:
        rows = data[data["algorithm"] == trace.name]
        trace.text = [f"{v:.2f}x" for v in rows["over_provision"].to_numpy(dtype=float)]
        trace.mode = "lines+markers+text"
        trace.textposition = "top center"
    return fig


def figure_count(fig: go.Figure) -> int:
    """Number of traces (used by tests to check a figure is not empty)."""
    return len(fig.data) if fig.data is not None else 0


__all__ = ["predicted_vs_actual", "error_by_stage", "distributions_by_stage", "drift_over_time", "cost_of_safety",
           "figure_count", "np"]
