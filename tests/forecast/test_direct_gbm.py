"""Global models over a calendar panel: the calendar every series brings (local time, holidays, launches),
DirectBoost (one boosted model for every step of every series) and the global rolling-origin backtest."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast.backtest import cross_validation
from core.forecast.baselines import SeasonalNaive
from core.forecast.calendar import holiday_flags
from core.forecast.calendar_panel import CalendarPanel, calendar_features, calendar_panel
from core.forecast.direct_gbm import DirectBoost
from core.forecast.gbm import Library
from core.forecast.global_backtest import global_cross_validation
from core.forecast.global_forecaster import PanelOrigins, PerSeries, hide_from, panel_seasons
from core.forecast.protocol import Seasons
from core.ml.metrics import mae


def fast_boost(horizon: int, library: Library = "lightgbm") -> DirectBoost:
    """A small fit: each test stays within seconds. 10k sampled rows keep every margin asserted here wide (the
    day-of-year test ~0.43 of the naive's MAE, holidays ~0.6 of their neighbours, the hourly error ~3.5 %)."""
    return DirectBoost(horizon=horizon, library=library, max_rows=10_000, max_rounds=200)


def seasonal_panel(years: int = 3, n: int = 4, seed: int = 0, countries: tuple[str | None, ...] = (),
                   holiday_dip: float = 0.0, start: str = "2021-01-01") -> CalendarPanel:
    """Daily series with a strong yearly shape (each its own phase), weekends at 80 % and 3 % noise; with
    ``holiday_dip``, each public holiday of the series' country is that much lower."""
    grid = pd.date_range(start, periods=365 * years, freq="D")
    rng = np.random.default_rng(seed)
    doy = grid.day_of_year.to_numpy()
    weekend = np.where(grid.dayofweek.to_numpy() >= 5, 0.8, 1.0)
    rows = []
    for i in range(n):
        yearly = 1 + 0.3 * np.cos(2 * np.pi * (doy - 40 * i) / 365.25)
        value = 100 * (i + 1) * yearly * weekend * np.exp(rng.normal(0, 0.03, len(grid)))
        country = countries[i] if countries else None
        if holiday_dip and country:
            value *= 1 - holiday_dip * holiday_flags(grid, country)
        rows.append(value)
    return CalendarPanel(grid, pd.Index([f"s{i}" for i in range(n)]), np.array(rows), countries=countries)


@pytest.fixture(scope="module")
def panel() -> CalendarPanel:
    return seasonal_panel()


@pytest.fixture(scope="module")
def fitted(panel: CalendarPanel) -> DirectBoost:
    cut = len(panel.grid) - 120
    seen = panel.with_values(hide_from(panel.values, np.full(len(panel.series_ids), cut)))
    return fast_boost(28).fit(seen, panel_seasons(panel))


# --- the calendar panel ------------------------------------------------------------------------------

def test_calendar_panel_takes_each_calendar_by_series_id() -> None:
    grid = pd.date_range("2024-01-01", periods=10, freq="D")
    long = pd.concat([pd.DataFrame({"series_id": sid, "ds": grid, "y": float(i)}) for i, sid in enumerate("ba")])
    launches = pd.DataFrame({"series_id": ["a", "a"], "date": ["2024-01-08", "2024-01-05"], "step": [0.1, 0.2]})
    panel = calendar_panel(long, countries={"a": "FR"}, timezones="Europe/Paris", launches=launches,
                           groups={"a": "cpu", "b": "users"})
    assert list(panel.series_ids) == ["a", "b"]
    assert panel.countries == ("FR", None) and panel.timezones == ("Europe/Paris",) * 2
    assert panel.groups == ("cpu", "users")
    assert [d.day for d, _ in panel.launches[0]] == [5, 8] and panel.launches[1] == ()  # sorted by date
    with pytest.raises(InputError, match="one entry per series"):
        CalendarPanel(panel.grid, panel.series_ids, panel.values, countries=("US",))


def test_calendar_features_use_each_series_local_day() -> None:
    grid = pd.date_range("2024-07-03 20:00", periods=24, freq="h", tz="UTC")
    panel = CalendarPanel(grid, pd.Index(["ny", "tokyo"]), np.ones((2, 24)), countries=("US", "JP"),
                          timezones=("America/New_York", "Asia/Tokyo"),
                          launches=((), ((pd.Timestamp("2024-07-04"), 0.1), (pd.Timestamp("2024-07-05"), 0.5))))
    features = calendar_features(panel, np.repeat([0, 1], 24), grid.append(grid))
    ny = {k: v[:24] for k, v in features.items()}
    tokyo = {k: v[24:] for k, v in features.items()}
    # 04:00 UTC on July 4th is midnight in New York: the US holiday starts there, not at UTC midnight.
    assert ny["hour"][8] == 0 and ny["is_holiday"][8] == 1 and ny["is_holiday"][:8].sum() == 0
    assert ny["days_to_holiday"][0] == 1 and ny["days_from_holiday"][-1] == 0
    assert tokyo["hour"][0] == 5 and tokyo["dow"][0] == 3  # 05:00 on Thursday July 4th in Tokyo
    assert tokyo["is_holiday"].sum() == 0
    # Tokyo's July 5th starts at 15:00 UTC: from then both launches count, 1.1 * 1.5.
    np.testing.assert_allclose(tokyo["launch_factor"][[18, 19]], [1.1, 1.65])
    assert tokyo["days_since_launch"][19] == 0 and np.isnan(ny["days_since_launch"]).all()


# --- DirectBoost -------------------------------------------------------------------------------------

def test_forecasts_read_nothing_after_their_origin(panel: CalendarPanel, fitted: DirectBoost) -> None:
    T, n = len(panel.grid), len(panel.series_ids)
    for origin in (T - 100, T - 60, T - 29):
        origins = PanelOrigins(np.arange(n), np.full(n, origin))
        before = fitted.forecast(panel, origins, 28)
        changed = panel.values.copy()
        changed[:, origin + 1:] = np.where(np.arange(T - origin - 1) % 2, np.nan, 1e6)
        after = fitted.forecast(panel.with_values(changed), origins, 28)
        np.testing.assert_array_equal(before, after)
        assert np.isfinite(before).all() and (before >= 0).all()


def test_the_day_of_year_makes_it_beat_the_weekly_naive(panel: CalendarPanel) -> None:
    """A yearly shape drifts over 28 days; last week's value cannot follow it, the calendar can."""
    T = len(panel.grid)
    cutoffs = panel.grid[np.arange(T - 29 - 4 * 28, T - 28, 28)]
    cv = global_cross_validation(panel, {"lightgbm": lambda: fast_boost(28),
                                         "seasonal_naive": lambda: PerSeries(SeasonalNaive)},
                                 cutoffs=cutoffs, horizon=28)
    assert cv.attrs["fits"] == {"lightgbm": 1, "seasonal_naive": 1}
    assert mae(cv["y"], cv["lightgbm"]) < 0.6 * mae(cv["y"], cv["seasonal_naive"])


def test_holidays_of_the_series_country_are_forecast_lower() -> None:
    panel = seasonal_panel(n=3, countries=("US", "US", "DE"), holiday_dip=0.4, seed=3)
    origin = int(panel.grid.get_loc(pd.Timestamp("2023-06-27")))
    seen = panel.with_values(hide_from(panel.values, np.full(3, origin + 1)))
    model = fast_boost(14).fit(seen, panel_seasons(panel))
    forecast = model.forecast(panel, PanelOrigins(np.arange(3), np.full(3, origin)), 14)
    days = pd.date_range(panel.grid[origin] + pd.Timedelta(days=1), periods=14, freq="D")
    july_4th = days.get_loc(pd.Timestamp("2023-07-04"))  # a Tuesday: a US holiday, not a German one
    for row in (0, 1):
        neighbours = forecast[row, [july_4th - 1, july_4th + 1]].mean()
        assert forecast[row, july_4th] < 0.8 * neighbours
    assert forecast[2, july_4th] > 0.9 * forecast[2, [july_4th - 1, july_4th + 1]].mean()


def test_a_known_launch_lifts_the_forecast_from_its_date(panel: CalendarPanel, fitted: DirectBoost) -> None:
    T = len(panel.grid)
    origin = T - 60
    launch = panel.grid[origin + 15]
    stepped = CalendarPanel(panel.grid, panel.series_ids, panel.values,
                            launches=(((launch, 0.25),),) + ((),) * (len(panel.series_ids) - 1))
    origins = PanelOrigins(np.array([0, 1]), np.array([origin, origin]))
    plain, lifted = fitted.forecast(panel, origins, 28), fitted.forecast(stepped, origins, 28)
    np.testing.assert_allclose(lifted[0, :14], plain[0, :14])  # before the launch: unchanged
    np.testing.assert_allclose(lifted[0, 14:] / plain[0, 14:], 1.25, rtol=0.02)
    np.testing.assert_array_equal(lifted[1], plain[1])


def test_degenerate_series_do_not_break_it() -> None:
    grid = pd.date_range("2024-01-01", periods=150, freq="D")  # too short for any year feature
    noisy = 10 + np.random.default_rng(0).normal(0, 1, 150)
    noisy[60:75] = np.nan  # an outage
    late = np.r_[np.full(130, np.nan), np.linspace(5, 6, 20)]  # starts late
    values = np.vstack([np.full(150, 5.0), np.zeros(150), np.full(150, np.nan), noisy, late])
    panel = CalendarPanel(grid, pd.Index(list("abcde")), values, countries=("US", None, "FR", "DE", "JP"))
    model = fast_boost(7).fit(panel, panel_seasons(panel))
    out = model.forecast(panel, PanelOrigins(np.arange(5), np.full(5, 149)), 7)
    np.testing.assert_allclose(out[0], 5.0, atol=0.05)
    np.testing.assert_allclose(out[1], 0.0, atol=1e-3)
    assert np.isnan(out[2]).all()  # nothing known: nothing to forecast
    assert np.isfinite(out[[3, 4]]).all() and (out >= 0)[~np.isnan(out)].all()
    before_start = model.forecast(panel, PanelOrigins(np.array([4]), np.array([100])), 7)
    assert np.isnan(before_start).all()
    with pytest.raises(InputError, match="at most 7 steps"):
        model.forecast(panel, PanelOrigins(np.array([0]), np.array([149])), 8)


def test_too_little_history_forecasts_the_level() -> None:
    grid = pd.date_range("2024-01-01", periods=10, freq="D")
    panel = CalendarPanel(grid, pd.Index(["a"]), np.arange(10.0)[None, :])
    model = DirectBoost(horizon=3).fit(panel, panel_seasons(panel))
    assert model.trees is None
    np.testing.assert_allclose(model.forecast(panel, PanelOrigins(np.array([0]), np.array([9])), 3), 9.0)


def test_hourly_utc_data_and_xgboost() -> None:
    grid = pd.date_range("2024-03-01", periods=24 * 28, freq="h", tz="UTC")
    local_hour = grid.tz_convert("Europe/Berlin").hour.to_numpy()
    values = np.array([(50 + 20 * np.sin(2 * np.pi * local_hour / 24)) * (i + 1) for i in range(2)])
    panel = CalendarPanel(grid, pd.Index(["a", "b"]), values, countries=("DE", "DE"),
                          timezones=("Europe/Berlin",) * 2, groups=("cpu", "users"))
    model = fast_boost(24, "xgboost").fit(panel, panel_seasons(panel))
    assert model.name == "xgboost"
    origin = len(grid) - 25
    out = model.forecast(panel, PanelOrigins(np.array([0, 1]), np.array([origin, origin])), 24)
    truth = values[:, origin + 1:origin + 25]
    assert np.abs(out - truth).mean() < 0.05 * np.abs(truth).mean()


# --- the global backtest -----------------------------------------------------------------------------

@dataclass
class _FitRecorder:
    """A global model that remembers the last grid position with a value each fit saw."""

    seen_until: list[int] = field(default_factory=list)
    name: str = "recorder"

    def fit(self, panel: CalendarPanel, seasons: Seasons) -> _FitRecorder:
        known = np.flatnonzero(~np.isnan(panel.values).all(axis=0))
        self.seen_until.append(int(known[-1]))
        return self

    def forecast(self, panel: CalendarPanel, origins: PanelOrigins, horizon: int) -> np.ndarray:
        return np.repeat(origins.at[:, None].astype(float), horizon, axis=1)


def test_no_fit_sees_a_value_after_its_cutoff(panel: CalendarPanel) -> None:
    recorder = _FitRecorder()
    positions = np.array([400, 430, 460, 490, 520])
    cv = global_cross_validation(panel, {"recorder": lambda: recorder}, cutoffs=panel.grid[positions],
                                 horizon=5, refit_every=2)
    assert recorder.seen_until == [400, 460, 520]  # each fit sees up to (and with) its first cutoff only
    assert cv.attrs["fits"] == {"recorder": 3}
    np.testing.assert_array_equal(panel.grid.get_indexer(cv["cutoff"]), cv["recorder"])  # origin per row


def test_the_frame_matches_the_single_series_backtest(panel: CalendarPanel) -> None:
    y = pd.Series(panel.values[1], index=panel.grid)
    single = cross_validation(y, {"seasonal_naive": SeasonalNaive}, horizon=10, n_windows=4, step=7,
                              refit_every=0, series_id="s1")
    cv = global_cross_validation(panel, {"seasonal_naive": lambda: PerSeries(SeasonalNaive)},
                                 cutoffs=pd.DatetimeIndex(single["cutoff"].unique()), horizon=10)
    assert list(cv.columns) == list(single.columns)
    assert len(cv) == 4 * 10 * len(panel.series_ids)
    mine = cv[cv["series_id"] == "s1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, single, check_dtype=False)


def test_targets_past_the_grid_are_dropped(panel: CalendarPanel) -> None:
    T = len(panel.grid)
    cv = global_cross_validation(panel, {"seasonal_naive": lambda: PerSeries(SeasonalNaive)},
                                 cutoffs=panel.grid[[T - 20, T - 3]], horizon=7)
    per_series = cv.groupby("series_id").size()
    assert (per_series == 7 + 2).all() and cv["ds"].max() == panel.grid[-1]
    with pytest.raises(InputError, match="not a time of the panel's grid"):
        global_cross_validation(panel, {}, cutoffs=pd.DatetimeIndex(["1999-01-01"]), horizon=3)
