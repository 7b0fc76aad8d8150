"""Quantiles at every step of a long horizon from a backtest's own errors: pooled over neighbouring steps,
and, inside a backtest, only from errors whose truth was known at a window's cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.forecast.horizon_quantiles import (
    add_quantiles,
    apply_quantiles,
    pooled_quantiles,
    recalibrated_levels,
    step_quantiles,
    tail_quantiles,
)


def _cv(n_windows: int = 10, horizon: int = 6, spread: float = 0.1, seed: int = 3) -> pd.DataFrame:
    """Windows a horizon apart whose log errors grow with the step."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for w in range(n_windows):
        cutoff = start + pd.Timedelta(days=w * horizon)
        for k in range(1, horizon + 1):
            pred = 100.0
            rows.append({"series_id": "s", "cutoff": cutoff, "ds": cutoff + pd.Timedelta(days=k), "step": k,
                         "y": pred * np.exp(rng.normal(0, spread * k)), "m": pred})
    return pd.DataFrame(rows)


def test_long_steps_get_wider_quantiles_than_short_ones() -> None:
    grid = step_quantiles(_cv(n_windows=40), "m", {"p95": 0.95}, horizon=6, pool=1)["s"]
    assert grid[5, 0] > 2 * grid[0, 0]


def test_a_window_reads_only_errors_known_at_its_cutoff() -> None:
    cv = _cv()
    out = add_quantiles(cv, "m", {"hi": 0.95}, pool=6, min_scores=6)
    first = out[out["cutoff"] == cv["cutoff"].min()]
    assert first["m_hi"].isna().all()  # nothing known yet
    # Changing the truth of the last window changes no earlier window's quantile.
    changed = cv.copy()
    last = changed["cutoff"] == changed["cutoff"].max()
    changed.loc[last, "y"] *= 50
    again = add_quantiles(changed, "m", {"hi": 0.95}, pool=6, min_scores=6)
    np.testing.assert_array_equal(out.loc[~last, "m_hi"].to_numpy(), again.loc[~last, "m_hi"].to_numpy())


def test_steps_without_enough_known_errors_get_no_quantile_instead_of_a_borrowed_one() -> None:
    resid = np.array([0.1, -0.1, 0.05, 0.2])
    steps = np.array([1, 1, 2, 2])
    strict = pooled_quantiles(resid, steps, 4, np.array([0.9]), pool=0, min_count=2)
    assert np.isfinite(strict[:2]).all() and np.isnan(strict[2:]).all()
    lenient = pooled_quantiles(resid, steps, 4, np.array([0.9]), pool=0)
    np.testing.assert_array_equal(lenient[3], lenient[1])  # borrowed from the nearest earlier step


def test_applied_quantiles_are_ordered_and_non_negative() -> None:
    grid = step_quantiles(_cv(n_windows=30), "m", {"p50": 0.5, "p95": 0.95}, horizon=6, pool=1)["s"]
    q = apply_quantiles(np.full(6, 100.0), grid)
    assert (q[:, 1] >= q[:, 0]).all() and (q >= 0).all()


def _biased_windows(n_windows: int = 30, horizon: int = 10, n_series: int = 6, seed: int = 5) -> pd.DataFrame:
    """Errors that are not exchangeable: each window has its own bias shared by all its days (as real
    windows do), so the spread of past days understates the spread of a new window."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for s in range(n_series):
        for w in range(n_windows):
            cutoff = start + pd.Timedelta(days=w * horizon)
            bias = rng.normal(0, 0.2)
            for k in range(1, horizon + 1):
                rows.append({"series_id": f"s{s}", "cutoff": cutoff, "ds": cutoff + pd.Timedelta(days=k), "step": k,
                             "y": 100.0 * np.exp(bias + rng.normal(0, 0.05)), "m": 100.0})
    return pd.DataFrame(rows)


def _coverage(frame: pd.DataFrame) -> float:
    framed = frame["m_lo"].notna()
    inside = (frame["m_lo"] <= frame["y"]) & (frame["y"] <= frame["m_hi"])
    return float(inside[framed].mean())


def test_recalibrated_levels_restore_coverage_when_window_errors_share_a_bias() -> None:
    cv = _biased_windows()
    levels = {"lo": 0.025, "hi": 0.975}
    plain = add_quantiles(cv, "m", levels, pool=2, min_scores=20, recalibrate=False)
    recalibrated = add_quantiles(cv, "m", levels, pool=2, min_scores=20)
    assert abs(_coverage(recalibrated) - 0.95) < abs(_coverage(plain) - 0.95)
    assert _coverage(recalibrated) > 0.9


def test_recalibration_keeps_nominal_levels_for_calibrated_ranks() -> None:
    ranks = (np.arange(1000) + 0.5) / 1000
    assert np.allclose(recalibrated_levels(ranks, np.array([0.05, 0.5, 0.95])), [0.05, 0.5, 0.95], atol=0.002)
    assert np.array_equal(recalibrated_levels(ranks[:10], np.array([0.95])), [0.95])  # too few: nominal
    central = 0.4 + 0.2 * ranks  # past quantiles were never reached: the levels are not narrowed
    assert np.array_equal(recalibrated_levels(central, np.array([0.025, 0.5, 0.975])), [0.025, 0.5, 0.975])
    wide = np.concatenate([ranks, np.full(200, 0.999), np.full(200, 0.001)])  # tails hit too often: widened
    lo, hi = recalibrated_levels(wide, np.array([0.025, 0.975]))
    assert lo < 0.025 and hi > 0.975


def test_a_tail_beyond_a_small_sample_is_extrapolated_not_capped() -> None:
    resid = np.random.default_rng(0).normal(0, 1, 15)
    lo, hi = tail_quantiles(resid, np.array([0.025, 0.975]))
    normal_bound = resid.mean() + stats.t.ppf(0.975, 14) * resid.std(ddof=1) * np.sqrt(1 + 1 / 15)
    assert hi == pytest.approx(max(normal_bound, resid.max())) and hi > resid.max()
    assert lo <= resid.min()  # never inside the sample's extreme
    # enough errors for the conformal rank: the sample's own order statistic
    many = np.random.default_rng(1).normal(0, 1, 399)
    assert tail_quantiles(many, np.array([0.975]))[0] == np.sort(many)[389]
