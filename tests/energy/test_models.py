"""Energy's models behind the core's global protocol, the core's holdout, and the honest choice to deploy."""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import pytest

from core.energy.config import energy_config
from core.energy.features import HourlyPanel, build_panel
from core.energy.generator import DeviceSpec, generate_frame
from core.energy.models import (
    Candidate,
    LightGBMForecaster,
    NextHourForecaster,
    SeasonalNaive,
    compare_on_window,
    next_hour,
    time_split,
    train_models,
)
from core.forecast import baselines
from core.forecast.gbm import BoostedTrees
from core.forecast.global_forecaster import PanelOrigins, panel_seasons
from core.forecast.protocol import Seasons
from tests.support import ROOT


def simulated_panel(days: int = 35, n: int = 3):  # type: ignore[no-untyped-def]
    zones = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"]
    profiles = ["residential", "commercial", "industrial"]
    specs = [DeviceSpec(i + 1, zones[i % 3], 2.0 + 3 * i, profiles[i % 3], 10 + i) for i in range(n)]
    start = pd.Timestamp("2026-04-01", tz="UTC")
    readings = generate_frame(specs, start, start + pd.Timedelta(days=days))
    devices = pd.DataFrame([s.__dict__ for s in specs])
    return build_panel(readings, devices)


def test_split_is_time_ordered_with_one_cut_for_the_fleet() -> None:
    panel = simulated_panel()
    split = time_split(panel, 0.2)
    assert split.train[1].max() < split.validation[1].min()
    assert set(split.train[0]) == set(split.validation[0]) == {0, 1, 2}
    assert (split.cuts == split.cuts[0]).all() and split.cutoff == panel.hours[split.cuts[0]]
    assert split.validation[1].min() == split.cuts[0]


def test_per_device_split_follows_each_device_span() -> None:
    panel = simulated_panel(days=21, n=2)
    values = panel.values.copy()
    values[1, :200] = np.nan  # the second meter starts later
    late = HourlyPanel(panel.hours, panel.devices, values)
    split = time_split(late, 0.2, per_device=True)
    assert split.cuts[1] > split.cuts[0]
    for row in (0, 1):
        train_h = split.train[1][split.train[0] == row]
        test_h = split.validation[1][split.validation[0] == row]
        assert train_h.max() < split.cuts[row] <= test_h.min()


def test_models_fit_only_on_what_the_holdout_leaves_visible() -> None:
    panel = simulated_panel(days=21, n=2)
    split = time_split(panel, 0.2)
    seen = panel.hidden_from(split.cuts)
    assert np.isnan(seen.values[:, split.cuts[0]:]).all()
    np.testing.assert_array_equal(seen.values[:, :split.cuts[0]], panel.values[:, :split.cuts[0]])
    model = LightGBMForecaster(rounds=20).fit(seen, panel_seasons(panel))
    d, h = model.training_cells(seen)
    assert h.max() < split.cuts[0] and (np.diff(h) >= 0).all()  # training rows in time order


def test_lightgbm_beats_same_hour_yesterday_on_held_out_hours() -> None:
    panel = simulated_panel()
    trained = train_models(panel, ("lightgbm", "seasonal-naive"), energy_config())
    by_name = {t.algorithm: t for t in trained}
    assert by_name["seasonal-naive"].metrics["rmse_ratio"] == 1.0
    assert by_name["lightgbm"].metrics["rmse_ratio"] < 0.8
    assert by_name["lightgbm"].metrics["n_validation"] == by_name["seasonal-naive"].metrics["n_validation"]
    model = by_name["lightgbm"].model
    assert isinstance(model, LightGBMForecaster) and isinstance(model.trees, BoostedTrees)
    assert model.trees.library == "lightgbm" and model.trees.rounds == model.params["rounds"] >= 20  # via the core
    lo, hi = model.interval
    assert lo < 0 < hi
    d, h = np.array([0, 1]), np.array([panel.values.shape[1] - 1] * 2)
    point, lower, upper = model.predict(panel, d, h)
    assert (lower <= point).all() and (point <= upper).all()


def test_the_baseline_is_always_trained_beside_the_models() -> None:
    panel = simulated_panel(days=21, n=2)
    trained = train_models(panel, ("lightgbm",), energy_config())
    assert [t.algorithm for t in trained] == ["lightgbm", "seasonal-naive"]


def test_no_gbm_wrapper_of_its_own_remains_in_energy() -> None:
    for path in sorted((ROOT / "core" / "energy").glob("*.py")):
        source = path.read_text()
        imported = {alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] in ("lightgbm", "xgboost")}, path
        assert "LGBMRegressor" not in source, path


def test_seasonal_naive_is_the_core_baseline_per_device() -> None:
    panel = simulated_panel(days=10)
    values = panel.values.copy()
    values[0, 176] = np.nan  # yesterday's reading of one target is missing
    gappy = HourlyPanel(panel.hours, panel.devices, values)
    model = SeasonalNaive().fit(gappy, panel_seasons(gappy))
    d, h = np.array([0, 2, 0]), np.array([200, 220, 210])
    ours = next_hour(model, gappy, d, h)
    assert ours[1] == values[2, 220 - 24] and ours[2] == values[0, 210 - 24]
    assert ours[0] == values[0, 175]  # the last known value before it: filled forward, never from later
    for i, (row, target) in enumerate(zip(d, h, strict=True)):
        y = pd.Series(values[row], index=panel.hours)
        core = baselines.SeasonalNaive().fit(y, Seasons((24, 168))).forecast(y, panel.hours[[target - 1]], 1)
        assert ours[i] == core[0, 0]


def test_energy_models_answer_the_protocol_one_hour_ahead() -> None:
    panel = simulated_panel(days=10, n=2)
    model = SeasonalNaive().fit(panel, panel_seasons(panel))
    assert model.name == "seasonal-naive"
    out = model.forecast(panel, PanelOrigins(np.array([0, 1]), np.array([199, 199])), 1)
    assert out.shape == (2, 1)
    with pytest.raises(ValueError, match="one hour ahead"):
        model.forecast(panel, PanelOrigins(np.array([0]), np.array([199])), 2)


def test_a_version_saved_before_the_move_still_forecasts() -> None:
    """A deployed LightGBM pickled by the old code held its LGBMRegressor as ``model``."""
    panel = simulated_panel(days=14, n=2)
    model = LightGBMForecaster(rounds=20).fit(panel, panel_seasons(panel))
    assert model.trees is not None
    old_state = {k: v for k, v in model.__dict__.items() if k not in ("trees", "max_train_rows")}
    old_state |= {"model": model.trees.model, "params": {"n_estimators": 20}}
    old = LightGBMForecaster.__new__(LightGBMForecaster)
    old.__setstate__(old_state)
    d, h = np.array([0, 1]), np.array([300, 300])
    np.testing.assert_array_equal(next_hour(old, panel, d, h), next_hour(model, panel, d, h))
    naive = SeasonalNaive.__new__(SeasonalNaive)
    naive.__setstate__({"interval": (0.0, 0.0), "params": {}})
    np.testing.assert_array_equal(next_hour(naive, panel, d, h), panel.values[d, h - 24])


class _Scripted(NextHourForecaster):
    """A stand-in model whose forecasts are the actual load times a factor per half of the window
    (NaN where ``factor`` is NaN): lets a test decide exactly where each candidate is good."""

    algorithm = "scripted"

    def __init__(self, first_half: float, second_half: float, mid: int) -> None:
        super().__init__()
        self.first_half, self.second_half, self.mid = first_half, second_half, mid

    def fit(self, panel, seasons, progress=None):  # type: ignore[no-untyped-def]
        return self

    def predict_point(self, panel, d, h):  # type: ignore[no-untyped-def]
        return panel.values[d, h] * np.where(h < self.mid, self.first_half, self.second_half)


def _window(days: int = 21):  # type: ignore[no-untyped-def]
    panel = simulated_panel(days=days, n=2)
    config = energy_config()
    split = time_split(panel, config.validation_fraction)
    vd, vh = split.validation
    mid = split.cuts[0] + (int(vh.max()) - split.cuts[0] + 1) // 2  # the core's cut of the held-out span in two
    naive = SeasonalNaive().fit(panel, panel_seasons(panel))
    return panel, config, (vd, vh), mid, naive


def test_the_choice_is_made_on_the_earlier_half_and_scored_on_the_later() -> None:
    panel, config, cells, mid, naive = _window()
    early = _Scripted(1.02, 3.0, mid)  # good while the choice is made, bad after
    late = _Scripted(1.5, 1.0, mid)  # worse than early while choosing, perfect after
    comparison = compare_on_window([Candidate("naive", naive), Candidate("early", early), Candidate("late", late)],
                                   panel, cells, config)
    assert comparison.winner.label == "early"  # chosen on the earlier hours only...
    assert comparison.best_in_hindsight == "late"  # ...though 'late' did better on the later ones
    assert comparison.start == panel.hours[mid] and comparison.choice_start < comparison.start
    late_ratio = comparison.scores[2].rmse_ratio
    assert late_ratio == 0.0 and comparison.scores[1].rmse_ratio > 1  # scores are of the later half
    assert comparison.hours == int(((cells[1] >= mid)).sum())
    assert list(comparison.table()["winner"]) == [False, True, False]


def test_the_choice_falls_back_to_the_baseline_when_nothing_beats_it_earlier() -> None:
    panel, config, cells, mid, naive = _window()
    later_only = _Scripted(5.0, 1.0, mid)  # far worse than yesterday while choosing, perfect after
    comparison = compare_on_window([Candidate("model", later_only), Candidate("naive", naive)], panel, cells, config)
    assert comparison.winner.label == "naive"
    assert comparison.best_in_hindsight == "model"
    with pytest.raises(ValueError, match="baseline"):
        compare_on_window([Candidate("model", later_only)], panel, cells, config)


def test_candidates_whose_own_windows_differ_are_scored_on_one_window() -> None:
    """Regression: a model scored on 508 held-out hours (ratio 0.201) lost to one scored on 762 hours
    (0.422). Every candidate must be scored on the same cells."""
    panel, config, (vd, vh), mid, naive = _window()
    partial = _Scripted(np.nan, 1.3, mid)  # forecasts only the later half
    full = _Scripted(1.05, 1.05, mid)
    # Only the later half is common; it is split again in two: choose on its first part, score the rest.
    comparison = compare_on_window([Candidate("naive", naive), Candidate("partial", partial), Candidate("full", full)],
                                   panel, (vd, vh), config)
    assert comparison.choice_start == panel.hours[mid]
    assert len({s.n_scored for s in comparison.scores}) == 1 and comparison.hours == comparison.scores[0].n_scored
    assert comparison.winner.label == "full"
    table = comparison.table()
    assert table["hours"].nunique() == 1


def test_a_stored_model_is_scored_only_after_its_own_training_data() -> None:
    panel, config, (vd, vh), mid, naive = _window()
    later = panel.hours[int(np.quantile(vh, 0.5))]
    comparison = compare_on_window([Candidate("new", naive), Candidate("deployed", naive, model_id="m1",
                                                                       not_before=later)], panel, (vd, vh), config)
    assert comparison.choice_start == later
    chosen_on = int(((panel.hours[vh] >= later) & (panel.hours[vh] < comparison.start)).sum())
    assert comparison.hours + chosen_on == int((panel.hours[vh] >= later).sum())
    # A tie keeps the deployed model: no churn for nothing.
    assert comparison.winner.label == "deployed"

