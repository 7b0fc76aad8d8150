"""The adaptive ensemble: weights that follow recent errors (naive always in the pool) and adaptive conformal
intervals, warm from the calibration window and fed only truths known when each forecast was issued."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.traffic.backtest import ENSEMBLE, STACKED, run_backtest
from core.traffic.series import load_series
from tests.traffic.synthetic import daily_traffic

TEST_START = "2024-03-12"
MODELS = ("seasonal_naive", "naive", "lightgbm", "xgboost")


def _frame(shift: float = 1.0, after: pd.Timestamp | None = None) -> pd.DataFrame:
    df = daily_traffic(days=10, freq="15min", seed=3)
    stamps = pd.to_datetime(df["timestamp"])
    df.loc[stamps >= pd.Timestamp(TEST_START, tz="-04:00"), "request_count"] *= shift  # the level ×shift
    if after is not None:
        df.loc[stamps > after, "request_count"] = 5 * df.loc[stamps > after, "request_count"] + 100
    return df


def _run(df: pd.DataFrame):
    return run_backtest(load_series(df, "15m"), test_start=TEST_START, models=MODELS, extra_steps=3, n_jobs=1)


@pytest.fixture(scope="module")
def shifted():
    return _run(_frame(shift=4.0))


@pytest.fixture(scope="module")
def steady():
    return _run(_frame())


def test_after_a_fourfold_shift_it_is_no_worse_than_naive_and_its_intervals_recover(shifted):
    for step in (1, 3):
        board = shifted.leaderboard(step).set_index("model")
        assert board.loc[ENSEMBLE, "rmse"] <= board.loc["naive", "rmse"]
        assert 0.70 <= board.loc[ENSEMBLE, "coverage"] <= 0.90
        assert np.isnan(board.loc[ENSEMBLE, "ensemble_weight"])
    board = shifted.leaderboard(1).set_index("model")
    assert board.loc[STACKED, "coverage"] < 0.7  # the frozen widths do not (what the adaptive row fixes)


def test_on_a_steady_series_it_stays_close_to_the_stacked_ensemble(steady):
    for step in (1, 3):
        board = steady.leaderboard(step).set_index("model")
        assert board.loc[ENSEMBLE, "rmse"] <= 1.1 * board.loc[STACKED, "rmse"]
        assert 0.70 <= board.loc[ENSEMBLE, "coverage"] <= 0.90


def test_it_is_a_row_like_the_others(steady):
    preds = steady.predictions()
    rows = preds[preds["model"] == ENSEMBLE]
    assert len(rows) == (preds["model"] == "naive").sum() and rows["timestamp"].min() == steady.test_start
    assert rows[["y_pred", "lo", "hi"]].notna().all().all()
    assert (rows["lo"] <= rows["y_pred"] + 1e-9).all() and (rows["y_pred"] <= rows["hi"] + 1e-9).all()
    # Other quantiles (a policy's) come from its calibration-window residuals, ordered like any model's.
    assert (steady.step_forecast(ENSEMBLE, 2, 0.95) >= steady.step_forecast(ENSEMBLE, 2, 0.5)).all()
    weights = steady.adaptive_weights(1)
    assert list(weights.columns) == ["lightgbm", "xgboost", STACKED, "naive"]
    assert weights.index[0] < steady.test_start  # warm: it has run over the calibration window
    assert np.allclose(weights.sum(axis=1), 1.0)


def test_naive_is_in_the_pool_even_when_not_chosen():
    result = run_backtest(load_series(_frame(), "15m"), test_start=TEST_START, models=("lightgbm",), n_jobs=1)
    assert list(result.adaptive_weights(1).columns) == ["lightgbm", "naive"]
    assert ENSEMBLE in result.leaderboard()["model"].tolist()


def test_weights_and_intervals_never_read_a_truth_unknown_when_the_forecast_was_issued(steady):
    cut = pd.Timestamp("2024-03-12 18:00", tz="-04:00")
    changed = _run(_frame(after=cut))  # every truth after the cut differs
    step_len = changed.series.step
    for k in (1, 2, 3):
        # Row t's weight uses errors of rows up to t - k, whose forecasts and truths predate the cut up to t = cut + k.
        known = cut + k * step_len
        before, after = steady.adaptive_weights(k), changed.adaptive_weights(k)
        pd.testing.assert_frame_equal(before[before.index <= known], after[after.index <= known])
        assert not before[before.index > known].equals(after[after.index > known])
        for q in (0.1, 0.9):
            a, b = steady.step_forecast(ENSEMBLE, k, q), changed.step_forecast(ENSEMBLE, k, q)
            pd.testing.assert_series_equal(a[a.index <= cut], b[b.index <= cut])


def test_a_policy_quantile_of_the_ensemble_keeps_its_exceedance_rate_after_the_shift(shifted):
    """The autoscaling policy provisions for the ensemble's q-quantile: after the fourfold shift it is
    exceeded about 1 - q of the time, where the stacked ensemble's frozen quantile is exceeded far more."""
    truth = shifted.series.y
    for model, low, high in ((ENSEMBLE, 0.0, 0.1), (STACKED, 0.12, 1.0)):  # q95: 5% is the target
        q95 = shifted.step_forecast(model, 2, 0.95)
        actual = truth.reindex(q95.index)
        rate = float((actual > q95)[actual.notna()].mean())
        assert low <= rate <= high, (model, rate)
    assert np.isfinite(shifted.step_forecast(ENSEMBLE, 2, 0.99)).all()
