"""Requests that adapt to recent misses: adaptive conformal inference on top of the ratio table.

A run's *base* request is its prediction × the split-conformal ratio of its history group
(:func:`core.jobs.evaluation.split_factor`). Under drift those frozen ratios under-cover, so runs
are taken in time order and the level is moved by the rule of
:class:`core.forecast.intervals.AdaptiveConformal` (Gibbs & Candès, 2021):
``alpha <- alpha + gamma (alpha_target - miss)``, ``miss`` saying whether a finished run used more
than the request it was actually given. A request issued now is its base × ``exp(margin)``, the
margin being the ``(1 - alpha)`` conformal quantile of ``log(1 + actual) - log(1 + base)`` over the
latest finished runs, so it can also shrink below the base when recent runs fit well inside it.

A truth counts only once it is known: when its flow (every stage of the block started at that run
date, run one after another) has finished, before the next request is issued. Siblings of one
launch never learn from each other, and a request never depends on a run that finished after it
was issued.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.forecast.intervals import AdaptiveConformal, bounds, conformal_rank, scores
from core.jobs.evaluation import QUANTILES, RatioTable, split_factor

# The level's step. Outcomes arrive a launch at a time (tens to hundreds of stage runs started together,
# which miss together after a tool change), so the level takes one step per batch of outcomes,
# gamma × (target - the batch's miss rate): per-run steps would let one launch of 500 runs throw it far
# outside [0, 1] (and clamping it there forgets the misses, which kept the ensemble above 10% in the
# backtest). 0.01 is from Gibbs & Candès's range (0.005-0.05), chosen on the first six backtest months
# only (2023-07..12: the least over-provision with LightGBM and the ensemble at <= 10% misses) and
# scored on the next six (docs/jobs.md).
ADAPTIVE_GAMMA = 0.01
# The latest finished runs whose log ratios set the margin (the shared default: ~4 months of launches here).
ADAPTIVE_WINDOW = 2000

AdaptiveLevels = dict[str, dict[str, float]]  # quantile key ("0.90") -> {"alpha": ..., "margin": ...}


@dataclass(frozen=True)
class AdaptiveStream:
    """Requests for a stream of runs, and where the rule stands once every known truth is in."""

    requests: np.ndarray
    alpha: float  # the level reached: a request issued now aims to cover 1 - alpha of runs
    margin: float  # log scale: a request issued now is its base × exp(margin)


@dataclass(frozen=True)
class Calibration:
    """The runs a ratio table was measured on: actual values and base requests per quantile, and
    from when the model they calibrate serves (None: from the start of the stream)."""

    actual: np.ndarray
    base: dict[float, np.ndarray]
    start: pd.Timestamp | None = None


def calibration(actual: ArrayLike, predicted: ArrayLike, table: RatioTable, groups: np.ndarray,
                start: pd.Timestamp | None = None) -> Calibration:
    """Pairs the adaptive rule starts its scores from: held-out runs and their split-conformal requests."""
    p = np.asarray(predicted, dtype=float)
    return Calibration(np.asarray(actual, dtype=float), {q: p * split_factor(table, groups, q) for q in QUANTILES},
                       start)


def flow_finish(runs: pd.DataFrame) -> pd.Series:
    """When each run's outcome is known: its run date plus the runtime of every stage of its flow
    (the runs of the same platform and block started at that date), so never before it finished."""
    keys = [runs["run_date"], runs["platform"].astype(str), runs["block"].astype(str)]
    flow_seconds = runs["runtime_s"].astype(float).fillna(0.0).groupby(keys).transform("sum")
    return runs["run_date"] + pd.to_timedelta(flow_seconds.to_numpy(), unit="s")


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


def _run_upper(aci: AdaptiveConformal, y_true: ArrayLike, y_pred: ArrayLike, *, issued_at: ArrayLike,
               known_at: ArrayLike, calibration: ArrayLike | None = None, calibration_pred: ArrayLike | None = None,
               recalibrations: Sequence[tuple[pd.Timestamp, ArrayLike, ArrayLike]] = ()) -> AdaptiveStream:
    # TODO(lead): move to core.forecast.intervals, as AdaptiveConformal.run(..., side="upper",
    # issued_at=..., known_at=..., recalibrations=...) returning the final (alpha, width) too.
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


def request_column(quantile: float) -> str:
    return f"request_q{round(quantile * 100)}"


def adapt_requests(predictions: pd.DataFrame, calibrations: Mapping[tuple[str, str], Sequence[Calibration]],
                   *, gamma: float = ADAPTIVE_GAMMA, window: int | None = ADAPTIVE_WINDOW,
                   ) -> tuple[pd.DataFrame, dict[tuple[str, str], AdaptiveLevels]]:
    """Per algorithm and target, the ``request_q*`` columns (split-conformal requests) replaced by
    adaptive ones, runs in time order (``run_date`` issued, ``known_at`` known), with the scores
    starting from ``calibrations[(algorithm, target)]`` (the first, then each later one from its
    ``start``: a retrained model); and the levels reached at the end. A request is never below the
    one at a lower quantile. ``known_at`` is dropped from the result."""
    out = predictions.drop(columns="known_at")
    levels: dict[tuple[str, str], AdaptiveLevels] = {}
    for (algorithm, target), index in predictions.groupby(["algorithm", "target"], sort=False).groups.items():
        rows = predictions.loc[index]
        first, *later = calibrations.get((str(algorithm), str(target)), [None])
        floor = np.zeros(len(rows))
        reached: AdaptiveLevels = {}
        for q in QUANTILES:
            aci = AdaptiveConformal(level=q, scale="log", gamma=gamma, window=window)
            stream = _run_upper(aci, rows["actual"], rows[request_column(q)], issued_at=rows["run_date"],
                                known_at=rows["known_at"], calibration=None if first is None else first.actual,
                                calibration_pred=None if first is None else first.base[q],
                                recalibrations=[(c.start, c.actual, c.base[q]) for c in later if c is not None])
            # Each quantile adapts on its own misses; a request is then lifted to the one below it if needed.
            floor = np.maximum(floor, stream.requests)
            out.loc[index, request_column(q)] = floor
            reached[f"{q:.2f}"] = {"alpha": stream.alpha, "margin": stream.margin}
        levels[(str(algorithm), str(target))] = reached
    return out, levels
