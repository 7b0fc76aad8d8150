"""The energy page in AppTest: one simulator per process, selector, chart, grid, admin controls."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.energy.simulator import THREAD_NAME, running_simulators
from tests.support import app_page

PAGE = "pages/3_energy.py"


@pytest.fixture(autouse=True)
def _small_and_clean(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from core.ui import energy_widgets

    # A database of its own: the browser test's `streamlit run` process may hold the shared one's lease.
    root = tmp_path_factory.getbasetemp() / "energy-page"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{root / 'page.db'}")
    monkeypatch.setenv("HEADROOM_MODEL_DIR", str(root / "models"))
    monkeypatch.setenv("HEADROOM_ENERGY_SEED_HISTORY_DAYS", "21")
    monkeypatch.setenv("HEADROOM_ENERGY_TRAIN_DAYS", "21")
    monkeypatch.setenv("HEADROOM_ENERGY_SEED_FORECAST_DAYS", "3")
    energy_widgets._simulator.clear()
    yield
    for sim in running_simulators():
        sim.stop()
    energy_widgets._simulator.clear()


def _page() -> AppTest:
    # Run as a page of the app (Home.py is the entry script), as `streamlit run Home.py` serves it:
    # the menu's page links are resolved against the entry script.
    at = app_page(PAGE, timeout=120).run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _assert_mape_is_a_percentage(at: AppTest) -> int:
    """Every MAPE column on the page is shown as a percentage with one decimal (12.0%, not 0.12):
    values scaled to percent and a "%" format; returns how many columns."""
    seen = 0
    for df in at.dataframe:
        config = json.loads(df.proto.columns or "{}")
        for column in df.value.columns:
            if "mape" in str(column).lower():
                seen += 1
                assert config.get(column, {}).get("type_config", {}).get("format") == "%.1f%%", (column, config)
                values = df.value[column].dropna()
                assert values.empty or values.abs().max() > 1 or (values == 0).all(), values  # percent, not fractions
    return seen


def _downloads(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_two_sessions_share_one_simulator_thread() -> None:
    first, second = _page(), _page()
    assert [t.name for t in threading.enumerate()].count(THREAD_NAME) == 1
    assert len(running_simulators()) == 1
    for at in (first, second):
        assert at.metric[0].value == "alive"


def test_selector_chart_grid_and_status() -> None:
    at = _page()
    assert at.title[0].value == "Energy Device Health"
    selector = at.selectbox(key="energy-device")
    assert len(selector.options) >= 2 and any("America/New_York" in o for o in selector.options)
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # history + next hour, and the health grid
    assert "Simulated time (UTC)" in [m.label for m in at.metric]
    selector.select_index(1).run()
    assert not at.exception
    assert at.selectbox(key="energy-device").index == 1
    assert len(at.get("plotly_chart")) == 2


def test_admin_add_advance_retrain_deploy() -> None:
    at = _page()
    before = len(at.selectbox(key="energy-device").options)
    at.text_input(key="energy-add-name").input("Test Lab")
    at.selectbox(key="energy-add-tz").select("Asia/Tokyo")
    _button(at, "Add device").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.selectbox(key="energy-device").options) == before + 1

    from core.energy.service import sim_time
    from core.ui.resources import get_engine

    clock_before = sim_time(get_engine())
    at.number_input(key="energy-advance-hours").set_value(3)
    _button(at, "Advance").click().run()
    assert not at.exception
    assert sim_time(get_engine()) == clock_before + pd.Timedelta(hours=3)
    assert any(m.label == "Ticks / errors" for m in at.metric)

    models_before = len(at.selectbox(key="energy-deploy-choice").options)
    _button(at, "Retrain").click().run()
    assert not at.exception and not at.error
    # The candidates and the model deployed before them: chosen on earlier held-out hours, scored on later ones.
    said = [c.value for c in at.caption] + [m.value for m in at.markdown]
    assert any(re.search(r"choice was made on the earlier ones, from .* the later [\d,]+ hours .*from .* to ", t)
               for t in said), said
    comparison = next(df.value for df in at.dataframe if "chosen" in df.value.columns)
    assert len(comparison) == 3  # LightGBM, the baseline, and the model deployed before the retrain
    assert comparison["chosen"].tolist().count("✓") == 1
    assert comparison["scored hours"].nunique() == 1 and comparison["MAE when chosen"].notna().all()
    assert _assert_mape_is_a_percentage(at) >= 2  # the comparison and the model versions
    choice = at.selectbox(key="energy-deploy-choice")
    assert len(choice.options) == models_before + 2  # LightGBM and the baseline
    choice.select_index(len(choice.options) - 1).run()
    chosen = choice.value
    _button(at, "Deploy").click().run()
    assert not at.exception and not at.error
    from core.ui.resources import get_registry

    assert chosen.split(" ")[0] == get_registry().deployed("energy", "next-hour").model_id


def _upload(at: AppTest, path) -> AppTest:  # type: ignore[no-untyped-def]
    at.file_uploader(key="energy-backtest-upload").set_value((path.name, path.read_bytes(), "text/csv")).run()
    assert not at.exception, at.exception
    return at


def test_backtest_tab_scores_an_uploaded_metered_csv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.energy.test_cli import _metered_csv

    at = _upload(_page(), _metered_csv(tmp_path / "meters.csv"))
    at.selectbox(key="energy-bt-time").select("DateTime")
    at.selectbox(key="energy-bt-value").select("KWH")
    at.selectbox(key="energy-bt-device").select("LCLid")
    at.selectbox(key="energy-bt-tz").select("Europe/London")
    _button(at, "Run backtest").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    result = next(df.value for df in at.dataframe if "meter" in df.value.columns)
    assert list(result["meter"]) == ["MAC001", "MAC002"]
    assert any("RMSE ratio vs same hour yesterday" in m.value for m in at.markdown)
    assert any("were skipped" in i.value for i in at.info)  # the 'n/a' cells are reported, not hidden
    # A chart of the held-out hours beside the numbers, with the predictions to download.
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # history, health grid, backtest
    backtest_chart = json.loads(charts[-1].proto.spec)
    assert [t["name"] for t in backtest_chart["data"]] == ["actual", "next-hour forecast", "same hour yesterday"]
    assert "MAC001" in backtest_chart["layout"]["title"]["text"]
    at.selectbox(key="energy-bt-meter").select("MAC002").run()
    assert "MAC002" in json.loads(at.get("plotly_chart")[-1].proto.spec)["layout"]["title"]["text"]
    assert any("predictions" in label for label in _downloads(at))
    assert _assert_mape_is_a_percentage(at) >= 1


def test_backtest_tab_survives_a_constant_meter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stamps = pd.date_range("2022-01-01", periods=24 * 30, freq="h").strftime("%Y-%m-%d %H:%M")
    path = tmp_path / "flat.csv"
    pd.DataFrame({"time": stamps, "kwh": 1.0}).to_csv(path, index=False)
    at = _upload(_page(), path)
    at.selectbox(key="energy-bt-time").select("time")
    at.selectbox(key="energy-bt-value").select("kwh")
    _button(at, "Run backtest").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("n/a (same hour yesterday was exact)" in m.value for m in at.markdown)


def test_status_cards_say_ahead_and_put_no_arrows_on_text() -> None:
    """Regression: after "Advance 48 h" the lag card read "-48 h", and text such as "writing", the
    mode and the date sat under green up-arrows as if they were changes of a number."""
    at = _page()
    assert [m.label for m in at.metric if m.proto.delta] == []  # no delta (and no arrow) on any card
    captions = [c.value for c in at.caption]
    assert any("writing" in c for c in captions) and any("real time" in c or "per minute" in c for c in captions)
    at.number_input(key="energy-advance-hours").set_value(48)
    _button(at, "Advance").click().run()
    assert not at.exception and not at.error
    lag = next(m for m in at.metric if m.label == "Lag")
    assert re.fullmatch(r"\d+ h ahead", lag.value), lag.value
    assert "ahead" in lag.proto.help.lower() and "behind" in lag.proto.help.lower()
    assert [m.label for m in at.metric if m.proto.delta] == []
    assert _assert_mape_is_a_percentage(at) >= 1  # the device's health table


def _edit_widget(widgets, field: str):  # type: ignore[no-untyped-def]
    """The one edit-form widget for ``field``, whatever device suffix its key carries."""
    found = [w for w in widgets if w.key is not None and w.key.startswith(f"energy-edit-{field}")]
    assert len(found) == 1, [w.key for w in found]
    return found[0]


def test_edit_form_follows_the_selected_device() -> None:
    """Regression: after switching Device A -> Device B the edit form showed B's title over A's
    values, and Save wrote A's name and base load onto B."""
    from core.energy.service import list_devices
    from core.ui.resources import get_engine

    at = _page()
    devices = list_devices(get_engine()).set_index("name")
    a, b = devices.loc["Device A"], devices.loc["Device B"]
    at.selectbox(key="energy-device").select(int(a["device_id"])).run()
    assert _edit_widget(at.text_input, "name").value == "Device A"
    at.checkbox[0].check().run()  # "Yes, remove Device A …": must not carry over to Device B

    at.selectbox(key="energy-device").select(int(b["device_id"])).run()
    assert not at.exception
    assert at.checkbox[0].label.startswith("Yes, remove Device B") and not at.checkbox[0].value
    assert any(m.value.startswith("**Edit Device B**") for m in at.markdown)
    assert _edit_widget(at.text_input, "name").value == "Device B"
    assert _edit_widget(at.selectbox, "tz").value == b["timezone"] == "Europe/Berlin"
    assert _edit_widget(at.number_input, "base").value == pytest.approx(b["base_load"])
    assert _edit_widget(at.selectbox, "profile").value == b["profile"]

    _edit_widget(at.number_input, "base").set_value(13.5)
    _button(at, "Save changes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    after = list_devices(get_engine()).set_index("device_id")
    assert after.loc[int(b["device_id"]), "name"] == "Device B"
    assert after.loc[int(b["device_id"]), "base_load"] == pytest.approx(13.5)
    assert after.loc[int(b["device_id"]), "timezone"] == "Europe/Berlin"
    assert after.loc[int(a["device_id"]), ["name", "timezone", "profile"]].tolist() == \
        ["Device A", a["timezone"], a["profile"]]
    assert after.loc[int(a["device_id"]), "base_load"] == pytest.approx(a["base_load"])
