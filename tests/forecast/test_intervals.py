"""Conformal intervals: the finite-sample rank, per-step widths, and adaptive recovery after a shift."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.forecast.intervals import (
    AdaptiveConformal,
    SplitConformal,
    bounds,
    conformal_quantile,
    conformal_rank,
    scores,
    signed_quantiles,
)


@pytest.mark.parametrize(("n", "q", "rank"), [(9, 0.9, 9), (10, 0.9, 10), (19, 0.9, 18), (99, 0.8, 80), (3, 0.9, None),
                                              (1, 0.5, 1), (4, 0.8, 4), (5, 0.8, 5)])
def test_the_conformal_rank_is_ceil_n_plus_one_times_q(n: int, q: float, rank: int | None) -> None:
    assert conformal_rank(n, q) == rank


def test_the_conformal_quantile_on_hand_made_scores() -> None:
    assert conformal_quantile([5, 1, 4, 2, 3, 9, 8, 7, 6], 0.9) == 9.0  # rank ceil(10 × 0.9) = 9 of 9
    assert conformal_quantile([5, 1, 4, 2, 3, 9, 8, 7, 6], 0.5) == 5.0  # rank 5
    assert conformal_quantile([1, 2, np.nan, 3], 0.5) == 2.0  # NaN ignored: rank 2 of 3
    assert math.isinf(conformal_quantile([1.0, 2.0], 0.9))  # too few scores: unbounded


def test_log_scale_intervals_grow_with_the_level_and_stay_non_negative() -> None:
    lo, hi = bounds(np.array([10.0, 1000.0, 0.0]), np.array(0.1))
    assert hi[1] - lo[1] > 50 * (hi[0] - lo[0])
    assert lo.min() >= 0
    assert scores([110.0], [100.0], "relative")[0] == pytest.approx(0.1)


def test_split_conformal_widths_per_horizon_step_cover_on_exchangeable_data() -> None:
    rng = np.random.default_rng(0)
    pred = np.full((2000, 3), 100.0)
    truth = pred * np.exp(rng.normal(0, [0.05, 0.1, 0.2], size=(2000, 3)))  # errors grow with the step
    model = SplitConformal(level=0.8).fit(truth[:1000], pred[:1000])
    assert model.widths[0] < model.widths[1] < model.widths[2]
    lo, hi = model.interval(pred[1000:])
    coverage = ((truth[1000:] >= lo) & (truth[1000:] <= hi)).mean(axis=0)
    assert np.all((coverage > 0.76) & (coverage < 0.85)), coverage


def test_adaptive_conformal_recovers_coverage_after_a_step_change_where_split_conformal_does_not() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    noise = np.where(np.arange(n) < 1000, 0.05, 0.25)  # the errors grow fivefold at t = 1000
    pred = np.full(n, 200.0)
    truth = pred * np.exp(rng.normal(0, noise))
    calibration = truth[:500], pred[:500]
    lo, hi = AdaptiveConformal(level=0.8, gamma=0.02, window=500).run(truth[500:], pred[500:], calibration=calibration[0],
                                                                     calibration_pred=calibration[1])
    inside = (truth[500:] >= lo) & (truth[500:] <= hi)
    after = inside[1000:]  # from 500 steps after the change on
    assert 0.75 <= after.mean() <= 0.85, after.mean()
    split_lo, split_hi = SplitConformal(level=0.8).fit(*calibration).interval(pred[1500:])
    split_cover = ((truth[1500:] >= split_lo) & (truth[1500:] <= split_hi)).mean()
    assert split_cover < 0.4  # frozen widths lose coverage under the shift


def test_a_resource_request_caps_at_the_largest_score_instead_of_infinity() -> None:
    assert conformal_quantile([1.0, 2.0, 3.0], 0.95, cap_at_max=True) == 3.0
    assert conformal_quantile([1.0, 2.0, 3.0], 0.5, cap_at_max=True) == 2.0


def test_signed_quantiles_take_the_conformal_rank_on_each_tail() -> None:
    residuals = np.arange(-9.0, 10.0)  # 19 values, -9 .. 9
    # level 0.8: each tail 0.1; rank ceil(20 × 0.9) = 18 of 19 from each end.
    assert signed_quantiles(residuals, 0.8) == (-8.0, 8.0)
    skewed = np.concatenate([np.zeros(15), [1, 2, 30, 40]])
    lo, hi = signed_quantiles(skewed, 0.8)
    assert lo == 0.0 and hi == 30.0
    assert signed_quantiles([np.nan], 0.8) == (0.0, 0.0)


def test_the_stabilising_scale_follows_how_the_error_grows_with_the_level():
    from core.forecast.intervals import stabilising_power

    rng = np.random.default_rng(0)
    level = np.repeat(np.geomspace(5, 5000, 20), 200)
    poisson = rng.poisson(level).astype(float)
    assert abs(stabilising_power(poisson, level) - 0.5) < 0.08  # counts: about a square root
    multiplicative = level * np.exp(rng.normal(0, 0.2, level.size))
    assert stabilising_power(multiplicative, level) == "log"  # spread in proportion to the level
    assert stabilising_power(poisson[:50], level[:50]) == "log"  # too few errors to tell: the safe default


@pytest.mark.parametrize("scale", ["log", "sqrt", 0.3])
def test_bounds_hold_exactly_the_scores_up_to_the_width(scale):
    from core.forecast.intervals import bounds, scores

    pred = np.array([0.0, 3.0, 40.0, 900.0])
    lower, upper = bounds(pred, np.full(4, 0.7), scale)
    assert (lower >= 0).all() and (lower <= pred).all() and (upper > pred).all()
    inside = upper > 0
    assert np.allclose(scores(upper[inside], pred[inside], scale), 0.7)


def test_a_one_sided_adaptive_bound_recovers_its_exceedance_rate_after_a_step_up():
    """A provisioning bound (the 95% quantile): after the load doubles, misses pile up and the bound rises
    until about 5% of values exceed it again; bounded, it never becomes infinite."""
    from core.forecast.intervals import AdaptiveConformal

    rng = np.random.default_rng(1)
    pred = np.full(3000, 100.0)
    truth = 100 * np.exp(rng.normal(0, 0.1, 3000))
    truth[1000:] *= 2.0  # the forecast does not follow
    aci = AdaptiveConformal(level=0.95, scale="log", gamma=0.005, side="upper", bounded=True)
    lower, upper = aci.run(truth[500:], pred[500:], calibration=truth[:500], calibration_pred=pred[:500])
    assert np.isnan(lower).all() and np.isfinite(upper).all()
    late = slice(1500, None)  # well after the step
    assert 0.02 <= float(np.mean(truth[500:][late] > upper[late])) <= 0.10
    frozen = np.quantile(np.log1p(truth[:500]) - np.log1p(pred[:500]), 0.95)
    assert np.mean(truth[1000:] > np.expm1(np.log1p(pred[1000:]) + frozen)) > 0.9  # what a frozen bound does
