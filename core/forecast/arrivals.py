"""Adaptive conformal for forecasts whose truths arrive late and in batches (a launch of batch jobs).

``AdaptiveConformal.run`` learns from each truth right after its forecast. Here each forecast has a
moment it is issued and a moment its truth becomes known (a job's flow finishing hours later, with
hundreds of sibling runs): every bound uses only truths known strictly before it was issued, and the
level takes one step per batch of truths arriving between two issue moments, ``alpha <- alpha +
gamma (target - the batch's miss rate)`` (one step per run would throw the level far outside [0, 1]
when 500 runs of one launch miss together). Scores are signed on the rule's scale, so the bound is
one-sided (a resource request). A retrained model can restart the scores from its own calibration
pairs while the level carries on.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.forecast.intervals import AdaptiveConformal, bounds, conformal_rank, scores


@dataclass(frozen=True)
class AdaptiveStream:
    """Upper bounds for a stream of forecasts, and where the rule stands once every known truth is in."""

    requests: np.ndarray  # the bound given to each forecast when it was issued
    alpha: float  # the level reached: a bound issued now aims to cover 1 - alpha of outcomes
    margin: float  # on the rule's scale: a bound issued now is the forecast moved up by this much


class _Window:
    """The latest ``size`` scores, kept sorted so a conformal quantile is one lookup."""

    def __init__(self, size: int | None) -> None:
        self.size, self.order, self.ranked = size, deque[float](), list[float]()

    def add(self, value: float) -> None:
        self.order.append(value)
        bisect.insort(self.ranked, value)
        if self.size and len(self.order) > self.size:
            del self.ranked[bisect.bisect_left(self.ranked, self.order.popleft())]

    def margin(self, alpha: float) -> float:
        """The ``1 - alpha`` conformal quantile (rank of ``core.forecast.intervals``); a request stays
        finite, so a level past the scores takes the largest (or, for alpha >= 1, the smallest)."""
        if not self.ranked:
            return 0.0
        level = 1.0 - alpha
        if level <= 0:
            return self.ranked[0]
        rank = conformal_rank(len(self.ranked), level) if level < 1 else None
        return self.ranked[-1] if rank is None else self.ranked[rank - 1]


def _signed_scores(y_true: ArrayLike, y_pred: ArrayLike, aci: AdaptiveConformal) -> np.ndarray:
    """The shared nonconformity scores, signed: positive when the truth is above the forecast."""
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return np.sign(y - p) * scores(y, p, aci.scale)


def _nanoseconds(moments: ArrayLike) -> np.ndarray:
    return pd.to_datetime(pd.Series(np.asarray(moments))).to_numpy(dtype="datetime64[ns]").view("int64")

def adaptive_upper_bounds(aci: AdaptiveConformal, y_true: ArrayLike, y_pred: ArrayLike, *, issued_at: ArrayLike,
               known_at: ArrayLike, calibration: ArrayLike | None = None, calibration_pred: ArrayLike | None = None,
               recalibrations: Sequence[tuple[pd.Timestamp, ArrayLike, ArrayLike]] = ()) -> AdaptiveStream:
    """One-sided (upper) adaptive conformal bounds at ``aci.level`` for forecasts issued at
    ``issued_at`` whose truths become known at ``known_at``. Each bound uses the level and scores
    of truths known strictly before it was issued, after the calibration pairs; the level takes one
    step per batch of truths arriving between two issue moments; NaN truths never count.
    ``recalibrations``: (moment, truths, forecasts) of a retrained model's calibration runs; from
    that moment the scores restart from them (the old model's errors no longer describe the new
    one), while the level carries on."""
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    issued = _nanoseconds(issued_at)
    known = np.maximum(_nanoseconds(known_at), issued + 1)  # never known when its own request is issued
    restarts = sorted(((int(_nanoseconds([moment])[0]), truth, pred) for moment, truth, pred in recalibrations),
                      key=lambda r: r[0])
    window = _Window(aci.window)

    def restart(truth: ArrayLike | None, pred: ArrayLike | None) -> None:
        nonlocal window
        window = _Window(aci.window)
        if truth is not None and pred is not None:
            for s in _signed_scores(truth, pred, aci):
                if not math.isnan(s):
                    window.add(float(s))

    restart(calibration, calibration_pred)
    target = 1.0 - aci.level
    alpha = target
    upper = np.full(len(y), np.nan)
    by_issue, by_known = np.argsort(issued, kind="stable"), np.argsort(known, kind="stable")
    arrived = 0

    def learn(until: int | None) -> None:
        nonlocal arrived, alpha
        batch = []
        while arrived < len(by_known) and (until is None or known[by_known[arrived]] <= until):
            j = by_known[arrived]
            arrived += 1
            if not (math.isnan(y[j]) or math.isnan(p[j]) or math.isnan(upper[j])):
                batch.append(j)
        if batch:
            alpha += aci.gamma * (target - float(np.mean(y[batch] > upper[batch])))
            for s in _signed_scores(y[batch], p[batch], aci):
                window.add(float(s))

    start = 0
    while start < len(by_issue):
        moment = issued[by_issue[start]]
        stop = int(np.searchsorted(issued[by_issue], moment, side="right"))
        learn(moment)
        while restarts and restarts[0][0] <= moment:
            restart(*restarts.pop(0)[1:])
        rows = by_issue[start:stop]
        upper[rows] = bounds(p[rows], np.full(len(rows), window.margin(alpha)), aci.scale)[1]
        start = stop
    learn(None)  # every truth in: where a request issued after the last run starts from
    return AdaptiveStream(upper, float(alpha), float(window.margin(alpha)))
