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


@pytest.fixture(autouse=True)
def fresh_result_stores() -> None:
    """Each test starts with empty result stores: they are shared by every session of the process (that is
    the point), so one test's backtest would otherwise be another's cached result."""
    from core.ui.result_store import result_store

    result_store.clear()


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


def _formats(table) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Column -> the display format a shown table gives it."""
    import json

    columns = json.loads(table.proto.columns or "{}")
    return {name: spec.get("type_config", {}).get("format", "") for name, spec in columns.items()}


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
    # Local time, readably: not "1995-07-01 00:00:00-04:00".
    assert any("from Sat 1 Jul 1995 00:00 to Thu 31 Aug 1995 23:55 (UTC−04:00)" in c.value for c in at.caption)
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
    assert {"MAE", "RMSE", "sMAPE", "MASE", "80% coverage"} <= set(board.columns)
    # Non-members of the ensemble show a dash, not "None" (naive is always a member); every percentage has one format.
    weights = board.set_index("model")["ensemble weight"]
    assert weights["seasonal_naive (baseline)"] == "–" and weights["naive (baseline)"] != "–"
    assert 50 <= board["80% coverage"].min() and board["80% coverage"].max() <= 100
    formats = _formats(at.dataframe[0])
    assert formats["80% coverage"] == formats["sMAPE"] == "%.1f%%"
    charts = {c.key for c in at.get("plotly_chart")}
    assert {"traffic_fig_requests", "traffic_fig_heatmap", "traffic_fig_leaderboard", "traffic_fig_forecast",
            "traffic_fig_error_hour", "traffic_fig_capacity", "traffic_fig_cost", "traffic_fig_frontier"} == charts

    # A chart option redraws from the stored result: no Run button, no retraining.
    at.multiselect(key="traffic_chart_models").set_value(["lightgbm"]).run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == "traffic_run"]

    policies = next(d.value for d in at.dataframe if "policy" in d.value.columns)
    assert list(policies["policy"]) == ["static", "reactive", "predictive", "predictive+reactive", "oracle"]
    # The oracle follows the exact cheapest fleet path that meets the SLO: no policy that meets it costs less.
    ranked = policies.loc[policies["meets SLO"].astype(bool), "cost / oracle"]
    assert (ranked.str.rstrip("×").astype(float) >= 1 - 1e-3).all()
    assert (policies.loc[~policies["meets SLO"].astype(bool), "cost / oracle"] == "–").all()  # not "None"
    assert {"traffic_dl_series", "traffic_dl_leaderboard", "traffic_dl_predictions", "traffic_dl_policies",
            "traffic_dl_frontier", "traffic_dl_decisions"} <= _downloads(at)
    # The page names the window the default quantile was chosen on: the calibration days, before the test.
    chosen = next(c.value for c in at.caption if "quantile" in c.value and "chosen on" in c.value)
    assert "calibration window" in chosen and "before the test window" in chosen
    assert "in hindsight on the test window" in chosen

    # Capacity is per second and the boot in minutes; the form says what they are per interval.
    assert any("0.1667 req/s per server = 50 requests per 5-minute interval; a 10-minute boot = 2 intervals"
               in c.value for c in at.caption)
    # Changing the policy parameters replays without retraining.
    at.number_input(key="traffic_p_capacity_rps").set_value(1 / 3)
    at.button(key="FormSubmitter:traffic_policy_form-Apply parameters").click().run()
    assert not at.exception, at.exception
    cheaper = next(d.value for d in at.dataframe if "policy" in d.value.columns)
    assert cheaper.set_index("policy").loc["static", "server-hours"] < policies.set_index("policy").loc[
        "static", "server-hours"]

    # A longer boot delay needs forecasts further ahead: the backtest asks to be re-run, then the replay returns.
    at.number_input(key="traffic_p_boot_minutes").set_value(15.0)
    at.button(key="FormSubmitter:traffic_policy_form-Apply parameters").click().run()
    assert not at.exception, at.exception
    assert any("issued 3 intervals (15 min) ahead" in i.value for i in at.info)
    at.button(key="traffic_run").click().run()
    assert not at.exception, at.exception
    assert any("issued 3 intervals (15 min) ahead" in c.value for c in at.caption)

    # Forward steps stop inside the short history's calibration window (a quarter of its span, ~18 h).
    assert at.slider(key="traffic_forward_steps").max == 214

    at.button(key="traffic_forward_hour").click().run()
    assert not at.exception, at.exception
    assert any(m.label == "Needed at the peak" for m in at.metric)
    assert any("a 15-minute boot" in m.value for m in at.markdown)
    assert "traffic_dl_next_hour" in _downloads(at)


def test_the_bundled_traffic_at_one_hour_gives_sensible_advice_under_an_slo(small_models) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    at.radio(key="traffic_freq").set_value("1h").run()
    at.button(key="traffic_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.number_input(key="traffic_slo").value == 1.0
    assert any("0.1667 req/s per server = 600 requests per 1-hour interval; a 10-minute boot = 1 interval"
               in c.value for c in at.caption)
    policies = next(d.value for d in at.dataframe if "policy" in d.value.columns).set_index("policy")
    assert "meets SLO" in policies.columns
    assert policies.loc["oracle", "meets SLO"] and policies.loc["oracle", "intervals overloaded"] <= 1.0
    for policy in ("predictive", "oracle"):  # were 100% overloaded, 97.95% dropped at 50 requests per hour
        assert policies.loc[policy, "requests dropped"] < 1.0
    missed = policies.index[~policies["meets SLO"].astype(bool)]
    for policy in missed:
        assert any(f"{policy} misses the SLO" in w.value for w in at.warning)
    headline = next(m.value for m in at.markdown if "SLO" in m.value and "cheapest" in m.value)
    assert "≤ 1% of intervals overloaded" in headline
    at.button(key="traffic_forward_hour").click().run()
    assert not at.exception, at.exception
    advice = next(m.value for m in at.markdown if "Peak forecast" in m.value)
    assert "requests in the 1-hour interval" in advice and "req/s" in advice
    metrics = {m.label: str(m.value) for m in at.metric}
    assert int(metrics["Needed at the peak"].split()[0]) >= 2  # thousands of requests an hour need several servers
    assert all(metrics[label].endswith((" servers", " server")) for label in ("You run now", "Needed now",
                                                                            "Needed at the peak"))
    schedule = next(d.value for d in at.dataframe if "servers" in d.value.columns)
    quantile = next(c for c in schedule.columns if c.endswith("provisioned for"))
    assert list(schedule.columns) == ["timestamp", "point forecast", quantile, "servers"]
    assert quantile.startswith("q") and (schedule[quantile] >= schedule["point forecast"]).all()


def test_a_new_session_is_told_a_result_came_from_the_shared_cache_and_can_rerun_it(
        small_models, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from core.traffic import service

    calls: list[int] = []
    train = service.backtest
    monkeypatch.setattr(service, "backtest", lambda *a, **k: calls.append(1) or train(*a, **k))
    data = reference_csv(seed=11)
    first = _upload(_page(), "shared.csv", data)
    first.button(key="traffic_run").click().run()
    assert not first.exception, first.exception
    assert calls == [1]
    assert not any("shared cache" in c.value for c in first.caption)  # this session computed it
    assert [b for b in first.button if b.key == "traffic_rerun"]  # and may still run it again

    second = _upload(_page(), "shared.csv", data)  # another browser session, same data and settings
    assert not second.exception, second.exception
    assert calls == [1]  # nothing retrained...
    shared = next(c.value for c in second.caption if "shared cache" in c.value)
    assert "computed at" in shared and "for these data and settings" in shared  # ...and it says so
    second.button(key="traffic_rerun").click().run()
    assert not second.exception, second.exception
    assert calls == [1, 1]
    assert not any("shared cache" in c.value for c in second.caption)


def test_a_link_restores_granularity_slo_quantile_parameters_and_tab(small_models) -> None:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=300)
    at.switch_page(PAGE)
    at.query_params.update({"traffic_freq": "1h", "traffic_slo": "2.5", "traffic_quantile": "q95",
                            "traffic_tab": "Autoscaling", "capacity_rps": "0.5", "boot_minutes": "15"})
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.radio(key="traffic_freq").value == "1h"
    assert at.number_input(key="traffic_slo").value == 2.5
    assert at.number_input(key="traffic_p_capacity_rps").value == 0.5
    assert any("0.5 req/s per server = 1,800 requests per 1-hour interval; a 15-minute boot = 1 interval"
               in c.value for c in at.caption)
    assert at.session_state["traffic_tab"] == "Autoscaling"
    at.button(key="traffic_run").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="traffic_quantile").value == "95"
    assert any("SLO: ≤ 2.5% of intervals overloaded" in m.value for m in at.markdown)
    # Applying parameters puts them in the address, so the view can be shared as a link.
    at.number_input(key="traffic_p_max_servers").set_value(50)
    at.button(key="FormSubmitter:traffic_policy_form-Apply parameters").click().run()
    assert not at.exception, at.exception
    assert at.query_params["max_servers"] == ["50"] or at.query_params["max_servers"] == "50"
    assert at.query_params["capacity_rps"] in ("0.5", ["0.5"])


def test_a_broken_link_parameter_is_reported_and_the_defaults_used() -> None:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=300)
    at.switch_page(PAGE)
    at.query_params.update({"capacity_rps": "lots"})
    at.run()
    assert not at.exception, at.exception
    assert any("capacity_rps" in e.value and "not a number" in e.value for e in at.error)
    assert at.number_input(key="traffic_p_capacity_rps").value == pytest.approx(50 / 300)


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


def test_a_long_zero_run_is_shown_as_missing_with_an_override(small_models) -> None:  # type: ignore[no-untyped-def]
    frame = daily_traffic(days=8, seed=2)
    frame.loc[288 * 2:288 * 5 - 1, "request_count"] = 0  # three days of zeros: a log that stopped
    at = _upload(_page(), "gap.csv", frame.to_csv(index=False).encode())
    assert not at.exception, at.exception
    assert any("collection gap" in w.value and "treated as missing" in w.value for w in at.warning)
    # Said once, by the checkbox, not again as a data note of the overview.
    assert not [i.value for i in at.info if "zero" in i.value]
    assert any("864 with no data" in c.value for c in at.caption)
    at.checkbox(key="traffic_zero_runs_as_traffic").check().run()
    assert not at.exception, at.exception
    assert any("0 with no data" in c.value for c in at.caption)
    assert any("kept as traffic" in w.value for w in at.warning)
    assert not [i.value for i in at.info if "zero" in i.value]


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
