import numpy as np
import pandas as pd

from core.energy.config import energy_config
from core.energy.features import build_panel
from core.energy.generator import DeviceSpec, generate_frame
from core.energy.models import (
    Candidate,
    LightGBMForecaster,
    NextHourForecaster,
    SeasonalNaive,
    compare_on_window,
    evaluate,
    time_split,
    train_models,
)


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


class _Scripted(NextHourForecaster):
    """A stand-in model whose forecasts are the actual load times a factor per half of the window
    (NaN where ``factor`` is NaN): lets a test decide exactly where each candidate is good."""

    algorithm = "scripted"

    def __init__(self, first_half: float, second_half: float, mid: int) -> None:
        super().__init__()
        self.first_half, self.second_half, self.mid = first_half, second_half, mid

    def fit(self, panel, d, h, progress=None) -> None:  # type: ignore[no-untyped-def]
        pass

    def predict_point(self, panel, d, h):  # type: ignore[no-untyped-def]
        return panel.values[d, h] * np.where(h < self.mid, self.first_half, self.second_half)


def test_candidates_whose_own_windows_differ_are_scored_on_one_window() -> None:
    """Regression: a model scored on 508 held-out hours (ratio 0.201) lost to one scored on 762 hours
    (0.422). Every candidate must be scored on the same cells; the lower ratio there wins."""
    panel = simulated_panel(days=21, n=2)
    config = energy_config()
    split = time_split(panel, config.validation_fraction)
    vd, vh = split.validation
    mid = int(np.median(vh))
    # Forecasts only the second half (its own window would be half as long), 30% off there.
    partial = _Scripted(np.nan, 1.3, mid)
    # Forecasts every hour: very wrong in the first half, 5% off in the second.
    full = _Scripted(4.0, 1.05, mid)
    own = {name: evaluate(m, panel, vd, vh, config) for name, m in (("partial", partial), ("full", full))}
    assert own["partial"]["n_validation"] < own["full"]["n_validation"]  # their own windows differ
    assert own["partial"]["rmse_ratio"] < own["full"]["rmse_ratio"]  # so scoring alone would pick 'partial'

    comparison = compare_on_window([Candidate("partial", partial), Candidate("full", full)], panel, (vd, vh), config)

    second_half = int(((vh >= mid) & np.isfinite(panel.values[vd, vh - 24])).sum())
    assert comparison.hours == second_half
    assert [s.n_scored for s in comparison.scores] == [second_half, second_half]
    assert comparison.start == panel.hours[mid] and comparison.end == panel.hours[vh.max()]
    assert comparison.winner.label == "full"
    partial_ratio, full_ratio = (s.rmse_ratio for s in comparison.scores)
    assert full_ratio < partial_ratio
    table = comparison.table()
    assert list(table["model"]) == ["partial", "full"] and list(table["winner"]) == [False, True]
    assert table["hours"].nunique() == 1


def test_a_stored_model_is_scored_only_after_its_own_training_data() -> None:
    panel = simulated_panel(days=21, n=2)
    config = energy_config()
    vd, vh = time_split(panel, config.validation_fraction).validation
    later = panel.hours[int(np.quantile(vh, 0.5))]
    naive = SeasonalNaive()
    comparison = compare_on_window([Candidate("new", naive), Candidate("deployed", naive, model_id="m1",
                                                                       not_before=later)], panel, (vd, vh), config)
    assert comparison.start == later
    assert comparison.hours == int((panel.hours[vh] >= later).sum())
    # A tie keeps the deployed model: no churn for nothing.
    assert comparison.winner.label == "deployed"
