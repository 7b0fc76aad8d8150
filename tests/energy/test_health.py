import numpy as np
import pytest

from core.energy.config import energy_config
from core.energy.health import GREEN, GREY, RED, health_status, score_window


def test_rule_thresholds_and_grey() -> None:
    assert health_status(0.8, 0.5, 24) == GREEN  # ratio at the threshold
    assert health_status(1.5, 0.2, 24) == GREEN  # MAPE at the threshold
    assert health_status(0.81, 0.21, 24) == RED
    assert health_status(0.1, 0.01, 11) == GREY  # too few scored hours
    assert health_status(float("nan"), float("nan"), 24) == RED
    strict = energy_config(ratio_green=0.5, mape_green=0.05, min_scored_hours=6)
    assert health_status(0.6, 0.1, 6, strict) == RED
    assert health_status(0.5, 0.1, 6, strict) == GREEN


def test_hand_made_series() -> None:
    actual = np.array([10.0, 20.0] * 12)
    baseline = np.array([12.0, 18.0] * 12)  # yesterday: off by 2 every hour -> RMSE 2
    good = actual + np.array([1.0, -1.0] * 12)  # off by 1 -> RMSE 1, ratio 0.5
    m = score_window(actual, good, baseline)
    assert m.n_scored == 24
    assert m.rmse == pytest.approx(1.0)
    assert m.baseline_rmse == pytest.approx(2.0)
    assert m.rmse_ratio == pytest.approx(0.5)
    assert m.bias == pytest.approx(0.0)
    assert m.mape == pytest.approx((0.1 + 0.05) / 2)
    assert m.status == GREEN

    bad = actual * 1.5  # +50%: ratio (RMSE of 5/10 alternating) / 2 > 0.8 and MAPE 0.5
    m = score_window(actual, bad, baseline)
    assert m.rmse_ratio == pytest.approx(np.sqrt((25 + 100) / 2) / 2)
    assert m.mape == pytest.approx(0.5)
    assert m.bias == pytest.approx(7.5)
    assert m.status == RED


def test_only_hours_with_actual_forecast_and_baseline_are_scored() -> None:
    actual = np.array([10.0] * 20)
    pred = actual.copy()
    baseline = actual + 1
    baseline[:10] = np.nan
    m = score_window(actual, pred, baseline)
    assert m.n_scored == 10
    assert m.status == GREY


def test_mape_denominator_is_floored() -> None:
    actual = np.array([0.0, 10.0] * 12)
    pred = np.array([1.0, 10.0] * 12)
    m = score_window(actual, pred, actual + 1)
    # the zero hours divide by 10% of the mean load (0.5), not by 0
    assert m.mape == pytest.approx((1.0 / 0.5 + 0.0) / 2)


def test_grid_of_a_large_fleet_keeps_the_worst_devices_and_the_selected_one() -> None:
    import pandas as pd

    from core.energy.views import worst_devices

    rows = []
    for device in range(1, 101):
        for day in range(7):
            red = device % 10 == 0 and day < device // 10  # devices 10, 20, ... 100 have 1..7 red days
            rows.append({"device_id": device, "day": f"d{day}", "status": "red" if red else "green"})
    grid = pd.DataFrame(rows)
    shown = worst_devices(grid, 5, include=3)
    kept = set(shown["device_id"])
    assert len(kept) == 5 and 3 in kept
    assert {100, 90, 80, 70} <= kept  # the four reddest, then the selected device
    assert worst_devices(grid, 200) is grid
