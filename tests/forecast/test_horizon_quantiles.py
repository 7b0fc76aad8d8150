"""Quantiles at every step of a long horizon from a backtest's own errors: pooled over neighbouring steps,
and, inside a backtest, only from errors whose truth was known at a window's cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.forecast.horizon_quantiles import add_quantiles, apply_quantiles, pooled_quantiles, step_quantiles


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
