"""A whole demand backtest as one result: forecasts, intervals, the choice, the leaderboard and the
bottom-up totals. Built by ``evaluate``; ``with_choice`` switches strategy or overrides a series'
model without refitting anything (every model's forecasts are already in the frame).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from core.demand import config
from core.demand.backtest import KEYS, Progress, Windows, default_horizon, plan_windows, run_parts, series_scales
from core.demand.choice import (
    CHOSEN,
    Choice,
    choose,
    forecast_of,
    leaderboard,
    mean_mase,
    pick_strategy,
    strategy_table,
)
from core.demand.data import DemandData
from core.demand.models import check_models
from core.errors import InputError
from core.forecast.horizon_quantiles import add_quantiles

LEVELS = {"lo": (1 - config.INTERVAL_LEVEL) / 2, "hi": 1 - (1 - config.INTERVAL_LEVEL) / 2}


@dataclass(frozen=True)
class BacktestSettings:
    horizon: int | None = None  # steps; None: a default for the data's step
    test_start: pd.Timestamp | None = None  # None: the last windows (config.DEFAULT_EVAL_WINDOWS) are scored
    models: tuple[str, ...] = config.DEFAULT_MODELS
    select_windows: int | None = None  # None: config.SELECT_WINDOWS


def interval_pool(horizon: int) -> int:
    """Neighbouring steps whose errors an interval at one step shares (a quarter of the horizon)."""
    return max(1, horizon // 4)


@dataclass(frozen=True)
class DemandBacktest:
    """Every model's forecasts on the selection and evaluation windows (``frame``: ``series_id, cutoff,
    ds, step, y, part``, a column per model and ``chosen``, each with ``_lo``/``_hi`` of the 95 % interval)."""

    frame: pd.DataFrame
    models: tuple[str, ...]
    windows: Windows
    scales: dict[str, float]
    choices: dict[str, Choice]
    strategies: pd.DataFrame
    strategy: str
    default_strategy: str
    units: dict[str, str]
    series_meta: pd.DataFrame  # series_id, region, metric
    seconds: float
    overrides: dict[str, str] = field(default_factory=dict)
    reused: bool = False  # loaded from the store: the data and settings had not changed

    @property
    def choice(self) -> Choice:
        base = self.choices[self.strategy]
        models = {**base.models, **{s: (m,) for s, m in self.overrides.items()}}
        return Choice(self.strategy, models)

    @property
    def horizon(self) -> int:
        return self.windows.horizon

    @property
    def candidates(self) -> list[str]:
        return [m for m in self.models if m != config.BASELINE]

    @cached_property
    def leaderboard(self) -> pd.DataFrame:
        board = leaderboard(self.frame, list(self.models), self.scales, self.choice)
        return board.merge(self.series_meta, on="series_id", how="left")

    @cached_property
    def choice_table(self) -> pd.DataFrame:
        """Per series: what it forecasts with, and the choice's and the baseline's evaluation MASE."""
        board = self.leaderboard
        rows = []
        for sid in self.series_meta["series_id"]:
            own = board[board["series_id"] == sid].set_index("model")
            if CHOSEN not in own.index:
                continue
            rows.append({"series_id": sid, "uses": self.choice.label(sid),
                         "overridden": sid in self.overrides, "mase": own.loc[CHOSEN, "mase"],
                         "baseline_mase": own.loc[config.BASELINE, "mase"],
                         "beats_baseline": bool(own.loc[CHOSEN, "beats_baseline"]),
                         "coverage": own.loc[CHOSEN].get("coverage", np.nan)})
        return pd.DataFrame(rows).merge(self.series_meta, on="series_id", how="left")

    @cached_property
    def summary(self) -> dict[str, float | int | str | bool]:
        evaluation = self.frame[self.frame["part"] == "evaluation"]
        uses = self.choice_table
        return {"strategy": self.strategy, "default_strategy": self.default_strategy,
                "chosen_mase": mean_mase(evaluation, CHOSEN, self.scales),
                "chosen_median_mase": float(uses["mase"].median()) if len(uses) else np.nan,
                "baseline_mase": mean_mase(evaluation, config.BASELINE, self.scales),
                "series": int(len(uses)), "series_on_baseline": int((uses["uses"] == config.BASELINE).sum()),
                "nothing_beats_baseline": bool(len(uses) and (uses["uses"] == config.BASELINE).all()),
                "coverage": float(np.nanmean(uses["coverage"])) if len(uses) else np.nan,
                "horizon": self.horizon, "test_start": str(self.windows.test_start), "seconds": round(self.seconds, 1),
                "reused": self.reused}

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Bottom-up totals of the additive metrics: the sum of the regions' chosen forecasts against the
        real total, beside the sum of their seasonal-naive forecasts (a total is NaN where a region is)."""
        frame = self.frame.merge(self.series_meta, on="series_id", how="left")
        additive = [m for m in self.series_meta["metric"].unique()
                    if self.units.get(m, "") not in config.NON_ADDITIVE_UNITS]
        frame = frame[frame["metric"].isin(additive)]
        if frame.empty:
            return pd.DataFrame(columns=["metric", "cutoff", "ds", "step", "part", "y", CHOSEN, config.BASELINE])
        cols = ["y", CHOSEN, config.BASELINE]
        groups = frame.groupby(["metric", "cutoff", "ds", "step", "part"], sort=True)
        complete = groups[cols].count().eq(groups.size(), axis=0)
        return groups[cols].sum(min_count=1).where(complete).reset_index()

    @cached_property
    def totals_table(self) -> pd.DataFrame:
        """Per additive metric, the reconciled total's WAPE on the evaluation windows (chosen vs baseline)."""
        rows = []
        for metric, part in self.totals[self.totals["part"] == "evaluation"].groupby("metric"):
            ok = part["y"].notna() & part[CHOSEN].notna()
            if not ok.any():
                continue
            denom = part.loc[ok, "y"].abs().sum()
            rows.append({"metric": metric, "region": config.TOTAL_REGION,
                         "wape": float((part.loc[ok, "y"] - part.loc[ok, CHOSEN]).abs().sum() / denom),
                         "baseline_wape": float((part.loc[ok, "y"] - part.loc[ok, config.BASELINE]).abs().sum()
                                                / denom), "points": int(ok.sum())})
        return pd.DataFrame(rows)

    def predictions(self) -> pd.DataFrame:
        """The CLI's P.csv: the evaluation windows, one row per model and target time, the choice as
        model ``chosen``: ``series, model, cutoff, ds, y_true, y_pred, lo, hi``."""
        evaluation = self.frame[self.frame["part"] == "evaluation"]
        parts = []
        for model in [*self.models, CHOSEN]:
            parts.append(pd.DataFrame({"series": evaluation["series_id"], "model": model,
                                       "cutoff": evaluation["cutoff"], "ds": evaluation["ds"],
                                       "y_true": evaluation["y"], "y_pred": evaluation[model],
                                       "lo": evaluation.get(f"{model}_lo"), "hi": evaluation.get(f"{model}_hi")}))
        return pd.concat(parts, ignore_index=True)

    def with_choice(self, strategy: str | None = None, overrides: Mapping[str, str] | None = None) -> DemandBacktest:
        """The same backtest forecasting with another strategy or with some series' model overridden."""
        strategy = strategy or self.strategy
        if strategy not in self.choices:
            raise InputError(f"unknown strategy '{strategy}'; choose from {', '.join(self.choices)}")
        overrides = dict(self.overrides if overrides is None else overrides)
        for sid, model in overrides.items():
            if model not in self.models:
                raise InputError(f"series '{sid}': '{model}' was not in this backtest ({', '.join(self.models)})")
        result = replace(self, strategy=strategy, overrides=overrides)
        return replace(result, frame=_with_chosen(self.frame, result.choice, self.horizon))


def _with_chosen(frame: pd.DataFrame, choice: Choice, horizon: int) -> pd.DataFrame:
    out = frame.drop(columns=[c for c in frame.columns if c.startswith(CHOSEN)])
    out[CHOSEN] = forecast_of(out, choice)
    return add_quantiles(out, CHOSEN, {"lo": LEVELS["lo"], "hi": LEVELS["hi"]}, pool=interval_pool(horizon),
                         min_scores=config.MIN_INTERVAL_SCORES)


def evaluate(data: DemandData, settings: BacktestSettings | None = None, *,
             progress: Progress | None = None, n_jobs: int = config.N_JOBS) -> DemandBacktest:
    """Run the backtest, choose on the selection windows, score on the evaluation windows."""
    started = time.perf_counter()
    settings = settings or BacktestSettings()
    report = progress or (lambda _f, _m: None)
    models = check_models(settings.models)
    horizon = settings.horizon or default_horizon(data)
    windows = plan_windows(data, horizon, settings.test_start, settings.select_windows)
    frame = run_parts(data, models, windows, n_jobs=n_jobs, progress=lambda f, m: report(0.9 * f, m))
    report(0.92, "intervals and choice")
    for model in models:
        frame = add_quantiles(frame, model, LEVELS, pool=interval_pool(horizon), min_scores=config.MIN_INTERVAL_SCORES)
    scales = series_scales(data, windows.selection[0])
    candidates = [m for m in models if m != config.BASELINE]
    choices = choose(frame, candidates, scales)
    default, inner = pick_strategy(frame, candidates, scales)
    strategies = strategy_table(frame, choices, scales)
    strategies.insert(3, "inner_mase", strategies["strategy"].map(inner))
    meta = data.panel.drop_duplicates("series_id")[["series_id", "region", "metric"]].reset_index(drop=True)
    result = DemandBacktest(frame=frame, models=models, windows=windows, scales=scales, choices=choices,
                            strategies=strategies, strategy=default, default_strategy=default,
                            units=dict(data.units), series_meta=meta, seconds=0.0)
    result = replace(result, frame=_with_chosen(frame, result.choice, horizon),
                     seconds=time.perf_counter() - started)
    report(1.0, "backtest done")
    return result


__all__ = ["KEYS", "BacktestSettings", "DemandBacktest", "evaluate"]
