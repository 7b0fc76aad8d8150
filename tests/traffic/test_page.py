"""The Traffic & Autoscaling page in AppTest: bundled data, an upload in the reference format,
granularity, a small backtest (GBMs only), the replay, downloads, and bad uploads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support import ROOT
from tests.traffic.synthetic import daily_traffic

PAGE = "pages/1_traffic.py"
UPLOAD = "Upload CSV"


@pytest.fixture
def small_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Baselines and one LightGBM: the page's flow without minutes of training (the defaults live in
    core.traffic.config; the widgets read them at call time)."""
    from dataclasses import replace

    from core.traffic import config

    monkeypatch.setattr(config, "DEFAULTS", replace(config.DEFAULTS, models=("seasonal_naive", "naive", "lightgbm")))


def reference_csv(days: int = 3, *, seed: int = 1) -> bytes:
    """The reference system's format: timestamp, requests_count, is_burst, is_event (5-minute rows)."""
    frame = daily_traffic(days=days, seed=seed).rename(columns={"request_count": "requests_count"})
    frame["is_burst"] = 0
    frame["is_event"] = 0
    frame.loc[100:102, "is_event"] = 1  # a marked event, as the reference system's files carry
    return frame.to_csv(index=False).encode()


def _page() -> AppTest:
    # Run as a page of the app (Home.py is the entry script), as `streamlit run Home.py` serves it:
    # the menu's page links are resolved against the entry script.
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=300)
    at.switch_page(PAGE)
    return at.run()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="traffic_source").set_value(UPLOAD).run()
    at.file_uploader(key="traffic_upload").set_value((name, data, "text/csv")).run()
    return at


def _downloads(at: AppTest) -> set[str]:
    return {d.key for d in at.get("download_button")}


def test_page_opens_on_the_bundled_nasa_traffic_without_training() -> None:
    at = _page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Traffic & Autoscaling"
    assert [t.label for t in at.tabs] == ["Overview", "Forecast", "Autoscaling"]
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Mean per interval", "Peak per interval", "p95 per interval", "Busiest hour"}
    assert metrics["Peak per interval"] == "1,501"
    assert at.radio(key="traffic_freq").options == ["5m", "15m", "1h"]
    assert {c.key for c in at.get("plotly_chart")} == {"traffic_fig_requests", "traffic_fig_heatmap",
                                                       "traffic_fig_status", "traffic_fig_bytes"}
    assert any("no data (kept missing, not zero)" in i.value for i in at.info)
    assert any("burst = count > median" in c.value for c in at.caption)
    assert any("Run backtest" in i.value for i in at.info)  # nothing trains on page load
    assert "traffic_dl_series" in _downloads(at)


def test_upload_granularity_backtest_replay_and_downloads(small_models) -> None:  # type: ignore[no-untyped-def]
    at = _upload(_page(), "reference.csv", reference_csv())
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.radio(key="traffic_freq").value == "5m"
    burst_caption = next(c.value for c in at.caption if "bursts marked" in c.value)
    assert "3 intervals with is_event set in the file" in burst_caption  # the file's own markers are shown
    assert "0 intervals with is_burst set in the file" in burst_caption
    mean_5m = float(next(m.value for m in at.metric if m.label == "Mean per interval").replace(",", ""))
    at.radio(key="traffic_freq").set_value("15m").run()
    assert not at.exception, at.exception
    mean_15m = float(next(m.value for m in at.metric if m.label == "Mean per interval").replace(",", ""))
    assert mean_15m == pytest.approx(3 * mean_5m, rel=0.01)  # sums, not means
    at.radio(key="traffic_freq").set_value("5m").run()

    at.button(key="traffic_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    board = at.dataframe[0].value
    assert "seasonal_naive (baseline)" in set(board["model"]) and "ensemble" in set(board["model"])
    assert {"MAE", "RMSE", "sMAPE %", "MASE", "80% coverage"} <= set(board.columns)
    charts = {c.key for c in at.get("plotly_chart")}
    assert {"traffic_fig_requests", "traffic_fig_heatmap", "traffic_fig_leaderboard", "traffic_fig_forecast",
            "traffic_fig_error_hour", "traffic_fig_capacity", "traffic_fig_cost", "traffic_fig_frontier"} == charts

    # A chart option redraws from the stored result: no Run button, no retraining.
    at.multiselect(key="traffic_chart_models").set_value(["lightgbm"]).run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == "traffic_run"]

    policies = next(d.value for d in at.dataframe if "policy" in d.value.columns)
    assert list(policies["policy"]) == ["static", "reactive", "predictive", "predictive+reactive", "oracle"]
    # The oracle follows the exact cheapest fleet path: no policy costs less.
    assert (policies["cost / oracle"] >= 1 - 1e-9).all()
    assert {"traffic_dl_series", "traffic_dl_leaderboard", "traffic_dl_predictions", "traffic_dl_policies",
            "traffic_dl_frontier", "traffic_dl_decisions"} <= _downloads(at)

    # Changing the policy parameters replays without retraining.
    at.number_input(key="traffic_p_capacity_per_server").set_value(100.0)
    at.button(key="FormSubmitter:traffic_policy_form-Apply parameters").click().run()
    assert not at.exception, at.exception
    cheaper = next(d.value for d in at.dataframe if "policy" in d.value.columns)
    assert cheaper.set_index("policy").loc["static", "server-hours"] < policies.set_index("policy").loc[
        "static", "server-hours"]

    # A longer boot delay needs forecasts further ahead: the backtest asks to be re-run, then the replay returns.
    at.number_input(key="traffic_p_boot_delay").set_value(3)
    at.button(key="FormSubmitter:traffic_policy_form-Apply parameters").click().run()
    assert not at.exception, at.exception
    assert any("issued 3 interval(s) ahead" in i.value for i in at.info)
    at.button(key="traffic_run").click().run()
    assert not at.exception, at.exception
    assert any("issued 3 interval(s) ahead" in c.value for c in at.caption)

    # Forward steps stop inside the short history's calibration window (a quarter of its span, ~18 h).
    assert at.slider(key="traffic_forward_steps").max == 214

    at.button(key="traffic_forward_hour").click().run()
    assert not at.exception, at.exception
    assert any(m.label == "Servers at the peak" for m in at.metric)
    assert any("servers boot in 3 intervals" in m.value for m in at.markdown)
    assert "traffic_dl_next_hour" in _downloads(at)


def test_a_failing_service_call_shows_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.errors import InputError
    from core.traffic import service

    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise InputError("not enough history before the test start")

    monkeypatch.setattr(service, "backtest", refuse)
    at = _page()
    at.button(key="traffic_run").click().run()
    assert not at.exception, at.exception
    assert any("not enough history" in e.value for e in at.error)
    assert not [d for d in at.dataframe if "policy" in d.value.columns]  # nothing half-shown


def test_bad_policy_parameters_show_an_error(small_models) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    at.number_input(key="traffic_p_min_servers").set_value(0)
    at.button(key="FormSubmitter:traffic_policy_form-Apply parameters").click().run()
    assert not at.exception, at.exception
    assert any("min servers must be at least 1" in e.value for e in at.error)


def _constant() -> bytes:
    index = pd.date_range("2024-01-01", periods=400, freq="5min")
    return pd.DataFrame({"timestamp": index.astype(str), "requests": np.full(400, 7)}).to_csv(index=False).encode()


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("one_row.csv", b"timestamp,requests\n2024-01-01 00:00,5\n", "1 data row"),
    ("header_only.csv", b"timestamp,requests\n", ""),
    ("binary.csv", bytes(range(256)) * 8, ""),
    ("no_count.csv", b"timestamp,host\n2024-01-01 00:00,a\n2024-01-01 00:05,b\n2024-01-01 00:10,c\n"
                     b"2024-01-01 00:15,d\n", "no request-count column"),
])
def test_bad_uploads_show_an_error(name: str, data: bytes, expected: str) -> None:
    at = _upload(_page(), name, data)
    assert not at.exception, at.exception
    assert at.error, f"{name}: no error shown"
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    assert not at.metric  # nothing half-loaded


def test_the_count_column_can_be_picked_but_not_the_timestamp() -> None:
    data = b"when,hits,other\n" + b"".join(f"2024-01-01 00:{5 * i:02d},{i},{100 + i}\n".encode() for i in range(10))
    at = _upload(_page(), "picked.csv", data)
    assert next(m.value for m in at.metric if m.label == "Peak per interval") == "9"
    at.selectbox(key="traffic_value_col").set_value("other").run()
    assert next(m.value for m in at.metric if m.label == "Peak per interval") == "109"
    at.selectbox(key="traffic_value_col").set_value("when").run()
    assert not at.exception, at.exception
    assert any("is the timestamp column" in e.value for e in at.error)


def test_a_constant_series_loads_with_a_note() -> None:
    at = _upload(_page(), "constant.csv", _constant())
    assert not at.exception, at.exception
    assert any("constant" in i.value for i in at.info)
    assert next(m.value for m in at.metric if m.label == "Peak per interval") == "7"


def test_home_status_line_names_the_bundled_data_and_the_last_backtest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.config import get_settings
    from core.traffic.overview import record_backtest, status_line

    settings = get_settings({"HEADROOM_STATE_DIR": str(tmp_path)})
    line = status_line(settings, None)  # type: ignore[arg-type]  # the engine is not needed
    assert line == "bundled NASA traffic: 17,856 × 5 min, 1995-07-01 → 1995-08-31; no backtest run yet"
    record_backtest(settings, {"source": "nasa_http_5m.csv", "freq": "5min", "best_model": "ensemble", "rmse": 40.04,
                               "baseline_rmse": 92.49})
    assert status_line(settings, None).endswith(  # type: ignore[arg-type]
        "last backtest: nasa_http_5m.csv at 5min, best ensemble RMSE 40.0 (seasonal naive 92.5)")
