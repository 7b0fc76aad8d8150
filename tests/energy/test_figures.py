import pandas as pd

from core.energy.views import DeviceView
from core.ui.energy_figures import health_grid_figure, history_figure


def test_history_figure_shows_readings_past_forecasts_and_next_hour_interval_in_local_time() -> None:
    ts = pd.date_range("2026-06-01 00:00", periods=24, freq="h", tz="UTC")
    local = ts.tz_convert("Europe/Berlin")
    view = DeviceView(
        "Device B", "Europe/Berlin",
        history=pd.DataFrame({"ts_local": local, "ts_utc": ts, "value": range(24)}),
        past_forecasts=pd.DataFrame({"ts_local": local, "y_pred": range(24), "model_id": "m"}),
        next_forecast={"ts_local": local[-1] + pd.Timedelta(hours=1), "y_pred": 30.0, "lower": 25.0, "upper": 36.0,
                       "model_id": "m"},
    )
    fig = history_figure(view)
    names = [t.name for t in fig.data]
    assert names[0] == "reading" and "next hour" in names
    assert str(fig.data[0].x[0]).startswith("2026-06-01T02:00")  # 00:00 UTC is 02:00 in Berlin (CEST)
    nxt = fig.data[names.index("next hour")]
    assert list(nxt.error_y.array) == [6.0] and list(nxt.error_y.arrayminus) == [5.0]


def test_health_grid_colours_and_hover() -> None:
    grid = pd.DataFrame({
        "device_id": [1, 1, 2, 2], "device": ["A", "A", "B", "B"], "day": ["d1", "d2", "d1", "d2"],
        "status": ["green", "red", "grey", "green"], "model_id": ["m"] * 4, "n_scored": [24, 24, 0, 24],
        "rmse": [1.0, 3.0, None, 1.0], "mape": [0.1, 0.5, None, 0.1], "bias": [0.0, 1.0, None, 0.0],
        "baseline_rmse": [2.0, 2.0, None, 2.0], "rmse_ratio": [0.5, 1.5, None, 0.5],
    })
    heat = health_grid_figure(grid).data[0]
    assert [list(r) for r in heat.z] == [[2, 1], [0, 2]]
    assert "RMSE ratio 1.500" in heat.text[0][1] and "no scored hours" in heat.text[1][0]
