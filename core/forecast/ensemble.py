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
    decay = 0.5 ** (1.0 / half_life)
    n, m = errors.shape
    weighted = np.zeros(m) if prior_error is None else np.full(m, float(prior_error))
    mass = 0.0 if prior_error is None else 1.0
    out = np.empty((n, m))
    for t in range(n):
        if t >= delay:
            row = errors[t - delay]
            if np.isfinite(row).all():  # learn only from rows where every member and the truth exist
                weighted = decay * weighted + row
                mass = decay * mass + 1.0
        if mass > 0:
            w = np.maximum(weighted / mass, 1e-12) ** (-power)
            out[t] = w / w.sum()
        else:
            out[t] = 1.0 / m
    return pd.DataFrame(out, index=forecasts.index, columns=forecasts.columns)


def combine(forecasts: pd.DataFrame, weights: pd.DataFrame) -> pd.Series:
    """The weighted forecast per row; a member missing in a row gives its weight to the others."""
    values = forecasts.to_numpy(dtype=float)
    w = weights.reindex(index=forecasts.index, columns=forecasts.columns).to_numpy(dtype=float)
    w = np.where(np.isnan(values), 0.0, w)
    total = w.sum(axis=1)
    combined = np.where(total > 0, (np.nan_to_num(values) * w).sum(axis=1) / np.where(total > 0, total, 1), np.nan)
    return pd.Series(combined, index=forecasts.index, name="ensemble")
