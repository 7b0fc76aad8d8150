"""Plotly figures for Energy Device Health: pure builders, testable by their traces."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core.energy.views import DeviceView

STATUS_COLORS = {"grey": "#b0b7c3", "red": "#d64545", "green": "#2e9e5b"}
_STATUS_CODE = {"grey": 0, "red": 1, "green": 2}
# Under the title, above the plot: below it, a horizontal legend hides the x axis's date line.
LEGEND_ON_TOP = {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0}


def history_figure(view: DeviceView) -> go.Figure:
    """The last 24 h of readings, the forecasts made for them, and the next-hour forecast with
    its interval, on the device's local clock."""
    fig = go.Figure()
    hist = view.history
    fig.add_trace(go.Scatter(x=hist["ts_local"].dt.tz_localize(None), y=hist["value"], mode="lines+markers",
                             name="reading", line={"color": "#2563eb"}))
    if not view.past_forecasts.empty:
        fig.add_trace(go.Scatter(x=view.past_forecasts["ts_local"].dt.tz_localize(None),
                                 y=view.past_forecasts["y_pred"], mode="lines", name="forecast made an hour before",
                                 line={"color": "#9ca3af", "dash": "dot"}))
    nxt = view.next_forecast
    if nxt is not None:
        x = nxt["ts_local"].tz_localize(None)
        if not hist.empty:
            fig.add_trace(go.Scatter(x=[hist["ts_local"].iloc[-1].tz_localize(None), x],
                                     y=[hist["value"].iloc[-1], nxt["y_pred"]], mode="lines", showlegend=False,
                                     line={"color": "#16a34a", "dash": "dash"}, hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=[x], y=[nxt["y_pred"]], mode="markers", name="next hour",
            marker={"color": "#16a34a", "size": 11},
            error_y={"type": "data", "symmetric": False, "array": [nxt["upper"] - nxt["y_pred"]],
                     "arrayminus": [nxt["y_pred"] - nxt["lower"]], "color": "#16a34a"},
            hovertemplate=f"%{{y:.2f}} kW (interval {nxt['lower']:.2f}–{nxt['upper']:.2f})<br>model {nxt['model_id']}"
                          "<extra></extra>"))
    fig.update_layout(title=f"{view.name}: last 24 h and next hour ({view.timezone} time)",
                      xaxis_title=f"local time ({view.timezone})", yaxis_title="load (kW)",
                      height=380, margin={"l": 10, "r": 10, "t": 80, "b": 10}, legend=LEGEND_ON_TOP)
    return fig


def backtest_figure(predictions: pd.DataFrame, meter: str) -> go.Figure:
    """One meter's held-out hours of a metered backtest: actual load, the next-hour forecast and
    same hour yesterday, on the file's own wall clock."""
    mine = predictions[predictions["meter"] == meter].sort_values("time")
    zone = str(mine["time"].dt.tz) if len(mine) and mine["time"].dt.tz is not None else "UTC"
    x = mine["time"].dt.tz_localize(None) if len(mine) and mine["time"].dt.tz is not None else mine["time"]
    fig = go.Figure()
    for column, name, line in (("actual", "actual", {"color": "#2563eb"}),
                               ("forecast", "next-hour forecast", {"color": "#16a34a"}),
                               ("yesterday", "same hour yesterday", {"color": "#9ca3af", "dash": "dot"})):
        fig.add_trace(go.Scatter(x=x, y=mine[column], mode="lines", name=name, line=line,
                                 hovertemplate="%{x|%a %d %b %H:%M}: %{y:.3f}<extra>" + name + "</extra>"))
    fig.update_layout(title=f"{meter}: held-out hours, actual vs next-hour forecast and same hour yesterday",
                      xaxis_title=f"local time ({zone})", yaxis_title="load (hourly mean, the file's unit)",
                      height=400, margin={"l": 10, "r": 10, "t": 80, "b": 10},
                      legend=LEGEND_ON_TOP)
    return fig


def health_grid_figure(grid: pd.DataFrame) -> go.Figure:
    """Devices × days coloured green/red/grey, metrics on hover."""
    devices = list(dict.fromkeys(grid["device"]))
    days = sorted(grid["day"].unique())
    table = grid.set_index(["device", "day"])
    z, text = [], []
    for device in devices:
        z_row, t_row = [], []
        for day in days:
            r = table.loc[(device, day)]
            z_row.append(_STATUS_CODE[r["status"]])
            t_row.append(_hover(device, day, r))
        z.append(z_row)
        text.append(t_row)
    scale = [[0.0, STATUS_COLORS["grey"]], [0.333, STATUS_COLORS["grey"]], [0.334, STATUS_COLORS["red"]],
             [0.666, STATUS_COLORS["red"]], [0.667, STATUS_COLORS["green"]], [1.0, STATUS_COLORS["green"]]]
    fig = go.Figure(go.Heatmap(z=z, x=days, y=devices, zmin=0, zmax=2, colorscale=scale, showscale=False,
                               text=text, hovertemplate="%{text}<extra></extra>", xgap=3, ygap=3))
    fig.update_layout(title="Model health per device and UTC day", height=120 + 36 * len(devices),
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, yaxis={"autorange": "reversed"})
    return fig


def _hover(device: str, day: str, r: pd.Series) -> str:
    if r["n_scored"] == 0:
        return f"{device}, {day}: no scored hours"

    def f(v: object, fmt: str = ".3f") -> str:
        return "–" if v is None or pd.isna(v) else format(v, fmt)

    return (f"{device}, {day}: <b>{r['status']}</b><br>RMSE {f(r['rmse'])} (baseline {f(r['baseline_rmse'])})"
            f"<br>RMSE ratio {f(r['rmse_ratio'])}<br>MAPE {f(r['mape'], '.1%')}<br>bias {f(r['bias'])}"
            f"<br>{r['n_scored']} scored hours · model {r['model_id']}")
