"""Ensembles whose weights follow recent errors, with the naive last value always in the pool.

A member's weight at time t is proportional to the inverse square of its exponentially weighted
mean absolute error over forecasts whose truth was known before t (``half_life`` in forecasts).
Absolute, not squared, errors: one huge miss during a surge would otherwise keep a member out of
the ensemble for many half-lives after it has recovered. When
the load shifts and the learned members start losing to naive, their recent errors grow and the
weight moves to naive within a few half-lives; when they recover, it moves back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NAIVE = "naive"


def recent_error_weights(forecasts: pd.DataFrame, truth: pd.Series, *, half_life: float = 48.0,
                         prior_error: float | None = None, power: float = 2.0, delay: int = 1) -> pd.DataFrame:
    """Weights per row (a forecast time) and column (a member), using only errors of earlier rows.

    ``forecasts`` holds each member's one-step forecast for the time in its index; ``truth`` the
    actual value (NaN where unknown: that row's errors are not learned from). Before any error
    is known every member weighs the same (or, with ``prior_error``, as if each had that error).
    Weights are ``(1 / ewm_mae) ** power``, normalised; higher ``power`` leans harder on the best.

    ``delay``: row t's error is learned from at row t + delay, not before. A forecast issued k
    steps ahead has its truth k steps after it was issued, so for k-step forecasts laid out one
    row per interval, ``delay=k`` uses only truths known when each forecast was issued."""
    if NAIVE not in forecasts.columns:
        raise ValueError("the pool must include the naive last value")
    if delay < 1:
        raise ValueError("delay must be at least 1 (a row's own error is never known before it)")
    y = truth.reindex(forecasts.index).to_numpy(dtype=float)
    errors = np.abs(forecasts.to_numpy(dtype=float) - y[:, None])
    n, m = errors.shape
    learned = np.isfinite(errors).all(axis=1)  # learn only from rows where every member and the truth exist
    # The EW mean of each member's errors over learned rows (the prior as a first pseudo-row), then each row t
    # reads the mean as it stood after the last learned row at or before t - delay.
    rows = errors[learned]
    if prior_error is not None:
        rows = np.vstack([np.full((1, m), float(prior_error)), rows])
    means = pd.DataFrame(rows).ewm(halflife=half_life, adjust=True).mean().to_numpy() if len(rows) else rows
    seen = np.cumsum(learned)  # learned rows up to and including each row
    source = np.full(n, -1)
    if n > delay:
        source[delay:] = seen[: n - delay] - 1
    if prior_error is not None:
        source = source + 1  # row 0 of ``means`` is the prior
    out = np.full((n, m), 1.0 / m)
    ready = source >= 0
    if ready.any():
        w = np.maximum(means[source[ready]], 1e-12) ** (-power)
        out[ready] = w / w.sum(axis=1, keepdims=True)
    return pd.DataFrame(out, index=forecasts.index, columns=forecasts.columns)


def combine(forecasts: pd.DataFrame, weights: pd.DataFrame) -> pd.Series:
    """The weighted forecast per row; a member missing in a row gives its weight to the others."""
    values = forecasts.to_numpy(dtype=float)
    w = weights.reindex(index=forecasts.index, columns=forecasts.columns).to_numpy(dtype=float)
    w = np.where(np.isnan(values), 0.0, w)
    total = w.sum(axis=1)
    combined = np.where(total > 0, (np.nan_to_num(values) * w).sum(axis=1) / np.where(total > 0, total, 1), np.nan)
    return pd.Series(combined, index=forecasts.index, name="ensemble")


def stacking_weights(forecasts: np.ndarray, truth: np.ndarray, *, min_rows: int = 8) -> np.ndarray:
    """Non-negative weights of the members' forecasts (n × M) that best fit ``truth`` (n) in least
    squares: all zeros when fewer than ``min_rows`` rows are usable (see ``normalise_rows``).

    Members are often strongly correlated, so inverse-MSE weights come out nearly equal and drag
    the combination towards the weaker members; least squares gives the weaker ones only what
    they add (NASA 15m: 108.2 -> 106.6 RMSE). Falls back to inverse MSE if every fit weight is 0."""
    rows = ~np.isnan(truth) & np.isfinite(forecasts).all(axis=1)
    if rows.sum() < min_rows:
        return np.zeros(forecasts.shape[1])
    from scipy.optimize import nnls

    weights, _ = nnls(forecasts[rows], truth[rows])
    if weights.sum() <= 0:
        weights = 1.0 / np.maximum(((forecasts[rows] - truth[rows, None]) ** 2).mean(axis=0), 1e-9)
    return weights


def normalise_rows(raw: np.ndarray) -> np.ndarray:
    """Weight rows (one per horizon step) scaled to sum to one. An all-zero row (a step with too
    little calibration truth) reuses the previous step's weights, or equal weights at step 1, so
    no step's combination is ever zero."""
    out = np.zeros_like(raw, dtype=float)
    previous = np.full(raw.shape[1], 1.0 / max(raw.shape[1], 1))
    for k, row in enumerate(raw):
        total = row.sum()
        out[k] = row / total if total > 0 else previous
        previous = out[k]
    return out
