"""Prediction intervals for any model, in one place: split conformal and adaptive conformal.

Scores are absolute errors on a scale that grows with the level, so an interval is as wide in
relative terms at night as at the daily peak:
- ``"log"``: ``|log1p(y) - log1p(ŷ)|`` (loads, memory: non-negative targets whose spread grows
  with the level);
- ``"sqrt"``: ``|√y - √ŷ|`` (counts: Poisson noise has a constant spread on this scale, so a
  width learned at night is not applied, in relative terms, to the daily peak);
- a number λ in (0, 1): the Box-Cox power ``((1 + y)^λ - 1) / λ``, between log (λ → 0) and the raw
  scale (λ = 1). ``stabilising_power`` estimates it from residuals: if the error's spread grows
  like ``level^(b/2)``, λ = 1 - b/2 makes it constant (b = 1, Poisson: λ = ½; b = 2: log);
- ``"relative"``: ``|y - ŷ| / max(|ŷ|, floor)``;
- ``"absolute"``: ``|y - ŷ|``.

Split conformal takes the ``ceil((n + 1) q)``-th smallest of ``n`` calibration scores, the
finite-sample rank that guarantees coverage >= q when calibration and test are exchangeable.
Under a shift they are not, so adaptive conformal inference (Gibbs & Candès, 2021) moves the
level it asks for after every observation: ``alpha <- alpha + gamma (alpha_target - miss)``, so a
run of misses widens the interval until coverage recovers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

Scale = Literal["log", "sqrt", "relative", "absolute"] | float
_REL_FLOOR = 1e-9


def conformal_rank(n: int, q: float) -> int | None:
    """The 1-based rank of the conformal quantile among ``n`` scores, or None when ``n`` is too
    small for level ``q`` (the interval is then unbounded)."""
    if not 0 < q < 1:
        raise ValueError("q must be between 0 and 1")
    rank = math.ceil((n + 1) * q - 1e-12)  # the tolerance keeps 0.1 * 10 from rounding up
    return rank if rank <= n else None


def conformal_quantile(scores: ArrayLike, q: float, *, cap_at_max: bool = False) -> float:
    """The finite-sample conformal quantile of ``scores`` (NaN scores ignored). With too few
    scores for ``q`` it is unbounded (inf), or with ``cap_at_max`` the largest score (a resource
    request must stay finite; its caller falls back to a coarser group first)."""
    raw = np.asarray(scores, dtype=float)
    values = np.sort(raw[~np.isnan(raw)])
    if not len(values):
        return math.inf
    rank = conformal_rank(len(values), q)
    if rank is None:
        return float(values[-1]) if cap_at_max else math.inf
    return float(values[rank - 1])


def residual_quantiles(residuals: ArrayLike, levels: ArrayLike) -> np.ndarray | None:
    """Quantiles of signed residuals at each level in ``levels``, with finite-sample conformal
    ranks: an upper level q takes the ``ceil((n + 1) q)``-th smallest, a lower one the mirror rank
    from the top, each capped at the extreme residual when there are too few (a request or an
    interval must stay finite). None when no residual is finite."""
    raw = np.asarray(residuals, dtype=float)
    r = raw[np.isfinite(raw)]
    if not r.size:
        return None
    return np.array([conformal_quantile(r, q, cap_at_max=True) if q >= 0.5
                     else -conformal_quantile(-r, 1.0 - q, cap_at_max=True) for q in np.asarray(levels, dtype=float)])


def signed_quantiles(residuals: ArrayLike, level: float) -> tuple[float, float]:
    """Lower and upper offsets for an interval with equal tails from signed residuals (errors on
    any scale the caller chose, e.g. relative to a level): a skewed error (a load that jumps up
    more than it drops) gets an asymmetric interval. (0, 0) without residuals."""
    tail = (1.0 - level) / 2.0
    found = residual_quantiles(residuals, (tail, 1.0 - tail))
    return (0.0, 0.0) if found is None else (float(found[0]), float(found[1]))


def _forward(values: np.ndarray, scale: Scale) -> np.ndarray:
    """Non-negative values on ``scale`` (absolute and relative: unchanged)."""
    if isinstance(scale, float):
        return ((1.0 + np.maximum(values, 0.0)) ** scale - 1.0) / scale
    if scale == "log":
        return np.log1p(np.maximum(values, 0.0))
    if scale == "sqrt":
        return np.sqrt(np.maximum(values, 0.0))
    return values


def _back(values: np.ndarray, scale: Scale) -> np.ndarray:
    if isinstance(scale, float):
        return np.maximum(1.0 + scale * values, 0.0) ** (1.0 / scale) - 1.0
    if scale == "log":
        return np.expm1(values)
    if scale == "sqrt":
        return np.maximum(values, 0.0) ** 2
    return values


def stabilising_power(y_true: ArrayLike, y_pred: ArrayLike, *, bins: int = 10) -> Scale:
    """The scale on which these errors' spread no longer grows with the level: the slope b/2 of log mean
    absolute error against log mean forecast over ``bins`` forecast-level bins gives λ = 1 - b/2, kept
    between log (b ≥ 2) and square root (b ≤ 1). Log when the errors are too few or the levels too alike."""
    y, p = np.asarray(y_true, dtype=float).ravel(), np.asarray(y_pred, dtype=float).ravel()
    ok = np.isfinite(y) & np.isfinite(p) & (p > 0)
    if ok.sum() < 20 * bins:
        return "log"
    order = np.argsort(p[ok])
    groups = np.array_split(order, bins)
    level = np.array([p[ok][g].mean() for g in groups])
    spread = np.array([np.abs(y[ok][g] - p[ok][g]).mean() for g in groups])
    if (spread <= 0).any() or level.max() < 2 * level.min():
        return "log"
    half_b = float(np.polyfit(np.log(level), np.log(spread), 1)[0])
    lam = float(np.clip(1.0 - half_b, 0.0, 0.5))
    return "log" if lam < 0.05 else lam


def signed_residuals(y_true: ArrayLike, y_pred: ArrayLike, scale: Scale = "log") -> np.ndarray:
    """Signed errors on ``scale`` (log: ``log1p(y) - log1p(ŷ)``; sqrt: ``√y - √ŷ``; relative: ``(y - ŷ) / |ŷ|``)."""
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if scale == "relative":
        return (y - p) / np.maximum(np.abs(p), _REL_FLOOR)
    return _forward(y, scale) - _forward(p, scale)


def log_residuals(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """Signed errors on the log scale, ``log1p(y) - log1p(ŷ)``: a quantile of them scales with the level."""
    return signed_residuals(y_true, y_pred, "log")


def quantile_grid(y_true: np.ndarray, y_pred: np.ndarray, levels: ArrayLike, scale: Scale = "log") -> np.ndarray:
    """Per-step residual quantiles on ``scale`` (``horizon × len(levels)``) from calibration forecasts laid
    out ``n_origins × horizon``. A step without residuals borrows the nearest earlier step's (errors grow
    with the step, so this never narrows an interval to zero); none at all gives zeros."""
    resid = signed_residuals(y_true, y_pred, scale)
    rows = [residual_quantiles(resid[:, k], levels) for k in range(resid.shape[1])]
    known = [r for r in rows if r is not None]
    if not known:
        return np.zeros((len(rows), len(np.asarray(levels))))
    previous = known[0]
    out = []
    for r in rows:
        previous = r if r is not None else previous
        out.append(previous)
    return np.stack(out)


def grid_quantile(point: np.ndarray, grid: np.ndarray, levels: ArrayLike, q: float,
                  scale: Scale = "log") -> np.ndarray:
    """The q-quantile forecast of ``n × H`` non-negative point forecasts from a ``quantile_grid`` on the
    same ``scale`` (interpolated between its levels, never below zero)."""
    shift = np.array([np.interp(q, np.asarray(levels, dtype=float), grid[k]) for k in range(point.shape[1])])
    if scale == "relative":
        return np.maximum(point * (1.0 + shift[None, :]), 0.0)
    return np.maximum(_back(_forward(np.maximum(point, 0.0), scale) + shift[None, :], scale), 0.0)


def scores(y_true: ArrayLike, y_pred: ArrayLike, scale: Scale = "log") -> np.ndarray:
    """Nonconformity scores (absolute errors on ``scale``)."""
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if scale == "relative":
        return np.abs(y - p) / np.maximum(np.abs(p), _REL_FLOOR)
    if scale == "absolute":
        return np.abs(y - p)
    return np.abs(_forward(y, scale) - _forward(p, scale))


def bounds(y_pred: ArrayLike, width: ArrayLike, scale: Scale = "log") -> tuple[np.ndarray, np.ndarray]:
    """The interval around ``y_pred`` whose scores are at most ``width`` (never below zero on a
    transformed scale)."""
    p, w = np.asarray(y_pred, dtype=float), np.asarray(width, dtype=float)
    if scale == "relative":
        half = w * np.maximum(np.abs(p), _REL_FLOOR)
        return p - half, p + half
    if scale == "absolute":
        return p - w, p + w
    base = _forward(p, scale)
    return np.maximum(_back(base - w, scale), 0.0), _back(base + w, scale)


@dataclass
class SplitConformal:
    """Split conformal at ``level``, one width per horizon step (errors grow with the step)."""

    level: float = 0.8
    scale: Scale = "log"
    widths: np.ndarray = field(default_factory=lambda: np.array([]))

    def fit(self, y_true: ArrayLike, y_pred: ArrayLike) -> SplitConformal:
        """``y_true`` and ``y_pred`` are calibration forecasts, ``n_origins × horizon`` (or 1-D for one step)."""
        s = scores(y_true, y_pred, self.scale)
        s = s[:, None] if s.ndim == 1 else s
        self.widths = np.array([conformal_quantile(s[:, k], self.level) for k in range(s.shape[1])])
        return self

    def interval(self, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Bounds for ``n_origins × horizon`` (or 1-D one-step) point forecasts."""
        p = np.asarray(y_pred, dtype=float)
        if not len(self.widths):
            raise ValueError("SplitConformal: call fit first")
        width = self.widths[: p.shape[1]][None, :] if p.ndim == 2 else self.widths[0]
        return bounds(p, width, self.scale)


@dataclass
class AdaptiveConformal:
    """Adaptive conformal inference for a stream of one-step forecasts.

    ``gamma`` is the step size of the level update (Gibbs & Candès suggest ~0.005–0.05; larger
    reacts faster and wobbles more). ``window`` keeps the most recent scores, so old regimes
    stop setting the width. ``side="upper"`` gives a one-sided bound: the ``level`` quantile of the
    target (a capacity to provision), from signed errors, missed when the truth exceeds it; with
    ``bounded`` it never becomes infinite (a fleet cannot be)."""

    level: float = 0.8
    scale: Scale = "log"
    gamma: float = 0.02
    window: int | None = 2000
    side: Literal["both", "upper"] = "both"
    bounded: bool = False  # when the level asks for more than every score seen: the largest score, not infinity

    def _scores(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        return signed_residuals(y, p, self.scale) if self.side == "upper" else scores(y, p, self.scale)

    def run(self, y_true: ArrayLike, y_pred: ArrayLike, *, calibration: ArrayLike | None = None,
            calibration_pred: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Intervals for each forecast in turn, each from the scores seen before it (and the
        optional calibration pairs); the truth then updates the level. NaN truths are skipped.
        With ``side="upper"`` the lower bounds are NaN."""
        y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
        history: list[float] = []
        if calibration is not None and calibration_pred is not None:
            found = self._scores(np.asarray(calibration, dtype=float), np.asarray(calibration_pred, dtype=float))
            history = [float(v) for v in found if not math.isnan(v)]
        target = 1.0 - self.level
        alpha = target
        upper_only = self.side == "upper"
        lower, upper = np.full(len(y), np.nan), np.full(len(y), np.nan)
        for t in range(len(y)):
            recent = history[-self.window:] if self.window else history
            if not recent:
                width = math.inf
            elif 1.0 - alpha >= 1.0:  # alpha at or below zero (or too small to leave a level below one)
                width = max(recent) if self.bounded else math.inf
            elif alpha >= 1:
                width = -math.inf if upper_only else 0.0
            else:
                width = conformal_quantile(recent, 1.0 - alpha, cap_at_max=self.bounded)
            if upper_only:
                upper[t] = _upper_bound(p[t], width, self.scale)
                missed = y[t] > upper[t]
            else:
                lo, hi = bounds(p[t : t + 1], np.array([width]), self.scale)
                lower[t], upper[t] = lo[0], hi[0]
                missed = not lower[t] <= y[t] <= upper[t]
            if math.isnan(y[t]) or math.isnan(p[t]):
                continue
            alpha += self.gamma * (target - float(missed))
            history.append(float(self._scores(y[t : t + 1], p[t : t + 1])[0]))
        return lower, upper


def _upper_bound(point: float, shift: float, scale: Scale) -> float:
    """The forecast moved up (or down, for a negative shift) by ``shift`` on ``scale``, never below zero."""
    if math.isinf(shift):
        return math.inf if shift > 0 else 0.0
    p = np.array([max(point, 0.0)])
    if scale == "relative":
        return float(max(point * (1.0 + shift), 0.0))
    if scale == "absolute":
        return float(max(point + shift, 0.0))
    return float(max(_back(_forward(p, scale) + shift, scale)[0], 0.0))
