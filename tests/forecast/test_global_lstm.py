"""GlobalLSTM: one small network for every series and every step, reading each series only up to its origin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast.baselines import SeasonalNaive
from core.forecast.calendar_panel import CalendarPanel
from core.forecast.direct_gbm import panel_layout
from core.forecast.global_forecaster import PanelOrigins, PerSeries, hide_from, panel_seasons
from core.forecast.global_lstm import GlobalLSTM, default_lookback
from core.ml.metrics import mae

HORIZON = 14


def small_lstm(horizon: int) -> GlobalLSTM:
    """A small network and few epochs: a fit takes seconds."""
    return GlobalLSTM(horizon=horizon, epochs=8, units=16, max_windows=2000)


def _seasonal_panel(days: int = 730, n: int = 4, seed: int = 0) -> CalendarPanel:
    """Daily series with a yearly shape (each its own phase), weekends at 75 % and 3 % noise, plus one series
    with no value at all."""
    grid = pd.date_range("2022-01-01", periods=days, freq="D")
    rng = np.random.default_rng(seed)
    doy = grid.day_of_year.to_numpy()
    weekend = np.where(grid.dayofweek.to_numpy() >= 5, 0.75, 1.0)
    rows = [50 * (i + 1) * (1 + 0.3 * np.cos(2 * np.pi * (doy - 60 * i) / 365.25)) * weekend
            * np.exp(rng.normal(0, 0.03, days)) for i in range(n)]
    rows.append(np.full(days, np.nan))
    return CalendarPanel(grid, pd.Index([f"s{i}" for i in range(n + 1)]), np.array(rows),
                         countries=("US",) * (n + 1), groups=("cpu", "users") * (n // 2) + ("cpu",) * (n % 2 + 1))


@pytest.fixture(scope="module")
def panel() -> CalendarPanel:
    return _seasonal_panel()


@pytest.fixture(scope="module")
def cut(panel: CalendarPanel) -> int:
    return len(panel.grid) - 100


@pytest.fixture(scope="module")
def fitted(panel: CalendarPanel, cut: int) -> GlobalLSTM:
    seen = panel.with_values(hide_from(panel.values, np.full(len(panel.series_ids), cut)))
    return small_lstm(HORIZON).fit(seen, panel_seasons(panel))


def test_the_default_lookback_is_two_longest_seasons_within_a_cap() -> None:
    daily = _seasonal_panel(days=60)
    seasons = panel_seasons(daily)
    assert default_lookback(panel_layout(daily, seasons), seasons, daily.step) == 14  # two weeks (no year yet)
    long = panel_seasons(_seasonal_panel(days=800))
    assert default_lookback(panel_layout(daily, long), long, daily.step) == 56  # two years, capped at 56 days
    hourly = CalendarPanel(pd.date_range("2024-01-01", periods=24 * 30, freq="h", tz="UTC"), pd.Index(["a"]),
                           np.ones((1, 24 * 30)))
    hourly_seasons = panel_seasons(hourly)
    assert default_lookback(panel_layout(hourly, hourly_seasons), hourly_seasons, hourly.step) == 168


def test_one_forecast_per_origin_and_step(panel: CalendarPanel, fitted: GlobalLSTM, cut: int) -> None:
    n = len(panel.series_ids)
    origins = PanelOrigins(np.r_[np.arange(n), 0], np.r_[np.full(n, cut + 10), cut + 40])
    out = fitted.forecast(panel, origins, HORIZON)
    assert out.shape == (n + 1, HORIZON)
    assert np.isfinite(out[: n - 1]).all() and (out[: n - 1] >= 0).all()
    assert np.isnan(out[n - 1]).all()  # the series with no value forecasts nothing
    np.testing.assert_array_equal(fitted.forecast(panel, origins, 5), out[:, :5])
    assert fitted.name == "lstm" and fitted.lookback == 56
    with pytest.raises(InputError, match=f"at most {HORIZON} steps"):
        fitted.forecast(panel, origins, HORIZON + 1)


def test_forecasts_read_nothing_after_their_origin(panel: CalendarPanel, fitted: GlobalLSTM, cut: int) -> None:
    T, n = len(panel.grid), len(panel.series_ids)
    for origin in (cut - 30, cut + 20, T - HORIZON - 1):
        origins = PanelOrigins(np.arange(n - 1), np.full(n - 1, origin))
        before = fitted.forecast(panel, origins, HORIZON)
        changed = panel.values.copy()
        changed[:, origin + 1:] = np.where(np.arange(T - origin - 1) % 2, np.nan, 1e6)
        np.testing.assert_array_equal(fitted.forecast(panel.with_values(changed), origins, HORIZON), before)


def test_it_beats_the_weekly_naive_on_a_seasonal_panel(panel: CalendarPanel, fitted: GlobalLSTM, cut: int) -> None:
    n = len(panel.series_ids) - 1
    at = np.arange(cut, len(panel.grid) - HORIZON - 1, 7)
    origins = PanelOrigins(np.repeat(np.arange(n), len(at)), np.tile(at, n))
    truth = panel.values[origins.series[:, None], origins.at[:, None] + np.arange(1, HORIZON + 1)[None, :]]
    naive = PerSeries(SeasonalNaive).fit(panel, panel_seasons(panel)).forecast(panel, origins, HORIZON)
    lstm = fitted.forecast(panel, origins, HORIZON)
    assert mae(truth.ravel(), lstm.ravel()) < 0.8 * mae(truth.ravel(), naive.ravel())


def test_too_few_windows_is_an_input_error() -> None:
    short = _seasonal_panel(days=40, n=1)
    with pytest.raises(InputError, match="at least 50 training windows"):
        small_lstm(7).fit(short, panel_seasons(short))
