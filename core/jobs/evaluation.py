"""Scores of held-out predictions, per target and per stage, and conformal-style requests.

A *request* is a prediction multiplied by a quantile of actual/predicted ratios measured
on runs the model did not train on, per history bucket (how many earlier runs of the block+stage),
times a margin that adaptive conformal inference moves with recent misses (``core.jobs.adaptive``).
Its cost is read from the under-prediction rate (share of runs that would exceed it) and
the median over-provision (request / actual).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.forecast.intervals import conformal_quantile as shared_conformal_quantile
from core.jobs.history import history_depth
from core.ml.metrics import mae, mape, median_over_provision, r2, under_prediction_rate

QUANTILES = (0.90, 0.95, 0.99)
DEFAULT_QUANTILE = 0.90
UNITS = {"runtime": "s", "memory": "MB"}
# Predictions are floored at one unit (1 s, 1 MB) before dividing, so a near-zero
# prediction of a near-zero runtime does not produce an infinite ratio.
_RATIO_FLOOR = 1.0
_MIN_STAGE_RUNS = 30

RatioTable = dict[str, dict]


def ratios(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return np.asarray(actual, dtype=float) / np.maximum(np.asarray(predicted, dtype=float), _RATIO_FLOOR)


def calibration_factor(actual: np.ndarray, predicted: np.ndarray) -> float:
    """The reference's calibration factor: p90 of actual/predicted on held-out runs, floored at 1."""
    r = ratios(actual, predicted)
    r = r[np.isfinite(r)]
    return float(max(1.0, np.quantile(r, 0.90))) if r.size else float("nan")


def conformal_quantile(values: np.ndarray, q: float) -> float:
    """The split-conformal quantile (the shared rule of ``core.forecast.intervals``): the
    ceil((n + 1) q)-th smallest of n ratios, capped at the largest when n is too small."""
    return shared_conformal_quantile(values, q, cap_at_max=True)


def calibration_groups(stages: pd.Series | np.ndarray, history_counts: pd.Series | np.ndarray) -> np.ndarray:
    """Each run's calibration group: how much history it has (``h``: 3+ earlier runs of the same
    block and stage, ``f``: 1-2, ``n``: none), labelled ``*|h`` etc. Runs with history are predicted
    far better, so their requests need a smaller margin than brand-new blocks or stages. Groups are
    not split further by stage: in the rolling-origin backtest per-stage ratio quantiles (from a few
    dozen runs each) under-covered later runs more often than the pooled ones, and a stage never
    seen before has no group of its own anyway. ``stages`` is kept for the signature's sake."""
    bucket = np.array(["h", "f", "n"])[history_depth(history_counts)]
    return np.char.add(np.full(len(bucket), "*|"), bucket)


def _bucket(groups: np.ndarray) -> np.ndarray:
    return np.array([g.rsplit("|", 1)[-1] for g in groups], dtype=str)


def ratio_table(actual: np.ndarray, predicted: np.ndarray, groups: np.ndarray,
                quantiles: tuple[float, ...] = QUANTILES) -> RatioTable:
    """Quantiles of actual/predicted overall, per history bucket and per calibration group
    (see :func:`calibration_groups`). A group needs enough runs for a quantile to mean
    something: at least max(30, 5 / (1 - q)) of them."""
    r = ratios(actual, predicted)
    ok = np.isfinite(r)
    r, groups = r[ok], np.asarray(groups, dtype=str)[ok]
    buckets = _bucket(groups)
    table: RatioTable = {"global": {}, "bucket": {}, "group": {}}
    for q in quantiles:
        key = f"{q:.2f}"
        table["global"][key] = conformal_quantile(r, q) if r.size else 1.0
        need = max(_MIN_STAGE_RUNS, int(np.ceil(5 / (1 - q))))
        for level, labels in (("bucket", buckets), ("group", groups)):
            for label in np.unique(labels):
                sr = r[labels == label]
                if sr.size >= need:
                    table[level].setdefault(str(label), {})[key] = conformal_quantile(sr, q)
    return table


def _factor(values: dict[str, float], key: str, quantile: float, fallback: float) -> float:
    if key in values:
        return values[key]
    # Too few runs for this quantile: the coarser level's, never below this level's lower quantiles.
    return max([fallback, *[v for k, v in values.items() if float(k) < quantile]])


def split_factor(table: RatioTable, groups: pd.Series | np.ndarray, quantile: float) -> np.ndarray:
    """Per-row split-conformal multiplier at ``quantile``: the group's ratio quantile, else its
    history bucket's, else the global one."""
    key = f"{quantile:.2f}"
    if key not in table["global"]:
        raise ValueError(f"quantile {quantile} was not calibrated (have {', '.join(table['global'])})")
    overall = table["global"][key]
    per_bucket = {b: _factor(v, key, quantile, overall) for b, v in table["bucket"].items()}
    cache: dict[str, float] = {}
    out = np.empty(len(groups))
    for i, group in enumerate(np.asarray(groups, dtype=str)):
        if group not in cache:
            bucket_value = per_bucket.get(group.rsplit("|", 1)[-1], overall)
            values = table["group"].get(group)
            cache[group] = bucket_value if values is None else _factor(values, key, quantile, bucket_value)
        out[i] = cache[group]
    return out


def request_factor(table: RatioTable, groups: pd.Series | np.ndarray, quantile: float) -> np.ndarray:
    """Per-row multiplier turning a prediction into a request at ``quantile``: the split-conformal
    factor (:func:`split_factor`) times ``exp(margin)``, the adaptive margin stored with the table:
    where adaptive conformal stood on the latest known runs (``core.jobs.adaptive``; older models
    have none). With margins, a request is never below the one at a lower quantile."""
    adaptive = table.get("adaptive") or {}
    if not adaptive:
        return split_factor(table, groups, quantile)
    levels = [float(k) for k in table["global"] if float(k) <= quantile + 1e-9] or [quantile]
    return np.max([split_factor(table, groups, q) * math.exp(adaptive.get(f"{q:.2f}", {}).get("margin", 0.0))
                   for q in levels], axis=0)


def target_scores(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """R² on log(1+x) and linear, MAE, MAPE (fraction, denominators floored at one unit), calibration."""
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    return {
        "n": int(a.size),
        "r2_log": r2(np.log1p(a), np.log1p(p)),
        "r2": r2(a, p),
        "mae": mae(a, p),
        "mape": mape(a, p, floor=_RATIO_FLOOR),
        "calibration": calibration_factor(a, p),
    }


def request_scores(actual: np.ndarray, requested: np.ndarray) -> dict[str, float]:
    return {"under_rate": under_prediction_rate(actual, requested),
            "over_provision": median_over_provision(actual, requested)}


def scorecard(predictions: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """One row per algorithm and target (and value of the ``by`` column, e.g. ``stage`` or
    ``history``), from long-format held-out predictions with columns algorithm, target, stage,
    actual, predicted, request_q90/q95/q99."""
    keys = ["algorithm", "target"] + ([by] if by else [])
    rows = []
    for key, group in predictions.groupby(keys, sort=True):
        row = dict(zip(keys, key, strict=True))
        row.update(target_scores(group["actual"].to_numpy(), group["predicted"].to_numpy()))
        for q in QUANTILES:
            column = f"request_q{round(q * 100)}"
            if column in group:
                scores = request_scores(group["actual"].to_numpy(), group[column].to_numpy())
                row[f"under_q{round(q * 100)}"] = scores["under_rate"]
                row[f"over_q{round(q * 100)}"] = scores["over_provision"]
        rows.append(row)
    return pd.DataFrame(rows)


def under_prediction_curve(predictions: pd.DataFrame) -> pd.DataFrame:
    """Under-prediction rate and median over-provision per quantile: the cost of safety."""
    rows = []
    for (algorithm, target), group in predictions.groupby(["algorithm", "target"], sort=True):
        for q in QUANTILES:
            column = f"request_q{round(q * 100)}"
            scores = request_scores(group["actual"].to_numpy(), group[column].to_numpy())
            rows.append({"algorithm": algorithm, "target": target, "quantile": q, **scores})
    return pd.DataFrame(rows)
