"""Per-series model choice that is scored honestly: chosen on earlier windows, scored on later ones.

A choice made and scored on the same windows flatters itself (with few windows it can lose 5-8%
to the best single model once scored out of sample). So the windows are split in time: the
model with the lowest MAE on the earlier ones is chosen, only if it beats the baseline there
(ties go to the simpler model, in the order given), and the table reports how the choice, the
baseline and every single model then did on the later windows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.errors import InputError


def choose_per_series(cv: pd.DataFrame, models: Sequence[str], *, baseline: str = "seasonal_naive",
                      select_share: float = 0.5) -> pd.DataFrame:
    """One row per series: ``chosen``, its and the baseline's MAE on the selection windows and on
    the later evaluation windows, and the best single model in hindsight on the evaluation windows.
    ``models`` lists candidates from simplest to most complex (the tie-break order)."""
    if baseline not in cv.columns:
        raise InputError(f"the backtest has no '{baseline}' baseline to fall back to")
    candidates = [m for m in models if m in cv.columns]
    cutoffs = np.sort(cv["cutoff"].unique())
    if len(cutoffs) < 2:
        raise InputError("honest selection needs at least two backtest windows (one to choose, one to score)")
    split = cutoffs[max(1, min(len(cutoffs) - 1, int(round(len(cutoffs) * select_share))))]
    rows = []
    for series_id, frame in cv.groupby("series_id", sort=True):
        select, evaluate = frame[frame["cutoff"] < split], frame[frame["cutoff"] >= split]
        chosen_mae = _mae(select, baseline)
        chosen = baseline
        for model in candidates:
            score = _mae(select, model)
            if score < chosen_mae * (1 - 1e-9):
                chosen, chosen_mae = model, score
        later = {m: _mae(evaluate, m) for m in dict.fromkeys([baseline, *candidates])}
        best = min(later, key=lambda m: (later[m], [baseline, *candidates].index(m)))
        rows.append({"series_id": series_id, "chosen": chosen, "selection_mae": chosen_mae,
                     "baseline_selection_mae": _mae(select, baseline), "evaluation_mae": later[chosen],
                     "baseline_evaluation_mae": later[baseline], "best_in_hindsight": best,
                     "best_evaluation_mae": later[best]})
    return pd.DataFrame(rows)


def _mae(frame: pd.DataFrame, model: str) -> float:
    known = frame["y"].notna() & frame[model].notna()
    return float(np.mean(np.abs(frame.loc[known, "y"] - frame.loc[known, model]))) if known.any() else np.inf
