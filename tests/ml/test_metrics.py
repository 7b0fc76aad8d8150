"""Metric formulas against values computed by hand."""

import math

import pytest

from core.ml import metrics as m


def test_mae_rmse_by_hand() -> None:
    y, p = [1, 2, 3, 4], [2, 2, 5, 4]
    assert m.mae(y, p) == pytest.approx((1 + 0 + 2 + 0) / 4)
    assert m.rmse(y, p) == pytest.approx(math.sqrt((1 + 0 + 4 + 0) / 4))


def test_nan_pairs_are_ignored() -> None:
    assert m.mae([1, float("nan"), 3], [2, 5, 3]) == pytest.approx(0.5)


def test_smape_safe_at_zero() -> None:
    # 0/0 counts as perfect; 0 vs 2 is the maximum 200%.
    assert m.smape([0, 0], [0, 2]) == pytest.approx((0 + 200) / 2)
    assert m.smape([100], [110]) == pytest.approx(100 * 2 * 10 / 210)


def test_mase_scales_by_in_sample_seasonal_naive() -> None:
    train = [1, 2, 3, 4, 5, 6]  # season 2: |3-1|,|4-2|,|5-3|,|6-4| -> scale 2
    assert m.seasonal_naive_scale(train, 2) == pytest.approx(2.0)
    assert m.mase([10, 12], [11, 12], train, 2) == pytest.approx(0.5 / 2.0)


def test_mase_below_one_for_a_model_that_beats_naive() -> None:
    train = [10, 20, 12, 22, 11, 21]  # season-2 in-sample MAE = (2 + 2 + 1 + 1) / 4 = 1.5
    actual = [13, 19, 12]
    naive = [11, 21, 11]  # the seasonal naive continuation: MAE 5/3 -> MASE 1.11
    better = [13, 19, 11]  # MAE 1/3 -> MASE 0.22
    assert m.mase(actual, naive, train, 2) == pytest.approx((5 / 3) / 1.5)
    assert m.mase(actual, better, train, 2) == pytest.approx((1 / 3) / 1.5)
    assert m.mase(actual, better, train, 2) < 1 < m.mase(actual, naive, train, 2)


def test_interval_coverage() -> None:
    assert m.interval_coverage([1, 5, 10], [0, 6, 9], [2, 7, 11]) == pytest.approx(2 / 3)


def test_r2_by_hand() -> None:
    y, p = [1, 2, 3], [1, 2, 4]
    # SSE = 1, SST = 2
    assert m.r2(y, p) == pytest.approx(0.5)
    assert math.isnan(m.r2([2, 2, 2], [1, 2, 3]))


def test_resource_request_metrics() -> None:
    actual, requested = [100, 200, 300, 400], [150, 180, 330, 800]
    assert m.under_prediction_rate(actual, requested) == pytest.approx(0.25)
    # ratios 1.5, 0.9, 1.1, 2.0 -> median (1.1 + 1.5) / 2
    assert m.median_over_provision(actual, requested) == pytest.approx(1.3)


def test_bias_and_mape_floor() -> None:
    assert m.bias([1, 2], [2, 4]) == pytest.approx(1.5)
    assert m.mape([0, 10], [1, 12], floor=1.0) == pytest.approx((1 / 1 + 2 / 10) / 2)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        m.mae([1, 2], [1])
