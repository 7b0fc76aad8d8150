import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.traffic.backtest import ENSEMBLE, STACKED, default_test_start, forward_forecast, run_backtest
from core.traffic.series import load_series
from tests.traffic.synthetic import daily_traffic


@pytest.fixture(scope="module")
def series():
    return load_series(daily_traffic(days=10, freq="15min", seed=3), "15m")


@pytest.fixture(scope="module")
def result(series):
    return run_backtest(series, test_start="2024-03-12", horizon=1,
                        models=("seasonal_naive", "naive", "lightgbm", "xgboost"), extra_steps=3, n_jobs=1)


def test_every_model_is_scored_on_the_same_held_out_window(result, series):
    preds = result.predictions()
    assert set(preds["model"]) == {"seasonal_naive", "naive", "lightgbm", "xgboost", ENSEMBLE, STACKED}
    assert list(preds.columns) == ["timestamp", "model", "y_true", "y_pred", "lo", "hi"]
    windows = preds.groupby("model")["timestamp"].agg(["min", "max", "count"])
    assert windows["min"].nunique() == 1 and windows["count"].nunique() == 1
    assert windows["min"].iloc[0] == result.test_start
    assert (preds["lo"] <= preds["y_pred"] + 1e-9).all() and (preds["y_pred"] <= preds["hi"] + 1e-9).all()


def test_models_beat_the_seasonal_naive_and_mase_says_so(result):
    board = result.leaderboard().set_index("model")
    assert board.loc["seasonal_naive", "baseline"]
    # Poisson noise around a smooth cycle: a learned model must beat yesterday's noisy value.
    assert board.loc["lightgbm", "rmse"] < board.loc["seasonal_naive", "rmse"]
    assert board.loc["lightgbm", "mase"] < 1.0
    assert 0.6 <= board.loc[ENSEMBLE, "coverage"] <= 0.97
    assert board["ensemble_weight"].dropna().sum() == pytest.approx(1.0)


def test_longer_steps_come_from_earlier_origins(result):
    one, three = result.step_forecast("lightgbm", 1), result.step_forecast("lightgbm", 3)
    assert one.index.equals(three.index)
    assert not np.allclose(one.to_numpy(), three.to_numpy())
    q90 = result.step_forecast(ENSEMBLE, 2, q=0.9)
    q50 = result.step_forecast(ENSEMBLE, 2, q=0.5)
    assert (q90 >= q50).all()


def test_error_by_hour_has_a_row_per_hour(result):
    table = result.error_by_hour()
    assert len(table) == 24 and "lightgbm" in table.columns


def test_the_default_split_is_the_published_one_for_nasa():
    idx = pd.date_range("1995-07-01", "1995-08-31 23:55", freq="5min", tz="-04:00")
    start = default_test_start(pd.Series(1.0, index=idx))
    assert start == pd.Timestamp("1995-08-23", tz="-04:00")


def test_forward_forecast_starts_after_the_data(series):
    fwd = forward_forecast(series, steps=8, models=("lightgbm",), n_jobs=1)
    assert fwd.index[0] == series.y.index[-1] + series.step and len(fwd) == 8
    assert (fwd["q0.9"] >= fwd["q0.5"]).all() and (fwd["q0.1"] <= fwd["q0.5"]).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"test_start": "2030-01-01"}, "after the last data point"),
    ({"test_start": "2024-03-04 06:00"}, "not enough history"),
    ({"horizon": 0}, "horizon"),
    ({"models": ("lightgbm", "arima")}, "unknown model"),
])
def test_bad_backtest_settings(series, kwargs, message):
    with pytest.raises(InputError, match=message):
        run_backtest(series, **kwargs)


def test_forecast_steps_beyond_the_calibration_window_keep_weights_and_widths():
    # Three hourly days calibrate on the last 18 hours only, so steps 19..24 have no calibration
    # truth; their ensemble forecast must still be a weighted forecast with a real interval.
    short = load_series(daily_traffic(days=3, freq="1h", seed=5), "1h")
    out = forward_forecast(short, steps=24, models=("lightgbm", "xgboost"), n_jobs=1)
    assert out.attrs["model"] == ENSEMBLE
    assert (out["y_pred"] > 20).all()
    # Widths live on the log scale: the last steps borrow the last well-calibrated step's.
    width = np.log1p(out["q0.9"]) - np.log1p(out["q0.1"])
    assert (width.iloc[18:] > 0.05).all()
    assert width.iloc[23] == pytest.approx(width.iloc[18])


def test_prophet_fits_on_the_latest_points_only(monkeypatch):
    """Long fine-grained histories would take Prophet minutes: it learns the shape from the latest
    ``PROPHET_MAX_POINTS`` known intervals."""
    import core.forecast.calendar_models as models
    from core.traffic.backtest import seasons_of

    s = load_series(daily_traffic(days=6, freq="1h"), "1h")
    monkeypatch.setattr(models, "PROPHET_MAX_POINTS", 48)
    fitted = models.ProphetModel(usable=s.usable()).fit(s.y, seasons_of(s))
    seen = fitted.model.history["ds"]
    assert len(seen) == 48 and seen.max() == s.y.dropna().index.max().tz_localize(None)


def _refit_run(series, every, **kwargs):
    return run_backtest(series, test_start="2024-03-09", models=("naive", "lightgbm"), extra_steps=2, n_jobs=1,
                        refit_every=every, **kwargs)


def test_refits_happen_when_asked_and_only_then(series):
    never = _refit_run(series, None)
    daily = _refit_run(series, pd.Timedelta("1D"))
    days = (series.y.index[-1] - daily.test_start) // pd.Timedelta("1D") + 1
    assert never.refits == {} and daily.refits == {"lightgbm": days} and days >= 2  # one fit before each test day
    # Baselines need no fit: identical either way; the refit model sees the newer data and forecasts differently.
    assert np.array_equal(never.paths["naive"], daily.paths["naive"])
    assert not np.allclose(never.paths["lightgbm"], daily.paths["lightgbm"])
    preds = daily.predictions()
    assert list(preds.columns) == ["timestamp", "model", "y_true", "y_pred", "lo", "hi"]
    assert {ENSEMBLE, STACKED, "lightgbm"} <= set(preds["model"]) and preds["y_pred"].notna().all()


def test_a_refit_never_reads_a_truth_after_the_origin(series):
    """Changing every count after a time inside the second test day changes no forecast issued before it,
    though that day's model was refit (on the data before the day began)."""
    cut = pd.Timestamp("2024-03-10 12:00", tz=series.y.index.tz)
    changed = series.y.copy()
    changed[changed.index > cut] = changed[changed.index > cut] * 3 + 50
    assert series.native is None  # no finer counts that would need the same change
    a = _refit_run(series, pd.Timedelta("1D"))
    b = _refit_run(dataclasses.replace(series, y=changed), pd.Timedelta("1D"))
    before = a.origins <= cut - 2 * series.step  # paths two steps long: their targets are at most the cut
    for model in ("lightgbm", ENSEMBLE, STACKED):
        assert np.allclose(a.paths[model][before], b.paths[model][before], equal_nan=True), model
    assert not np.allclose(a.paths["lightgbm"][~before], b.paths["lightgbm"][~before])


def test_refit_intervals_are_read_from_words_and_durations(series):
    from core.traffic.service import parse_refit

    assert parse_refit("auto", series.step) == pd.Timedelta("1D") and parse_refit("never", series.step) is None
    assert parse_refit("6h", series.step) == pd.Timedelta("6h")
    with pytest.raises(InputError, match="not a duration"):
        parse_refit("often", series.step)
    with pytest.raises(InputError, match="shorter than one interval"):
        parse_refit("1min", series.step)
