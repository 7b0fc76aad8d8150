"""Plotly figure builders for Cloud Demand & Capacity: pure functions of the service's frames (no Streamlit).

Every region keeps one colour across the page's charts (``region_colours``), so a reader follows
"France Central" from the trends to the profiles without reading legends again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")
ACTUAL = "#222222"
BASELINE = "#9e9e9e"
CHOSEN = "#1f77b4"
PLAN = "#d62728"
CAPACITY = "#2ca02c"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LEGEND = {"orientation": "h", "y": -0.2}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def region_colours(regions: Sequence[str]) -> dict[str, str]:
    """One colour per region, in the data's region order."""
    return {str(r): PALETTE[i % len(PALETTE)] for i, r in enumerate(regions)}


def _x(values: pd.Series | pd.Index) -> np.ndarray:
    """Times as naive datetimes (an aware hourly series is drawn in UTC, as the axis title says)."""
    stamps = pd.DatetimeIndex(values)
    return (stamps.tz_convert("UTC").tz_localize(None) if stamps.tz is not None else stamps).to_numpy()


def _when(stamp: object) -> str:
    """A time as plotly reads it in shapes and annotations (a numpy datetime64 is not)."""
    value = pd.Timestamp(stamp)  # type: ignore[arg-type]
    if value.tzinfo is not None:
        value = value.tz_convert("UTC").tz_localize(None)
    return value.isoformat()


def _axis_unit(unit: str) -> str:
    return f" ({unit})" if unit else ""


def trends(frame: pd.DataFrame, metric: str, *, label: str, unit: str, colours: Mapping[str, str]) -> go.Figure:
    """Daily values of one metric, one faint line per region, with its trailing-mean trend drawn over it."""
    fig = go.Figure()
    rows = frame[frame["metric"] == metric]
    for region, part in rows.groupby("region", sort=False):
        colour = colours.get(str(region), PALETTE[0])
        fig.add_trace(go.Scatter(x=_x(part["day"]), y=part["y"].to_numpy(), mode="lines", name=str(region),
                                 legendgroup=str(region), showlegend=False, connectgaps=False,
                                 line={"color": _rgba(colour, 0.3), "width": 1}, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=_x(part["day"]), y=part["trend"].to_numpy(), mode="lines", name=str(region),
                                 legendgroup=str(region), line={"color": colour, "width": 2},
                                 hovertemplate=f"{region}<br>%{{x|%d %b %Y}}: %{{y:,.1f}} {unit}<extra>trend</extra>"))
    fig.update_layout(title=f"{label}: daily values (faint) and their 28-day trend", xaxis_title="day",
                      yaxis_title=f"{label}{_axis_unit(unit)}", legend=_LEGEND, hovermode="closest")
    return fig


def correlation_heatmap(corr: pd.DataFrame, label: str) -> go.Figure:
    """Region × region correlation of day-to-day surprises (−1 … 1)."""
    z = corr.to_numpy(dtype=float).copy()
    if z.shape[0] == z.shape[1]:
        np.fill_diagonal(z, np.nan)  # a region with itself is 1 and says nothing: left blank
    text = [[("" if np.isnan(v) else f"{v:.2f}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[str(c) for c in corr.columns], y=[str(i) for i in corr.index],
                               zmin=-1, zmax=1, colorscale="RdBu", reversescale=True, text=text,
                               texttemplate="%{text}", colorbar={"title": "corr."},
                               hovertemplate="%{y} and %{x}: %{z:.2f}<extra></extra>"))
    fig.update_layout(title=f"{label}: how regions rise and fall together (daily surprises, trend and weekday "
                            f"shape removed)", yaxis={"autorange": "reversed"}, height=460)
    return fig


def weekday_profile(frame: pd.DataFrame, metric: str, *, label: str, colours: Mapping[str, str]) -> go.Figure:
    """Each region's mean per weekday relative to an average day (1.0)."""
    fig = go.Figure()
    rows = frame[frame["metric"] == metric].sort_values("weekday")
    for region, part in rows.groupby("region", sort=False):
        fig.add_trace(go.Scatter(x=part["weekday_name"], y=part["relative"], mode="lines+markers", name=str(region),
                                 line={"color": colours.get(str(region), PALETTE[0])},
                                 hovertemplate=f"{region} %{{x}}: %{{y:.2f}} × an average day<extra></extra>"))
    fig.add_hline(y=1.0, line={"color": BASELINE, "dash": "dot", "width": 1})
    fig.update_layout(title=f"{label}: weekly shape (1.0 = an average day)",
                      yaxis_title="× an average day (local time)", legend=_LEGEND)
    return fig


def yearly_profile(frame: pd.DataFrame, metric: str, *, label: str, colours: Mapping[str, str]) -> go.Figure:
    """Each region's mean per calendar month relative to its trend (1.0 = an average month)."""
    fig = go.Figure()
    rows = frame[frame["metric"] == metric].sort_values("month")
    for region, part in rows.groupby("region", sort=False):
        fig.add_trace(go.Scatter(x=[MONTHS[int(m) - 1] for m in part["month"]], y=part["relative"],
                                 mode="lines+markers", name=str(region),
                                 line={"color": colours.get(str(region), PALETTE[0])},
                                 hovertemplate=f"{region} %{{x}}: %{{y:.2f}} × an average month<extra></extra>"))
    fig.add_hline(y=1.0, line={"color": BASELINE, "dash": "dot", "width": 1})
    fig.update_layout(title=f"{label}: yearly shape (1.0 = an average month)",
                      yaxis_title="× an average month (growth removed)", legend=_LEGEND)
    return fig


def growth_bars(frame: pd.DataFrame, *, labels: Mapping[str, str], colours: Mapping[str, str]) -> go.Figure:
    """Compound growth per year of each series, grouped by metric, one bar colour per region."""
    fig = go.Figure()
    metrics = list(dict.fromkeys(frame["metric"]))
    for region, part in frame.groupby("region", sort=False):
        part = part.set_index("metric").reindex(metrics)
        fig.add_trace(go.Bar(x=[labels.get(m, m) for m in metrics], y=part["growth_per_year_pct"], name=str(region),
                             marker_color=colours.get(str(region), PALETTE[0]),
                             hovertemplate=f"{region} %{{x}}: %{{y:+.1f}} % a year<extra></extra>"))
    fig.update_layout(barmode="group", title="Growth per year (fitted on the last year of daily values)",
                      yaxis_title="% per year", legend=_LEGEND)
    return fig


def backtest_forecast(history: pd.Series, rows: pd.DataFrame, *, test_start: pd.Timestamp, title: str,
                      yaxis_title: str, chosen_label: str, level: float = 0.95) -> go.Figure:
    """Actual values, the chosen forecast on the evaluation windows with its interval band, and seasonal naive
    beside it; a line marks where the scored windows begin."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=_x(history.index), y=history.to_numpy(), mode="lines", name="actual",
                             line={"color": ACTUAL, "width": 1.2}, connectgaps=False))
    if not rows.empty:
        x = _x(rows["ds"])
        fig.add_trace(go.Scatter(x=x, y=rows["chosen_hi"].to_numpy(), mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip", name="upper", connectgaps=False))
        fig.add_trace(go.Scatter(x=x, y=rows["chosen_lo"].to_numpy(), mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=_rgba(CHOSEN, 0.18), name=f"{level:.0%} interval",
                                 hoverinfo="skip", connectgaps=False))
        fig.add_trace(go.Scatter(x=x, y=rows["seasonal_naive"].to_numpy(), mode="lines", name="seasonal naive",
                                 line={"color": BASELINE, "width": 1, "dash": "dot"}))
        fig.add_trace(go.Scatter(x=x, y=rows["chosen"].to_numpy(), mode="lines", name=f"forecast ({chosen_label})",
                                 line={"color": CHOSEN, "width": 1.6}))
    start = _when(test_start)
    fig.add_shape(type="line", x0=start, x1=start, y0=0, y1=1, yref="paper",
                  line={"color": BASELINE, "dash": "dash", "width": 1})
    fig.add_annotation(x=start, y=1, yref="paper", text="scored from here", showarrow=False, xanchor="left",
                       yanchor="bottom")
    fig.update_layout(title=title, xaxis_title="time", yaxis_title=yaxis_title, legend=_LEGEND,
                      hovermode="x unified")
    return fig


def accuracy_history(frame: pd.DataFrame) -> go.Figure:
    """Every stored backtest's mean MASE of the choice beside seasonal naive's, oldest first."""
    fig = go.Figure()
    runs = frame.reset_index(drop=True)
    # One category per run, oldest first: runs are minutes or months apart, a time axis would crowd or stretch.
    stamps = pd.to_datetime(runs["created_at"], utc=True)
    x = [f"#{i + 1} · {t:%d %b %H:%M}" for i, t in enumerate(stamps)]
    hover = [f"{r.source or 'data'} · {r.strategy} · horizon {r.horizon} · data {r.fingerprint}"
             for r in runs.itertuples()]
    fig.add_trace(go.Scatter(x=x, y=runs["baseline_mase"], mode="lines+markers", name="seasonal naive",
                             line={"color": BASELINE, "dash": "dot"}, text=hover,
                             hovertemplate="%{text}<br>seasonal naive MASE %{y:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=runs["chosen_mase"], mode="lines+markers", name="the choice",
                             line={"color": CHOSEN}, text=hover,
                             hovertemplate="%{text}<br>chosen MASE %{y:.3f}<extra></extra>"))
    fig.update_layout(title="Accuracy over stored backtests (mean MASE on the evaluation windows, lower is better)",
                      xaxis_title="stored backtest (UTC)", yaxis_title="MASE", legend=_LEGEND,
                      xaxis={"type": "category"})
    fig.update_yaxes(rangemode="tozero")
    return fig


def plan_paths(history: pd.Series, path: pd.DataFrame, *, capacity: float | None, headroom: float, title: str,
               unit: str, label: str, plan_label: str, order_by: pd.Timestamp | None = None) -> go.Figure:
    """Recent actual demand, the forecast ahead (median, the plan's quantile and the 95 % band), installed
    capacity and the level where the plan's headroom runs out; the order-by date when capacity is short."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=_x(history.index), y=history.to_numpy(), mode="lines", name="actual",
                             line={"color": ACTUAL, "width": 1.2}, connectgaps=False))
    x = _x(path["ds"])
    fig.add_trace(go.Scatter(x=x, y=path["hi"].to_numpy(), mode="lines", line={"width": 0}, showlegend=False,
                             hoverinfo="skip", name="upper"))
    fig.add_trace(go.Scatter(x=x, y=path["lo"].to_numpy(), mode="lines", line={"width": 0}, fill="tonexty",
                             fillcolor=_rgba(CHOSEN, 0.15), name="95 % band", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=path["p50"].to_numpy(), mode="lines", name="median forecast (P50)",
                             line={"color": CHOSEN, "width": 1.5}))
    fig.add_trace(go.Scatter(x=x, y=path["plan"].to_numpy(), mode="lines", name=f"planned demand ({plan_label})",
                             line={"color": PLAN, "width": 1.5, "dash": "dash"}))
    if capacity is not None and np.isfinite(capacity):
        fig.add_hline(y=capacity, line={"color": CAPACITY, "width": 2},
                      annotation_text=f"installed capacity {capacity:,.4g} {unit}", annotation_position="top left")
        limit = capacity / (1 + headroom)
        if headroom > 0:
            fig.add_hline(y=limit, line={"color": CAPACITY, "width": 1, "dash": "dot"},
                          annotation_text=f"capacity less {headroom:.0%} headroom", annotation_position="bottom left")
    if order_by is not None and pd.notna(order_by) and len(path):
        # An order date already past (the lead time is longer than the time left) is drawn at the plan's start.
        late = pd.Timestamp(order_by) < pd.Timestamp(path["ds"].iloc[0])
        at = _when(path["ds"].iloc[0] if late else order_by)
        fig.add_shape(type="line", x0=at, x1=at, y0=0, y1=1, yref="paper", line={"color": PLAN, "width": 1})
        fig.add_annotation(x=at, y=1, yref="paper", text="order now (lead time)" if late else "order by",
                           showarrow=False, xanchor="left", yanchor="bottom", font={"color": PLAN})
    fig.update_layout(title=title, xaxis_title="time", yaxis_title=f"{label}{_axis_unit(unit)}", legend=_LEGEND,
                      hovermode="x unified")
    return fig


__all__ = ["accuracy_history", "backtest_forecast", "correlation_heatmap", "growth_bars", "plan_paths",
           "region_colours", "trends", "weekday_profile", "yearly_profile"]
