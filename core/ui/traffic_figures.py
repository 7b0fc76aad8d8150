"""Plotly figure builders for Traffic & Autoscaling: pure functions of series and tables (no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

OUTAGE_COLOUR = "rgba(214, 39, 40, 0.18)"
BAND_ALPHA = 0.18
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
POLICY_COLOURS = {"static": "#7f7f7f", "reactive": "#d62728", "predictive": "#1f77b4",
                  "predictive+reactive": "#9467bd", "oracle": "#2ca02c"}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _x(index: pd.Index | pd.Series) -> np.ndarray:
    """Local wall-clock times as naive datetime64: plotly serialises tz-aware stamps ~50× slower,
    and the axes are labelled local time anyway."""
    stamps = pd.DatetimeIndex(index)
    return (stamps.tz_localize(None) if stamps.tz is not None else stamps).to_numpy()


# A browser draws a line of ~20k points without effort; a year of minutes (500k+) makes the page
# send tens of megabytes and the chart crawl. Longer series are drawn as min/max per bin.
MAX_LINE_POINTS = 20_000


def decimate(series: pd.Series, max_points: int = MAX_LINE_POINTS) -> tuple[pd.Series, int]:
    """``series`` thinned for drawing, and how many intervals each bin spans (1 = untouched).

    Each bin keeps its minimum and its maximum, in time order, so bursts and dips stay visible; a
    bin with no data stays NaN (an outage is still a gap, never a zero)."""
    n = len(series)
    if n <= max_points:
        return series, 1
    per_bin = int(np.ceil(n / (max_points // 2)))
    values = np.full(int(np.ceil(n / per_bin)) * per_bin, np.nan)
    values[:n] = series.to_numpy(dtype=float)
    rows = values.reshape(-1, per_bin)
    missing = np.isnan(rows)
    low = np.where(missing, np.inf, rows).argmin(axis=1)
    high = np.where(missing, -np.inf, rows).argmax(axis=1)
    base = np.arange(len(rows)) * per_bin
    picks = np.unique(np.concatenate([base + low, base + high]))
    picks = picks[picks < n]
    return pd.Series(values[picks], index=series.index[picks], name=series.name), per_bin


def _colour(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def requests_over_time(y: pd.Series, bursts: pd.Series | None = None, partial: pd.Series | None = None,
                       *, unit: str = "requests per interval", flags: pd.DataFrame | None = None) -> go.Figure:
    """Counts over time; intervals with no data shaded as outages (never drawn as zero), bursts and partial
    intervals marked, and the file's own marker columns (``flags``, e.g. is_event) where they are set."""
    fig = go.Figure()
    line, per_bin = decimate(y)
    fig.add_trace(go.Scatter(x=_x(line.index), y=line.to_numpy(), mode="lines", name="requests",
                             line={"width": 1, "color": _colour(0)}, connectgaps=False))
    missing = y.isna()
    if missing.any():
        top = float(np.nanmax(y.to_numpy(dtype=float))) if y.notna().any() else 1.0
        # One filled trace instead of one shape per outage: thousands of gaps stay cheap to draw.
        shade, _ = decimate(pd.Series(np.where(missing, top, np.nan), index=y.index))
        fig.add_trace(go.Scatter(x=_x(shade.index), y=shade.to_numpy(), mode="lines", fill="tozeroy", name="outage (no data)",
                                 line={"width": 0, "shape": "hv"}, fillcolor=OUTAGE_COLOUR, hoverinfo="skip",
                                 connectgaps=False))
    if partial is not None and partial.any():
        marks = y[partial.reindex(y.index, fill_value=False)]
        fig.add_trace(go.Scatter(x=_x(marks.index), y=marks.to_numpy(), mode="markers", name="partial interval (undercount)",
                                 marker={"symbol": "x", "size": 6, "color": "#ff7f0e"}))
    if bursts is not None and bursts.any():
        hits = y[bursts.reindex(y.index, fill_value=False)]
        fig.add_trace(go.Scatter(x=_x(hits.index), y=hits.to_numpy(), mode="markers", name="burst",
                                 marker={"symbol": "triangle-up", "size": 8, "color": "#d62728"}))
    markers = flags if flags is not None else pd.DataFrame(index=y.index)
    for i, column in enumerate(markers.columns):
        marked = y[markers[column].reindex(y.index).fillna(0).to_numpy() > 0]
        if not marked.empty:
            fig.add_trace(go.Scatter(x=_x(marked.index), y=marked.to_numpy(), mode="markers",
                                     name=f"{column} (from the file)",
                                     marker={"symbol": "diamond-open", "size": 9, "color": _colour(i + 3)}))
    title = "Requests over time" + (f" (each bin of {per_bin} intervals drawn as its min and max)" if per_bin > 1 else "")
    fig.update_layout(title=title, xaxis_title="local time", yaxis_title=unit,
                      legend={"orientation": "h", "y": -0.2}, hovermode="x unified")
    return fig


def hour_weekday_heatmap(table: pd.DataFrame) -> go.Figure:
    """Mean count per weekday (rows) and hour of day (columns), local time."""
    fig = go.Figure(go.Heatmap(z=table.to_numpy(dtype=float), x=[str(c) for c in table.columns],
                               y=list(table.index), colorscale="Viridis", colorbar={"title": "mean"},
                               hovertemplate="%{y} %{x}:00<br>mean %{z:.1f}<extra></extra>"))
    fig.update_layout(title="Mean requests by hour and weekday", xaxis_title="hour of day (local)",
                      yaxis={"autorange": "reversed"})
    return fig


def status_mix(extra: pd.DataFrame, columns: Sequence[str]) -> go.Figure:
    """Status-code counts as a stacked area (share of the total per interval)."""
    fig = go.Figure()
    # A stacked share needs the same times in every trace: thin by plain averaging over bins.
    frame = extra[list(columns)]
    if len(frame) > MAX_LINE_POINTS:
        per_bin = int(np.ceil(len(frame) / MAX_LINE_POINTS))
        frame = frame.groupby(np.arange(len(frame)) // per_bin).mean().set_index(frame.index[::per_bin])
    for i, column in enumerate(columns):
        fig.add_trace(go.Scatter(x=_x(frame.index), y=frame[column].to_numpy(), mode="lines", name=str(column),
                                 stackgroup="status", groupnorm="percent", line={"width": 0.5, "color": _colour(i)}))
    fig.update_layout(title="Status-code mix", yaxis_title="% of requests", xaxis_title="local time",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def bytes_over_time(extra: pd.DataFrame, column: str) -> go.Figure:
    """Bytes served per interval, in MB."""
    served, _ = decimate(extra[column].astype(float) / 1e6)
    fig = go.Figure(go.Scatter(x=_x(served.index), y=served.to_numpy(), mode="lines", name=str(column),
                               line={"width": 1, "color": _colour(2)}))
    fig.update_layout(title="Bytes served", yaxis_title="MB per interval", xaxis_title="local time")
    return fig


def actual_vs_predicted(predictions: pd.DataFrame, models: Sequence[str], *, interval: float = 0.8,
                        step: int = 1) -> go.Figure:
    """The actual series and each chosen model's forecast with its prediction interval band."""
    fig = go.Figure()
    if predictions.empty:
        return fig
    truth = predictions.drop_duplicates("timestamp").set_index("timestamp")["y_true"]
    fig.add_trace(go.Scatter(x=_x(truth.index), y=truth.to_numpy(), mode="lines", name="actual", line={"color": "black", "width": 1.2},
                             connectgaps=False))
    for i, model in enumerate(models):
        g = predictions[predictions["model"] == model]
        if g.empty:
            continue
        colour = _colour(i)
        fig.add_trace(go.Scatter(x=_x(g["timestamp"]), y=g["hi"].to_numpy(), mode="lines", line={"width": 0}, showlegend=False,
                                 hoverinfo="skip", name=f"{model} upper", legendgroup=model))
        fig.add_trace(go.Scatter(x=_x(g["timestamp"]), y=g["lo"].to_numpy(), mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=_rgba(colour, BAND_ALPHA), name=f"{model} {interval:.0%} interval",
                                 legendgroup=model, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=_x(g["timestamp"]), y=g["y_pred"].to_numpy(), mode="lines", name=model, legendgroup=model,
                                 line={"color": colour, "width": 1.2}))
    fig.update_layout(title=f"Actual vs predicted, {step} step(s) ahead", xaxis_title="local time",
                      yaxis_title="requests per interval", hovermode="x unified", legend={"orientation": "h", "y": -0.2})
    return fig


def error_by_hour(table: pd.DataFrame, models: Sequence[str] | None = None) -> go.Figure:
    """RMSE per hour of day, one line per model (rows = hour, columns = model)."""
    fig = go.Figure()
    for i, model in enumerate(models or list(table.columns)):
        if model in table.columns:
            fig.add_trace(go.Scatter(x=table.index, y=table[model], mode="lines+markers", name=str(model),
                                     line={"color": _colour(i)}))
    fig.update_layout(title="Error by hour of day (test window)", xaxis_title="hour of day (local)",
                      yaxis_title="RMSE", xaxis={"dtick": 2})
    return fig


def leaderboard_bar(board: pd.DataFrame, metric: str = "rmse") -> go.Figure:
    """One bar per model for ``metric``; baselines in grey."""
    colours = ["#9e9e9e" if b else _colour(0) for b in board["baseline"]]
    fig = go.Figure(go.Bar(x=board["model"], y=board[metric], marker_color=colours, name=metric,
                           text=[f"{v:.1f}" for v in board[metric]], textposition="outside"))
    fig.update_layout(title=f"{metric.upper()} on the test window (grey = baseline)", yaxis_title=metric.upper())
    return fig


def load_vs_capacity(load: pd.Series, serving: Mapping[str, pd.Series], capacity_per_server: float, *,
                     unit: str = "requests per interval") -> go.Figure:
    """One panel per policy: load and capacity (= serving servers × capacity per server) as a step line."""
    policies = list(serving)
    fig = make_subplots(rows=max(len(policies), 1), cols=1, shared_xaxes=True, subplot_titles=policies,
                        vertical_spacing=0.04)
    for row, policy in enumerate(policies, start=1):
        fig.add_trace(go.Scatter(x=_x(load.index), y=load.to_numpy(), mode="lines", name="load", legendgroup="load",
                                 showlegend=row == 1, line={"color": "black", "width": 1}), row=row, col=1)
        capacity = serving[policy] * capacity_per_server
        fig.add_trace(go.Scatter(x=_x(capacity.index), y=capacity.to_numpy(), mode="lines", name=f"{policy} capacity",
                                 line={"shape": "hv", "color": POLICY_COLOURS.get(policy, _colour(row)), "width": 1.4}),
                      row=row, col=1)
    fig.update_yaxes(title_text=unit, row=(len(policies) + 1) // 2, col=1)
    fig.update_layout(title="Load vs capacity per policy", height=max(300, 190 * len(policies)),
                      legend={"orientation": "h", "y": -0.08}, hovermode="x unified")
    return fig


def cost_bars(summary: pd.DataFrame) -> go.Figure:
    """Total cost per policy (servers + penalty stacked), annotated with savings vs reactive and gap to oracle."""
    policies = list(summary.index)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=policies, y=summary["cost_servers"], name="servers", marker_color="#1f77b4"))
    fig.add_trace(go.Bar(x=policies, y=summary["cost_penalty"], name="dropped-request penalty", marker_color="#d62728"))
    for policy in policies:
        row = summary.loc[policy]
        parts = []
        # Only a policy that meets the SLO and whose run is fair is compared (its savings are not bought with overloads).
        if row.get("problem", ""):
            parts.append("not ranked")
        elif not row.get("meets_slo", True):
            parts.append("misses the SLO")
        if policy != "reactive" and np.isfinite(row.get("savings_vs_reactive_pct", np.nan)):
            parts.append(f"{row['savings_vs_reactive_pct']:+.0f}% vs reactive")
        if policy != "oracle" and np.isfinite(row.get("cost_vs_oracle", np.nan)):
            parts.append(f"{row['cost_vs_oracle']:.2f}× oracle")
        fig.add_annotation(x=policy, y=float(row["cost_total"]), text=f"${row['cost_total']:.2f}<br>" + "<br>".join(parts),
                           showarrow=False, yshift=24 + 8 * len(parts))
    fig.update_layout(barmode="stack", title="Cost per policy on the test window",
                      yaxis_title="cost ($)", legend={"orientation": "h", "y": -0.2}, margin={"t": 110})
    return fig


def quantile_frontier(frontier: pd.DataFrame, chosen: float | None = None, *, slo: float | None = None,
                      calibration: pd.DataFrame | None = None) -> go.Figure:
    """Cost vs % overloaded intervals of the predictive policy across forecast quantiles on the test window, in
    hindsight (explanatory: the default quantile is not chosen here); beside it, when given, the same on the
    calibration window the quantile is chosen on. The chosen quantile and the SLO (a vertical line: quantiles left
    of it meet it) marked."""
    labels = [f"q{100 * q:g}" for q in frontier["quantile"]]
    fig = go.Figure(go.Scatter(x=frontier["overloaded_pct"], y=frontier["cost_total"], mode="lines+markers+text",
                               text=labels, textposition="top right",
                               name="test window, in hindsight" if calibration is not None else "predictive by quantile",
                               line={"color": POLICY_COLOURS["predictive"]}))
    if chosen is not None:
        hit = frontier[np.isclose(frontier["quantile"], chosen)]
        if not hit.empty:
            fig.add_trace(go.Scatter(x=hit["overloaded_pct"], y=hit["cost_total"], mode="markers",
                                     name=f"chosen q{100 * chosen:g}",
                                     marker={"symbol": "star", "size": 16, "color": "#ff7f0e"}))
    if calibration is not None and not calibration.empty:
        fig.add_trace(go.Scatter(x=calibration["overloaded_pct"], y=calibration["cost_total"], mode="lines+markers",
                                 text=[f"q{100 * q:g}" for q in calibration["quantile"]], yaxis="y2",
                                 name="calibration window (the quantile is chosen here)",
                                 line={"color": "#7f7f7f", "dash": "dot"},
                                 hovertemplate="%{text}: %{x:.2f}% overloaded, $%{y:,.2f}<extra>calibration</extra>"))
        fig.update_layout(yaxis2={"title": "calibration-window cost ($)", "overlaying": "y", "side": "right",
                                  "showgrid": False})
    if slo is not None:
        fig.add_vline(x=slo, line={"dash": "dash", "color": "#d62728", "width": 1},
                      annotation_text=f"SLO ≤ {slo:g}%", annotation_position="top")
    fig.update_layout(title="Cost vs overload across forecast quantiles, in hindsight on the test window",
                      xaxis_title="% of intervals overloaded", yaxis_title="total cost on the test window ($)",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def forward_forecast(history: pd.Series, forecast: pd.DataFrame, *, lo: str = "q0.1", hi: str = "q0.9") -> go.Figure:
    """Recent history, the point forecast past the end of the data, and a quantile band."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=_x(history.index), y=history.to_numpy(), mode="lines", name="history", line={"color": "black",
                                                                                            "width": 1}))
    if lo in forecast.columns and hi in forecast.columns:
        fig.add_trace(go.Scatter(x=_x(forecast.index), y=forecast[hi].to_numpy(), mode="lines", line={"width": 0}, showlegend=False,
                                 hoverinfo="skip", name=hi))
        fig.add_trace(go.Scatter(x=_x(forecast.index), y=forecast[lo].to_numpy(), mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=_rgba(_colour(0), 0.25), name=f"{lo[1:]}–{hi[1:]} quantile band"))
    fig.add_trace(go.Scatter(x=_x(forecast.index), y=forecast["y_pred"].to_numpy(), mode="lines", name="forecast",
                             line={"color": _colour(0), "width": 1.6}))
    fig.update_layout(title="Forward forecast", xaxis_title="local time", yaxis_title="requests per interval",
                      hovermode="x unified", legend={"orientation": "h", "y": -0.2})
    return fig
