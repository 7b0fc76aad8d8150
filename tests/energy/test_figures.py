import pandas as pd

from core.energy.views import DeviceView
from core.ui.energy_figures import backtest_figure, health_grid_figure, history_figure


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


def test_backtest_figure_shows_actual_forecast_and_yesterday_of_one_meter() -> None:
    time = pd.date_range("2022-01-25", periods=48, freq="h", tz="Europe/London")
    predictions = pd.concat([
        pd.DataFrame({"time": time, "meter": meter, "actual": scale * 1.0, "forecast": scale * 1.1,
                      "yesterday": scale * 0.8})
        for meter, scale in (("MAC001", 1.0), ("MAC002", 2.0))], ignore_index=True)
    fig = backtest_figure(predictions, "MAC002")
    assert [t.name for t in fig.data] == ["actual", "next-hour forecast", "same hour yesterday"]
    assert [float(t.y[0]) for t in fig.data] == [2.0, 2.2, 1.6]  # MAC002's values only
    assert all(len(t.x) == 48 for t in fig.data)
    assert str(fig.data[0].x[0]).startswith("2022-01-25T00:00")  # the meter's own wall clock
    assert "MAC002" in fig.layout.title.text and "Europe/London" in fig.layout.xaxis.title.text
