import numpy as np
import pandas as pd

from core.energy.config import energy_config
from core.energy.features import build_panel
from core.energy.generator import DeviceSpec, generate_frame
from core.energy.models import LightGBMForecaster, SeasonalNaive, best_by_validation, time_split, train_models


def simulated_panel(days: int = 35, n: int = 3):  # type: ignore[no-untyped-def]
    zones = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"]
    profiles = ["residential", "commercial", "industrial"]
    specs = [DeviceSpec(i + 1, zones[i % 3], 2.0 + 3 * i, profiles[i % 3], 10 + i) for i in range(n)]
    start = pd.Timestamp("2026-04-01", tz="UTC")
    readings = generate_frame(specs, start, start + pd.Timedelta(days=days))
    devices = pd.DataFrame([s.__dict__ for s in specs])
    return build_panel(readings, devices)


def test_split_is_time_ordered() -> None:
    panel = simulated_panel()
    split = time_split(panel, 0.2)
    assert split.train[1].max() < split.validation[1].min()
    assert set(split.train[0]) == set(split.validation[0]) == {0, 1, 2}


def test_lightgbm_beats_same_hour_yesterday_on_held_out_hours() -> None:
    panel = simulated_panel()
    trained = train_models(panel, ("lightgbm", "seasonal-naive"), energy_config())
    by_name = {t.algorithm: t for t in trained}
    assert by_name["seasonal-naive"].metrics["rmse_ratio"] == 1.0
    assert by_name["lightgbm"].metrics["rmse_ratio"] < 0.8
    assert by_name["lightgbm"].metrics["n_validation"] == by_name["seasonal-naive"].metrics["n_validation"]
    assert best_by_validation(trained).algorithm == "lightgbm"
    model = by_name["lightgbm"].model
    assert isinstance(model, LightGBMForecaster)
    lo, hi = model.interval
    assert lo < 0 < hi
    d, h = np.array([0, 1]), np.array([panel.values.shape[1] - 1] * 2)
    point, lower, upper = model.predict(panel, d, h)
    assert (lower <= point).all() and (point <= upper).all()


def test_seasonal_naive_is_same_hour_yesterday() -> None:
    panel = simulated_panel(days=10)
    d, h = np.array([0, 2]), np.array([200, 220])
    assert np.array_equal(SeasonalNaive().predict_point(panel, d, h), panel.values[d, h - 24])
