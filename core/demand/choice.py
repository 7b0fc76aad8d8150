"""The honest choice: made on the selection windows, scored on the evaluation windows.

Three strategies, each chosen on the selection windows only:
- ``per_series``: each series' lowest-MAE model there;
- ``global``: the one model with the lowest mean MASE across series there;
- ``ensemble``: the mean of each series' best ``ENSEMBLE_SIZE`` models there.
A model is only used where it beat seasonal naive on the selection windows; a series where nothing
did keeps seasonal naive. Per-series choice by backtest error overfits on few windows, which is why
all three are scored on the later windows. The default strategy is the one that scored best out of
sample *without* looking at those windows (``pick_strategy``): the strategies choose on the earlier
half of the selection windows and are scored on the later half, so the evaluation windows score a
default that was picked before them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.demand import config
from core.errors import InputError
from core.ml.metrics import mae, rmse, smape

CHOSEN = "chosen"


@dataclass(frozen=True)
class Choice:
    """What each series forecasts with: the mean of ``models[series]`` (one model, or an ensemble)."""

    strategy: str
    models: dict[str, tuple[str, ...]]

    def label(self, series_id: str) -> str:
        names = self.models.get(series_id, (config.BASELINE,))
        return names[0] if len(names) == 1 else " + ".join(names)


def _mae_table(frame: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """MAE of each model per series (rows) over ``frame``; NaN forecasts and truths skipped."""
    out = {}
    for model in models:
        err = (frame["y"] - frame[model]).abs()
        out[model] = err.groupby(frame["series_id"], sort=False).mean()
    return pd.DataFrame(out)


def choose(frame: pd.DataFrame, candidates: Sequence[str], scales: Mapping[str, float]) -> dict[str, Choice]:
    """The three strategies' choices from the ``selection`` rows of a backtest frame. ``candidates``
    lists the models simplest first (ties go to the simpler one); the baseline is not among them."""
    select = frame[frame["part"] == "selection"]
    if select.empty:
        raise InputError("the backtest has no selection windows to choose on")
    table = _mae_table(select, [config.BASELINE, *candidates])
    base = table[config.BASELINE]
    per_series: dict[str, tuple[str, ...]] = {}
    ensemble: dict[str, tuple[str, ...]] = {}
    for sid, row in table.iterrows():
        better = [m for m in candidates if np.isfinite(row[m]) and row[m] < base[sid] * (1 - 1e-9)]
        ranked = sorted(better, key=lambda m: (row[m], candidates.index(m)))
        per_series[str(sid)] = (ranked[0],) if ranked else (config.BASELINE,)
        ensemble[str(sid)] = tuple(ranked[: config.ENSEMBLE_SIZE]) or (config.BASELINE,)
    scale = pd.Series({sid: scales.get(str(sid), np.nan) for sid in table.index})
    pooled = table.div(scale, axis=0).mean(skipna=True)
    best = min(candidates, key=lambda m: (pooled.get(m, np.inf), candidates.index(m)), default=config.BASELINE)
    one = best if pooled.get(best, np.inf) < pooled[config.BASELINE] * (1 - 1e-9) else config.BASELINE
    everywhere: dict[str, tuple[str, ...]] = {str(sid): (one,) for sid in table.index}
    return {"per_series": Choice("per_series", per_series), "global": Choice("global", everywhere),
            "ensemble": Choice("ensemble", ensemble)}


def forecast_of(frame: pd.DataFrame, choice: Choice) -> np.ndarray:
    """The choice's forecast on every row of ``frame``: the mean of each series' chosen models."""
    out = np.full(len(frame), np.nan)
    for sid, rows in frame.groupby("series_id", sort=False).groups.items():
        where = frame.index.get_indexer(rows)
        names = choice.models.get(str(sid), (config.BASELINE,))
        out[where] = frame.loc[rows, list(names)].to_numpy(dtype=float).mean(axis=1)
    return out


def mean_mase(frame: pd.DataFrame, column: str, scales: Mapping[str, float]) -> float:
    """The mean over series of MAE / scale."""
    err = (frame["y"] - frame[column]).abs().groupby(frame["series_id"], sort=False).mean()
    scaled = [e / scales[str(s)] for s, e in err.items() if np.isfinite(e) and scales.get(str(s), 0) > 0]
    return float(np.mean(scaled)) if scaled else np.nan


def strategy_table(frame: pd.DataFrame, choices: Mapping[str, Choice], scales: Mapping[str, float]) -> pd.DataFrame:
    """Each strategy's mean MASE on the selection windows (where it was chosen) and on the evaluation
    windows (out of sample), with the baseline's beside them; sorted best-out-of-sample first."""
    rows = []
    evaluation = frame[frame["part"] == "evaluation"]
    selection = frame[frame["part"] == "selection"]
    for name, choice in choices.items():
        column = forecast_of(frame, choice)
        with_col = frame.assign(_f=column)
        distinct = sorted({m for names in choice.models.values() for m in names})
        rows.append({"strategy": name, "label": config.STRATEGY_LABELS[name],
                     "selection_mase": mean_mase(with_col[frame["part"] == "selection"], "_f", scales),
                     "evaluation_mase": mean_mase(with_col[frame["part"] == "evaluation"], "_f", scales),
                     "models_used": ", ".join(distinct)})
    out = pd.DataFrame(rows)
    out["baseline_evaluation_mase"] = mean_mase(evaluation, config.BASELINE, scales)
    out["baseline_selection_mase"] = mean_mase(selection, config.BASELINE, scales)
    order = {s: i for i, s in enumerate(config.STRATEGIES)}
    return out.sort_values(["evaluation_mase", "strategy"], key=lambda c: c.map(order) if c.name == "strategy" else c,
                           kind="stable").reset_index(drop=True)


def pick_strategy(frame: pd.DataFrame, candidates: Sequence[str], scales: Mapping[str, float]) -> tuple[str, pd.Series]:
    """The default strategy and each strategy's inner out-of-sample MASE: choices made on the earlier
    half of the selection windows, scored on the later half (the evaluation windows are not read).
    With fewer than two selection windows: the ensemble, the least overfitting strategy."""
    cutoffs = np.sort(frame.loc[frame["part"] == "selection", "cutoff"].unique())
    if len(cutoffs) < 2:
        return "ensemble", pd.Series(np.nan, index=list(config.STRATEGIES))
    later = cutoffs[len(cutoffs) // 2]
    selection = frame["part"] == "selection"
    inner = frame[selection].assign(part=np.where(frame.loc[selection, "cutoff"] < later, "selection", "evaluation"))
    table = strategy_table(inner, choose(inner, candidates, scales), scales)
    return str(table["strategy"].iloc[0]), table.set_index("strategy")["evaluation_mase"]


def leaderboard(frame: pd.DataFrame, models: Sequence[str], scales: Mapping[str, float],
                choice: Choice | None = None) -> pd.DataFrame:
    """Series × model on the evaluation windows: MASE, MAE, RMSE, sMAPE, WAPE, the 95 % interval's
    coverage where there is one, whether it beats seasonal naive, and whether the choice uses it."""
    evaluation = frame[frame["part"] == "evaluation"]
    rows = []
    for sid, part in evaluation.groupby("series_id", sort=True):
        base = mae(*_known(part, config.BASELINE))
        for model in [*models, CHOSEN]:
            if model not in part.columns:
                continue
            truth, pred = _known(part, model)
            if not len(truth):
                continue
            error = mae(truth, pred)
            row = {"series_id": sid, "model": model, "mase": error / scales.get(str(sid), np.nan),
                   "mae": error, "rmse": rmse(truth, pred), "smape": smape(truth, pred),
                   "wape": float(np.abs(truth - pred).sum() / max(np.abs(truth).sum(), 1e-12)),
                   "beats_baseline": bool(error < base * (1 - 1e-9)), "n": len(truth)}
            if f"{model}_lo" in part.columns:
                lo, hi, y = part[f"{model}_lo"], part[f"{model}_hi"], part["y"]
                framed = lo.notna() & y.notna()
                row["coverage"] = float(((lo <= y) & (y <= hi))[framed].mean()) if framed.any() else np.nan
            row["chosen"] = bool(choice is not None and model in choice.models.get(str(sid), ()))
            rows.append(row)
    return pd.DataFrame(rows)


def _known(part: pd.DataFrame, model: str) -> tuple[np.ndarray, np.ndarray]:
    ok = part["y"].notna() & part[model].notna()
    return part.loc[ok, "y"].to_numpy(dtype=float), part.loc[ok, model].to_numpy(dtype=float)
