"""The one place metric formulas live. Inputs are array-likes; NaN pairs are ignored.

Conventions:
- sMAPE is in percent, 0..200, and a point where both actual and forecast are 0 counts as 0 error.
- MASE scales the model's MAE by the in-sample MAE of the seasonal naive forecast on the
  *training* series (Hyndman & Koehler 2006), so it never sees test data.
- Resource-request metrics compare an actual usage with the amount requested.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=float)
    b = np.asarray(y_pred, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.mean(np.abs(a - b))) if a.size else float("nan")


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((a - b) ** 2))) if a.size else float("nan")


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE in percent; 0/0 points count as perfect."""
    a, b = _pair(y_true, y_pred)
    if not a.size:
        return float("nan")
    denom = np.abs(a) + np.abs(b)
    ratio = np.divide(2.0 * np.abs(a - b), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100.0 * np.mean(ratio))


def mape(y_true: ArrayLike, y_pred: ArrayLike, *, floor: float = 1e-9) -> float:
    """Mean absolute percentage error as a fraction; the denominator is floored at ``floor``."""
    a, b = _pair(y_true, y_pred)
    if not a.size:
        return float("nan")
    return float(np.mean(np.abs(a - b) / np.maximum(np.abs(a), floor)))


def seasonal_naive_scale(y_train: ArrayLike, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast y[t] = y[t - season] on training data."""
    y = np.asarray(y_train, dtype=float)
    if season < 1 or y.size <= season:
        raise ValueError(f"need more than {season} training points for a seasonal scale")
    diffs = np.abs(y[season:] - y[:-season])
    diffs = diffs[~np.isnan(diffs)]
    return float(np.mean(diffs)) if diffs.size else float("nan")


def mase(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, season: int) -> float:
    """MAE divided by the seasonal naive's in-sample MAE on ``y_train``; < 1 beats it."""
    scale = seasonal_naive_scale(y_train, season)
    if not np.isfinite(scale) or scale == 0:
        return float("nan")
    return mae(y_true, y_pred) / scale


def interval_coverage(y_true: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of actuals inside [lower, upper] (0..1)."""
    a = np.asarray(y_true, dtype=float)
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(lo) | np.isnan(hi))
    if not keep.any():
        return float("nan")
    # A bound computed as pred × exp(0) may differ from an exact forecast in the last bit.
    tol = 1e-9 * np.maximum(1.0, np.abs(a[keep]))
    return float(np.mean((a[keep] >= lo[keep] - tol) & (a[keep] <= hi[keep] + tol)))


def r2(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination on the given (held-out) points."""
    a, b = _pair(y_true, y_pred)
    if a.size < 2:
        return float("nan")
    total = np.sum((a - a.mean()) ** 2)
    if total == 0:
        return float("nan")
    return float(1.0 - np.sum((a - b) ** 2) / total)


def bias(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of forecast minus actual: positive means over-forecasting."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean(b - a)) if a.size else float("nan")


def under_prediction_rate(actual: ArrayLike, requested: ArrayLike) -> float:
    """Share of runs whose actual usage exceeded what was requested (0..1)."""
    a, r = _pair(actual, requested)
    return float(np.mean(a > r)) if a.size else float("nan")


def median_over_provision(actual: ArrayLike, requested: ArrayLike) -> float:
    """Median of requested / actual over runs with positive usage (1.0 = exact)."""
    a, r = _pair(actual, requested)
    keep = a > 0
    return float(np.median(r[keep] / a[keep])) if keep.any() else float("nan")


def forecast_scores(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    y_train: ArrayLike | None = None,
    season: int | None = None,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
) -> dict[str, float]:
    """The standard forecast scorecard: MAE, RMSE, sMAPE, and MASE / coverage when possible."""
    scores = {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred), "smape": smape(y_true, y_pred)}
    if y_train is not None and season:
        scores["mase"] = mase(y_true, y_pred, y_train, season)
    if lower is not None and upper is not None:
        scores["coverage"] = interval_coverage(y_true, lower, upper)
    return scores
