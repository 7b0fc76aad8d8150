"""The service calls the page makes, beside the rules they share with it (config) and Home's status line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.config import get_settings
from core.energy import service, views
from core.energy.config import (
    ALGORITHMS,
    BASE_LOAD_MAX_KW,
    BASE_LOAD_MIN_KW,
    PAGE,
    PROFILES,
    TIMEZONES,
)
from core.energy.health import HealthMetrics
from core.energy.overview import status_line
from core.errors import InputError
from core.io import read_csv
from tests.energy.conftest import NOW, EnergyEnv
from tests.energy.test_cli import _metered_csv


def test_page_defaults_sit_inside_the_rules_the_service_enforces() -> None:
    assert BASE_LOAD_MIN_KW <= PAGE.base_load_default_kw <= BASE_LOAD_MAX_KW
    assert PAGE.advance_hours_min <= PAGE.advance_hours_default <= PAGE.advance_hours_max
    assert set(PAGE.default_algorithms) <= set(ALGORITHMS)
    assert PAGE.backtest_timezone in TIMEZONES
    assert PAGE.refresh_min_seconds > 0 and PAGE.max_grid_devices > 0


def test_device_edits_are_validated_against_the_same_limits(env: EnergyEnv) -> None:
    service.ensure_seeded(env.engine, env.config, now=NOW)
    for base_load in (BASE_LOAD_MIN_KW / 2, BASE_LOAD_MAX_KW * 2, float("nan")):
        with pytest.raises(InputError, match="base load"):
            service.add_device(env.engine, "Edge", "UTC", base_load, PROFILES[0], history_days=0, config=env.config)
    device_id = service.add_device(env.engine, "Edge", "UTC", BASE_LOAD_MAX_KW, PROFILES[0], history_days=0,
                                   config=env.config)
    with pytest.raises(InputError, match="already exists"):
        service.edit_device(env.engine, device_id, name="Device A", timezone="UTC", base_load=1.0, profile="industrial")
    service.edit_device(env.engine, device_id, name="Edge 2", timezone="Asia/Tokyo", base_load=7.5, profile="industrial")
    edited = next(d for d in views.devices(env.engine) if d.device_id == device_id)
    assert (edited.name, edited.timezone, edited.base_load, edited.profile) == ("Edge 2", "Asia/Tokyo", 7.5, "industrial")
    assert edited.label == "Edge 2 (Asia/Tokyo, industrial)"


def test_training_refuses_unknown_or_no_algorithms(env: EnergyEnv) -> None:
    with pytest.raises(InputError, match="unknown algorithm 'prophet'"):
        service.train_and_register(env.engine, env.registry, ("lightgbm", "prophet"), config=env.config)
    with pytest.raises(InputError, match="at least one"):
        service.train_and_register(env.engine, env.registry, (), config=env.config)


def test_status_line_counts_devices(env: EnergyEnv, tmp_path: Path) -> None:
    settings = get_settings({"HEADROOM_MODEL_DIR": str(tmp_path / "models")})
    assert status_line(settings, env.engine).startswith("not started yet")
    service.ensure_seeded(env.engine, env.config, now=NOW)
    line = status_line(settings, env.engine)
    assert line.startswith("2 device(s), simulated up to 2026-03-10 09:00 UTC") and "no health yet" in line


def test_metered_backtest_is_one_call_with_a_typed_result(tmp_path: Path) -> None:
    frame = read_csv(_metered_csv(tmp_path / "meters.csv"))
    result = service.metered_backtest(frame, time_col="DateTime", value_col="KWH", device_col="LCLid",
                                      timezone="Europe/London", file="meters.csv")
    assert isinstance(result.overall, HealthMetrics) and result.overall.n_scored > 100
    assert list(result.per_device["device"]) == ["MAC001", "MAC002"]
    assert any("were skipped" in note for note in result.notes)
    assert result.report["per_device"][0]["device"] == "MAC001" and result.report["notes"] == list(result.notes)
    guessed = service.guess_metered_columns(frame)
    assert (guessed.time, guessed.meter) == ("DateTime", "LCLid")
    with pytest.raises(InputError, match="meters.csv"):
        service.metered_backtest(frame.head(0), file="meters.csv")


def test_retrain_compares_with_the_deployed_model_on_the_same_held_out_hours(env: EnergyEnv) -> None:
    """Regression: a retrain deployed its own best (ratio 0.422 on 762 hours) over the deployed model
    (0.201, scored at its own training on 508 hours). Now the deployed model is re-scored on the
    new candidates' window, and only a better candidate replaces it."""
    service.ensure_seeded(env.engine, env.config, now=NOW)
    first = service.retrain(env.engine, env.registry, ("lightgbm",), config=env.config)
    incumbent = env.registry.deployed("energy", "next-hour")
    assert incumbent is not None and incumbent.model_id == first.deployed
    service.add_device(env.engine, "Device C", "Asia/Tokyo", 30.0, "industrial", config=env.config)

    second = service.retrain(env.engine, env.registry, ("seasonal-naive",), config=env.config)

    table = second.comparison.table
    assert set(table["model_id"]) == {incumbent.model_id, second.records[0].model_id}
    assert table["hours"].nunique() == 1 and table["hours"].iloc[0] == second.comparison.hours
    assert second.comparison.hours > incumbent.metrics["n_validation"]  # three devices now, not two
    winner = table.loc[table["winner"], "model_id"].tolist()
    assert winner == [incumbent.model_id]  # LightGBM beats same-hour-yesterday on the same hours
    assert env.registry.deployed("energy", "next-hour").model_id == incumbent.model_id == second.deployed
    assert second.records[0].metrics["n_validation"] == second.comparison.hours
    # The page reads the same comparison back from the registry.
    stored = views.last_comparison(env.registry)
    assert stored is not None and stored.hours == second.comparison.hours
    assert stored.table[["model_id", "winner"]].equals(table[["model_id", "winner"]])


def test_metered_backtest_carries_the_held_out_predictions(tmp_path: Path) -> None:
    frame = read_csv(_metered_csv(tmp_path / "meters.csv"))
    result = service.metered_backtest(frame, time_col="DateTime", value_col="KWH", device_col="LCLid",
                                      timezone="Europe/London", file="meters.csv")
    p = result.predictions
    assert list(p.columns) == ["time", "meter", "actual", "forecast", "yesterday"]
    assert set(p["meter"]) == {"MAC001", "MAC002"}
    assert len(p.dropna()) == result.overall.n_scored
    assert str(p["time"].dt.tz) == "Europe/London"
    starts = result.per_device.set_index("device")["test_start"]
    for meter, group in p.groupby("meter"):
        assert group["time"].min() >= pd.Timestamp(starts[meter])  # held-out hours only
        assert group["time"].is_monotonic_increasing


def test_lag_says_ahead_or_behind_instead_of_a_sign() -> None:
    assert views.lag_text(-48.0) == "48 h ahead"  # after "Advance 48 h": the simulation runs ahead
    assert views.lag_text(-2.04) == "2.0 h ahead"
    assert views.lag_text(2.0) == "2.0 h behind"
    assert views.lag_text(0.01) == "on time"
    assert views.lag_text(None) == "–"
