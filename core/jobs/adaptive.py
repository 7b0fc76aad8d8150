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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.forecast.arrivals import adaptive_upper_bounds
from core.forecast.intervals import AdaptiveConformal
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
            stream = adaptive_upper_bounds(aci, rows["actual"], rows[request_column(q)], issued_at=rows["run_date"],
                                known_at=rows["known_at"], calibration=None if first is None else first.actual,
                                calibration_pred=None if first is None else first.base[q],
                                recalibrations=[(c.start, c.actual, c.base[q]) for c in later if c is not None])
            # Each quantile adapts on its own misses; a request is then lifted to the one below it if needed.
            floor = np.maximum(floor, stream.requests)
            out.loc[index, request_column(q)] = floor
            reached[f"{q:.2f}"] = {"alpha": stream.alpha, "margin": stream.margin}
        levels[(str(algorithm), str(target))] = reached
    return out, levels
