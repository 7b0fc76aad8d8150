"""Global models: the per-series adapter, the time-ordered holdout, and one honest choice for a panel."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast.backtest import cross_validation
from core.forecast.baselines import Naive, SeasonalNaive
from core.forecast.global_forecaster import (
    PanelOrigins,
    PerSeries,
    Wide,
    choose_global,
    forecast_frame,
    hide_from,
    holdout_cut,
    holdout_split,
    panel_seasons,
    wide_panel,
)
from core.forecast.protocol import Seasons


def _panel(days: int = 10, n: int = 3, seed: int = 0) -> Wide:
    grid = pd.date_range("2024-03-01", periods=days * 24, freq="1h", tz="UTC")
    rng = np.random.default_rng(seed)
    daily = np.sin(np.arange(len(grid)) / 24 * 2 * np.pi)
    values = np.array([50 * (i + 1) + 20 * daily + rng.normal(0, 2, len(grid)) for i in range(n)])
    values[0, 100:104] = np.nan  # a gap: missing, not zero
    values[-1, :30] = np.nan  # a series that starts later
    return Wide(grid, pd.Index([f"s{i}" for i in range(n)]), values)


def test_per_series_adapter_gives_the_core_baseline_forecasts() -> None:
    panel = _panel()
    seasons = panel_seasons(panel)
    assert seasons.primary == 24
    adapter = PerSeries(SeasonalNaive).fit(panel, seasons)
    rows = np.array([0, 0, 1, 2, 2, 0])
    at = np.array([110, 125, 60, 40, 200, 103])
    out = adapter.forecast(panel, PanelOrigins(rows, at), 3)
    assert out.shape == (6, 3)
    for i, (row, origin) in enumerate(zip(rows, at, strict=True)):
        y = pd.Series(panel.values[row], index=panel.grid)
        expected = SeasonalNaive().fit(y, seasons).forecast(y, panel.grid[[origin]], 3)[0]
        np.testing.assert_array_equal(out[i], expected)
    assert adapter.name == "seasonal_naive"


def test_per_series_adapter_matches_the_core_backtest() -> None:
    """The adapter's one-step forecasts are what cross_validation gives each series on its own."""
    panel = _panel(n=2)
    adapter = PerSeries(Naive).fit(panel, panel_seasons(panel))
    for row in range(2):
        y = pd.Series(panel.values[row], index=panel.grid)
        cv = cross_validation(y, {"naive": Naive}, horizon=1, n_windows=20, refit_every=0)
        at = panel.grid.get_indexer(cv["cutoff"])
        ours = adapter.forecast(panel, PanelOrigins(np.full(len(at), row), at), 1)[:, 0]
        np.testing.assert_array_equal(ours, cv["naive"].to_numpy())


@dataclass
class _FitRecorder:
    """A local model that remembers the last timestamp each fit saw."""

    name: str = "recorder"
    seen_until: list[pd.Timestamp] = field(default_factory=list)

    def fit(self, y: pd.Series, seasons: Seasons) -> _FitRecorder:
        self.seen_until.append(y.dropna().index[-1] if y.notna().any() else y.index[0])
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        return np.zeros((len(origins), horizon))


def test_a_series_unseen_at_fit_time_is_fit_only_on_its_past() -> None:
    panel = _panel(n=3)
    trained_on = Wide(panel.grid, panel.series_ids[:2], panel.values[:2])
    recorder = _FitRecorder()
    adapter = PerSeries(lambda: recorder).fit(trained_on, Seasons((24,)))
    assert len(recorder.seen_until) == 2
    adapter.forecast(panel, PanelOrigins(np.array([2, 2]), np.array([150, 120])), 1)
    assert recorder.seen_until[-1] == panel.grid[120]  # its first origin there: nothing after it


def test_wide_panel_from_the_long_format_keeps_missing_intervals_missing() -> None:
    grid = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
    long = pd.DataFrame({"series_id": ["b"] * 5 + ["a"] * 3,
                         "ds": list(grid[[0, 1, 2, 4, 5]]) + list(grid[[2, 3, 5]]),
                         "y": [1.0, 2.0, 3.0, 5.0, 6.0, 30.0, 40.0, 60.0]})
    wide = wide_panel(long)
    assert list(wide.series_ids) == ["a", "b"] and wide.grid.equals(grid)
    np.testing.assert_array_equal(wide.values[1], [1, 2, 3, np.nan, 5, 6])
    np.testing.assert_array_equal(wide.values[0], [np.nan, np.nan, 30, 40, np.nan, 60])


def test_the_holdout_is_time_ordered_with_no_overlap() -> None:
    panel = _panel()
    cuts = holdout_split(panel, 0.25)
    assert (cuts == cuts[0]).all()  # one common cut: no series trains on a time another is tested on
    observed = ~np.isnan(panel.values)
    for row in range(panel.values.shape[0]):
        positions = np.flatnonzero(observed[row])
        train, test = positions[positions < cuts[row]], positions[positions >= cuts[row]]
        assert train.max() < test.min()
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(positions)
    assert cuts[0] == holdout_cut(0, len(panel.grid) - 1, 0.25) == 180  # the last quarter of 240 hours

    own = holdout_split(panel, 0.25, per_series=True)
    assert own[2] > own[0]  # the later-starting series is split over its own span
    assert own[2] == holdout_cut(30, len(panel.grid) - 1, 0.25)
    late = holdout_split(panel, 0.25, min_history=40)
    assert late[0] == holdout_cut(40, len(panel.grid) - 1, 0.25)

    hidden = hide_from(panel.values, own)
    for row, cut in enumerate(own):
        assert np.isnan(hidden[row, cut:]).all()
        np.testing.assert_array_equal(hidden[row, :cut], panel.values[row, :cut])


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1])
def test_the_holdout_refuses_a_share_outside_zero_and_one(share: float) -> None:
    with pytest.raises(InputError, match="between 0 and 1"):
        holdout_split(_panel(), share)


def test_the_holdout_needs_two_time_steps() -> None:
    with pytest.raises(InputError, match="two time steps"):
        holdout_cut(5, 5, 0.2)


def _frame(errors: dict[str, list[float]], n_series: int = 2) -> pd.DataFrame:
    """A forecast_frame of one-step forecasts, with each model's error per target time (same for every series)."""
    n = len(next(iter(errors.values())))
    grid = pd.date_range("2024-01-01", periods=n + 1, freq="1h", tz="UTC")
    values = np.full((n_series, n + 1), 100.0)
    panel = Wide(grid, pd.Index(range(n_series)), values)
    rows = np.repeat(np.arange(n_series), n)
    at = np.tile(np.arange(n), n_series)
    forecasts = {m: np.tile(100.0 + np.asarray(e, dtype=float), n_series) for m, e in errors.items()}
    return forecast_frame(panel, PanelOrigins(rows, at), forecasts, 1)


def test_forecast_frame_has_the_backtest_columns() -> None:
    frame = _frame({"naive": [1, 2, 3, 4]})
    assert list(frame.columns) == ["series_id", "cutoff", "ds", "step", "y", "naive"]
    assert (frame["ds"] - frame["cutoff"] == pd.Timedelta("1h")).all()


def test_the_global_choice_falls_back_to_the_baseline_when_nothing_beats_it_earlier() -> None:
    frame = _frame({"baseline": [1, 1, 1, 1], "gbm": [2, 2, 0, 0]})
    choice = choose_global(frame, ["gbm"], baseline="baseline")
    assert choice.chosen == "baseline"
    assert choice.table["best_in_hindsight"].iloc[0] == "gbm"  # better later, but chosen on the earlier part
    later = frame.loc[choice.evaluation, "ds"]
    assert later.min() > frame.loc[~choice.evaluation, "ds"].max()  # scored strictly after the choice
    assert choice.evaluation_start == later.min() and choice.selection_start == frame["ds"].min()


def test_the_global_choice_is_made_on_the_earlier_part_and_ties_go_to_the_first_listed() -> None:
    frame = _frame({"baseline": [3, 3, 3, 3, 3, 3], "simple": [1, 1, 1, 4, 4, 4], "complex": [1, 1, 1, 0, 0, 0]})
    choice = choose_global(frame, ["simple", "complex"], baseline="baseline")
    assert choice.chosen == "simple"  # a tie on the earlier part goes to the simpler model, listed first
    assert choice.table["evaluation_mae"].iloc[0] == 4.0
    assert choice.evaluation.sum() == 3 * 2  # the later 3 target times of both series


def test_the_global_choice_needs_two_target_times() -> None:
    with pytest.raises(InputError, match="two target times"):
        choose_global(_frame({"baseline": [1]}), [], baseline="baseline")
