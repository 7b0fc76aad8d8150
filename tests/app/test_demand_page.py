"""The Cloud Demand & Capacity page in AppTest, on a small slice of the generated data (two regions,
the last 400 days) and two fast models, so a backtest and a plan take seconds, not minutes.

The user's story: open the page, run a backtest, switch strategy, override a series, edit the
capacity, make a 30-day plan, read the recommendations and download the plan; bad input is shown
as an error and loses nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support import app_page

PAGE = "pages/2_demand.py"
FAST_MODELS = ["seasonal_naive", "theta"]


@pytest.fixture(scope="module")
def small_data():  # type: ignore[no-untyped-def]
    from core.demand import service

    data = service.generate("daily")
    keep = data.region_names[:2]
    panel = data.panel[data.panel["region"].isin(keep)]
    panel = panel[panel["ds"] > panel["ds"].max() - pd.Timedelta(days=400)].reset_index(drop=True)

    def only(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["region"].isin(keep)].reset_index(drop=True)

    return dataclasses.replace(data, panel=panel, regions=only(data.regions), capacity=only(data.capacity),
                               launches=only(data.launches), source="small slice")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, small_data) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A store of its own (backtests are stored and reused by fingerprint), the small data as the
    bundled default, and empty caches: stores and st.cache_data are shared by the whole process."""
    import streamlit as st

    from core.demand import service
    from core.ui.result_store import result_store

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demand.db'}")
    monkeypatch.setenv("HEADROOM_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HEADROOM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(service, "load_default", lambda settings=None: small_data)
    st.cache_data.clear()
    result_store.clear()
    yield
    st.cache_data.clear()
    result_store.clear()


def _page() -> AppTest:
    at = app_page(PAGE, timeout=300).run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _run_backtest(at: AppTest) -> AppTest:
    at.multiselect(key="demand_models").set_value(FAST_MODELS).run()
    at.button(key="demand_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def _formats(frame) -> dict[str, str]:  # type: ignore[no-untyped-def]
    columns = json.loads(frame.proto.columns or "{}")
    return {name: spec.get("type_config", {}).get("format", "") for name, spec in columns.items()}


def test_the_page_opens_on_the_bundled_data_without_training() -> None:
    at = _page()
    assert at.title[0].value == "Cloud Demand & Capacity"
    assert [t.label for t in at.tabs] == ["Analytics", "Forecast & model choice", "Capacity plan"]
    metrics = _metrics(at)
    assert metrics["Regions"] == "2" and metrics["Series"] == "6"
    assert metrics["Forecast accuracy"] == "–" and metrics["Regions at risk"] == "–"
    assert metrics["Capacity cost per month"].startswith("$")
    infos = " ".join(i.value for i in at.info)
    assert "Run backtest" in infos  # nothing trains until asked
    assert "Run the backtest in **Forecast & model choice** first" in infos  # the plan says what it needs
    assert len(at.get("plotly_chart")) >= 6  # three trends, correlations, weekly, yearly, growth
    assert not at.error


def test_backtest_choice_override_capacity_plan_and_download() -> None:
    at = _run_backtest(_page())
    metrics = _metrics(at)
    assert metrics["Forecast accuracy"].endswith("%")
    assert float(metrics["MASE of the choice"]) > 0
    strategy = next(s for s in at.selectbox if s.label == "Forecast with")
    assert strategy.value in ("per_series", "global", "ensemble")

    # Another strategy, then one series forced onto seasonal naive: no refit, instant.
    other = next(s for s in ("global", "per_series", "ensemble") if s != strategy.value)
    strategy.set_value(other).run()
    assert not at.exception, at.exception
    series = at.selectbox(key="demand_override_series").options[0]
    at.selectbox(key="demand_override_series").set_value(series.replace(" · ", "/"))
    at.selectbox(key="demand_override_model").set_value("seasonal_naive")
    at.button(key="demand_override_apply").click().run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("Overridden:") and "Seasonal naive" in c.value for c in at.caption)
    assert next(s for s in at.selectbox if s.label == "Forecast with").value == other

    # A what-if capacity: the second row (Brazil South storage) gets a tenth of what it needs, so the
    # plan must call it high risk and order the difference.
    at.session_state["demand_capacity"] = {"edited_rows": {1: {"capacity": 50.0}}, "added_rows": [],
                                           "deleted_rows": []}
    at.radio(key="demand_plan_horizon").set_value(30)
    at.run()
    at.button(key="demand_plan_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert len(badges) == 6  # one recommendation per series
    assert all(b.startswith(":red-badge[High risk]") for b in badges[:1])  # the most urgent first
    starved = next(b for b in badges if "Brazil South Storage used" in b)
    assert starved.startswith(":red-badge[High risk]") and "order +" in starved, starved
    plan_shown = next(d for d in at.dataframe if "capacity needed" in d.value.columns).value
    row = plan_shown[(plan_shown["region"] == "Brazil South") & (plan_shown["metric"] == "Storage used")]
    assert float(row["capacity"].iloc[0]) == 50.0  # the edited table, not the data's
    metrics = _metrics(at)
    assert int(metrics["Regions at risk"]) >= 1
    assert metrics["Cost per month after the plan"].startswith("$")
    assert any("should be exceeded about 5.0% of the time" in m.value for m in at.markdown)

    plan = at.download_button(key="demand_dl_plan")
    assert plan.label == "Download demand_plan.csv" and not plan.proto.disabled
    downloads = {d.key for d in at.download_button}
    assert {"demand_dl_leaderboard", "demand_dl_strategies", "demand_dl_predictions", "demand_dl_n1",
            "demand_dl_breaches", "demand_dl_paths", "demand_dl_capacity"} <= downloads
    shown = next(d for d in at.dataframe if "peak utilisation" in d.value.columns)
    assert _formats(shown)["peak utilisation"] == "%.1f%%"


def test_a_rerun_with_the_same_settings_reuses_the_stored_backtest_and_a_bad_capacity_edit_loses_nothing() -> None:
    at = _run_backtest(_page())
    from core.ui.result_store import result_store

    result_store.clear()  # a new process: only the model store remembers the backtest
    at2 = _run_backtest(_page())
    assert any("Loaded from the store" in c.value for c in at2.caption)
    assert not at.exception

    # A bad capacity edit (on this page, its backtest loaded from the store) is an error and loses nothing.
    at2.session_state["demand_capacity"] = {"edited_rows": {1: {"capacity": -5.0}}, "added_rows": [],
                                            "deleted_rows": []}
    at2.run()
    assert not at2.exception, at2.exception
    errors = [e.value for e in at2.error]
    assert len(errors) == 1 and "The capacity table was not applied" in errors[0], errors
    assert "negative" in errors[0].lower() or "-5" in errors[0], errors
    # The backtest is still there: its leaderboard and the strategy select are still shown.
    assert any(s.label == "Forecast with" for s in at2.selectbox)
    assert _metrics(at2)["Forecast accuracy"].endswith("%")


def test_an_upload_in_the_wide_layout_is_read_and_a_bad_one_is_named() -> None:
    at = _page()
    at.radio(key="demand_source").set_value("Upload a CSV").run()
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    wide = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "France": range(100, 220), "Germany": range(200, 320)})
    at.file_uploader(key="demand_upload").set_value(("regions.csv", wide.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    assert _metrics(at)["Regions"] == "2"

    duplicated = b"date,region,metric,value\n2024-01-01,France,cpu,10\n2024-01-01,France,cpu,11\n2024-01-02,France,cpu,12\n"
    at.file_uploader(key="demand_upload").set_value(("twice.csv", duplicated, "text/csv"))
    at.run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert errors and "twice.csv" in errors[0] and "twice" in errors[0], errors
