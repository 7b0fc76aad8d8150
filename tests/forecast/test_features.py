import numpy as np
import pandas as pd

from core.forecast.features import origin_windows, recursive_forecast, training_matrix, window_features
from core.traffic.series import load_series
from tests.traffic.synthetic import daily_traffic


def test_changing_y_at_t_does_not_change_the_feature_row_at_t():
    """Every feature family at once: lags, rolling and EWM statistics, seasonal lags and profiles, level
    ratios, calendar and holidays."""
    s = load_series(daily_traffic(days=9), "5m")
    X, target = training_matrix(s.y, s.season, country="US")
    assert {"lag_1", "mean_36", "ewm_3", "lag_day", "profile_7d", "level_ratio", "tod_sin", "weekday",
            "holiday"} <= set(X.columns)
    t = X.index[-500]
    changed = s.y.copy()
    changed[t] = changed[t] * 10 + 1000
    X2, target2 = training_matrix(changed, s.season, country="US")
    pd.testing.assert_series_equal(X.loc[t], X2.loc[t])
    assert target2[t] != target[t]
    # ...while the next row does see it (as lag 1).
    nxt = t + s.step
    assert X2.loc[nxt, "lag_1"] == changed[t]


def test_forecast_from_an_origin_reads_nothing_after_it():
    s = load_series(daily_traffic(days=9), "5m")
    origin = s.y.index[-100]
    future_changed = s.y.copy()
    future_changed[origin + s.step:] = 0.0
    a = origin_windows(s.y, pd.DatetimeIndex([origin]), s.season)
    b = origin_windows(future_changed, pd.DatetimeIndex([origin]), s.season)
    np.testing.assert_array_equal(a, b)


def test_recursive_forecast_feeds_predictions_back():
    s = load_series(daily_traffic(days=9), "5m")
    # A "model" that predicts lag_1 + 1 makes a ramp from the origin's value.
    path = recursive_forecast(lambda X: X["lag_1"].to_numpy() + 1, s.y, pd.DatetimeIndex([s.y.index[-10]]), 3,
                              s.season, s.step)
    start = s.y.iloc[-10]
    np.testing.assert_allclose(path[0], [start + 1, start + 2, start + 3])


def test_window_features_are_finite_with_a_short_history():
    s = load_series(daily_traffic(days=1), "15m")
    X, _ = training_matrix(s.y, s.season)
    assert len(X) > 80
    assert np.isfinite(X[["lag_1", "mean_3", "ewm_3", "tod_sin"]].to_numpy()).all()
    assert list(window_features(np.ones((1, 700)), X.index[:1], s.season).columns) == list(X.columns)


def test_finer_counts_enter_only_from_before_the_target():
    s = load_series(daily_traffic(days=9, freq="5min"), "15m")
    assert s.per_bin == 3 and s.native is not None
    X, _ = training_matrix(s.y, s.season, native=s.native, per_bin=3)
    t = X.index[-300]
    changed = s.native.copy()
    changed[t:t + pd.Timedelta("10min")] += 500  # the three 5-minute counts inside interval t
    X2, _ = training_matrix(s.y, s.season, native=changed, per_bin=3)
    pd.testing.assert_series_equal(X.loc[t], X2.loc[t])
    assert X.loc[t, "fine_1"] == s.native[t - pd.Timedelta("5min")] * 3
    assert X2.loc[t + s.step, "fine_1"] != X.loc[t + s.step, "fine_1"]


def test_chunked_windows_give_the_same_features_and_forecasts(monkeypatch):
    """Windows are copied a chunk of rows at a time so 1-minute data (a week of minutes per row)
    fits in memory; chunking must not change a single feature or forecast."""
    import core.forecast.features as features

    s = load_series(daily_traffic(days=9), "5m")
    origins = s.y.index[-700:-10]
    X, target = training_matrix(s.y, s.season)
    path = recursive_forecast(lambda F: F["ewm_3"].to_numpy() * 1.01, s.y, origins, 4, s.season, s.step)
    monkeypatch.setattr(features, "CHUNK_BYTES", 1)  # the floor: 256 rows per chunk
    assert len(features._row_chunks(len(X), features.window_length(s.season))) > 5
    X_chunked, target_chunked = training_matrix(s.y, s.season)
    pd.testing.assert_frame_equal(X, X_chunked)
    pd.testing.assert_series_equal(target, target_chunked)
    chunked = recursive_forecast(lambda F: F["ewm_3"].to_numpy() * 1.01, s.y, origins, 4, s.season, s.step)
    np.testing.assert_array_equal(path, chunked)


def test_holidays_are_read_on_the_local_calendar_day_of_the_series_country():
    from core.forecast.calendar import holiday_flags

    # 23:30 on 3 July in New York is already 4 July in UTC: not a holiday there yet.
    times = pd.DatetimeIndex(["2024-07-03 23:30", "2024-07-04 00:30", "2024-07-05 12:00"]).tz_localize("America/New_York")
    assert holiday_flags(times, "US").tolist() == [0.0, 1.0, 0.0]
    assert holiday_flags(pd.DatetimeIndex(["2024-10-03"]), "DE").tolist() == [1.0]  # German Unity Day
    import pytest

    from core.errors import InputError
    with pytest.raises(InputError, match="no public-holiday calendar"):
        holiday_flags(times, "XX")
