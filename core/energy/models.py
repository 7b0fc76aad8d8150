"""Energy's next-hour models behind the core's global protocol, and the honest choice of the one to deploy.

Every model is a ``core.forecast.global_forecaster.GlobalForecaster`` over ``HourlyPanel``s:
``fit(panel, seasons)`` on a panel whose held-out hours are hidden, ``forecast(panel, origins, 1)``
one hour ahead, reading each device only up to its origin. Energy adds one thing on top: a relative
interval (``core.forecast.intervals.signed_quantiles`` of held-out residuals as a share of the
past-week level) and ``predict(panel, d, h)``, the point and interval of target cells (device d, hour h).

Training is a pure function: a panel in, fitted models and held-out scores out. The hours are split
with the core's time-ordered holdout; every model fits before the cut; the model to deploy is chosen
with the core's rule (``choose_global``) on the earlier half of the held-out hours and scored on the
later half, which the choice never saw.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.energy.config import ALGORITHMS, DEFAULT_ALGORITHMS, EnergyConfig, energy_config
from core.energy.features import MIN_HISTORY, HourlyPanel, levels, tabular_features, target_cells
from core.energy.health import HealthMetrics, score_window
from core.errors import InputError
from core.forecast import baselines
from core.forecast.gbm import BoostedTrees, fit_boosted
from core.forecast.global_forecaster import (
    GlobalForecaster,
    PanelOrigins,
    PerSeries,
    choose_global,
    forecast_frame,
    holdout_split,
    panel_seasons,
)
from core.forecast.intervals import signed_quantiles
from core.forecast.protocol import Seasons
from core.ml import metrics

Progress = Callable[[float, str], None]
BASELINE = "seasonal-naive"  # the algorithm that is the baseline: always trained, deployed when nothing beats it
SIMPLEST_FIRST = (BASELINE, "lightgbm", "gru")  # the choice's tie-break order
YESTERDAY = "same hour yesterday"  # the baseline column of the choice


class NextHourForecaster(ABC):
    """An energy model: a ``GlobalForecaster[HourlyPanel]`` one hour ahead, with a relative interval
    calibrated on held-out residuals. Subclasses implement ``fit`` and ``predict_point``."""

    algorithm = "base"

    def __init__(self, max_train_rows: int | None = None) -> None:
        self.interval: tuple[float, float] = (0.0, 0.0)
        self.params: dict[str, Any] = {}
        self.max_train_rows = max_train_rows

    @property
    def name(self) -> str:
        return self.algorithm

    @abstractmethod
    def fit(self, panel: HourlyPanel, seasons: Seasons, progress: Progress | None = None) -> NextHourForecaster:
        """Train on every target cell of ``panel`` (hide held-out hours first: ``HourlyPanel.hidden_from``)."""

    @abstractmethod
    def predict_point(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Point forecasts of the cells (d[i], h[i]) from hours before h[i] only; NaN where it cannot."""

    def forecast(self, panel: HourlyPanel, origins: PanelOrigins, horizon: int) -> np.ndarray:
        """The protocol's forecast: ``len(origins) × 1``; energy's models forecast the next hour only."""
        if horizon != 1:
            raise ValueError(f"{self.algorithm} forecasts one hour ahead, not {horizon}")
        return np.asarray(self.predict_point(panel, origins.series, origins.at + 1), dtype=float)[:, None]

    def training_cells(self, panel: HourlyPanel) -> tuple[np.ndarray, np.ndarray]:
        """The panel's target cells in time order, a seeded sample of ``max_train_rows`` of them if more."""
        d, h = target_cells(panel)
        if len(d) == 0:
            raise InputError(f"not enough history to train: each device needs more than {MIN_HISTORY} hours")
        order = np.lexsort((d, h))
        d, h = d[order], h[order]
        if self.max_train_rows and len(d) > self.max_train_rows:
            pick = np.sort(np.random.default_rng(0).choice(len(d), self.max_train_rows, replace=False))
            d, h = d[pick], h[pick]
        return d, h

    def calibrate(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray, y_pred: np.ndarray, level: float) -> None:
        """Set the interval from held-out residuals, relative to each target's level."""
        rel = (panel.values[d, h] - y_pred) / levels(panel, d, h)
        if np.isfinite(rel).any():
            self.interval = signed_quantiles(rel, level)

    def predict(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point forecast and interval of the cells (d, h); NaN where the model lacks the history."""
        point = self.forecast(panel, PanelOrigins.before(d, h), 1)[:, 0]
        scale = levels(panel, d, h)
        lower = np.maximum(point + self.interval[0] * scale, 0.0)
        upper = point + self.interval[1] * scale
        return point, lower, upper


class SeasonalNaive(NextHourForecaster):
    """Same hour yesterday: the core's seasonal naive run per device (the season of an hourly grid, a
    day; a missing hour reads as the last known one before it, never one after the origin)."""

    algorithm = BASELINE

    def __init__(self, max_train_rows: int | None = None) -> None:
        super().__init__(max_train_rows)
        self.per_device = PerSeries(baselines.SeasonalNaive)

    def fit(self, panel: HourlyPanel, seasons: Seasons, progress: Progress | None = None) -> SeasonalNaive:
        self.per_device.fit(panel, seasons)
        return self

    def predict_point(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
        if len(d) == 0:
            return np.zeros(0)
        return self.per_device.forecast(panel, PanelOrigins.before(d, h), 1)[:, 0]

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A version saved before the move had no per-device model: give it the core's (a day's season).
        state.setdefault("per_device", PerSeries(baselines.SeasonalNaive, seasons=Seasons((24,))))
        state.setdefault("max_train_rows", None)
        self.__dict__.update(state)


# LightGBM settings kept from before the move to the core's wrapper. The number of trees is the core's
# default now: chosen by early stopping on the time-ordered last 15% of the training rows (it was a fixed
# 400); held-out RMSE ratio vs same hour yesterday 0.3844 -> 0.3805 on 60 simulated days x 10 devices
# (better on 4 of 4 simulated fleets, by 0.3-2.8%), 0.1507 -> 0.1494 on the Taylor metered demand.
TREE_PARAMS: dict[str, Any] = {"num_leaves": 31, "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1,
                               "colsample_bytree": 0.9, "reg_lambda": 0.0}


class LightGBMForecaster(NextHourForecaster):
    """One global gradient-boosting model over all devices (``core.forecast.gbm.fit_boosted``): lags and
    rolling means divided by the device's past-week level, local calendar and profile; it learns the
    load relative to that level, so devices of any size share one model."""

    algorithm = "lightgbm"

    def __init__(self, rounds: int | None = None, learning_rate: float = 0.05, n_jobs: int = 1,
                 max_train_rows: int | None = None, **params: Any) -> None:
        """``rounds``: a fixed number of trees; None: chosen by the core's early stopping when fit."""
        super().__init__(max_train_rows)
        self.rounds, self.learning_rate, self.n_jobs = rounds, learning_rate, n_jobs
        self.tree_params = {**TREE_PARAMS, **params}
        self.params = {"rounds": rounds, "learning_rate": learning_rate, "n_jobs": n_jobs, **self.tree_params}
        self.trees: BoostedTrees | None = None
        self.feature_names: list[str] = []

    def fit(self, panel: HourlyPanel, seasons: Seasons, progress: Progress | None = None) -> LightGBMForecaster:
        d, h = self.training_cells(panel)
        X, self.feature_names = tabular_features(panel, d, h)
        y = panel.values[d, h] / levels(panel, d, h)
        keep = np.isfinite(y)
        self.trees = fit_boosted(X[keep], y[keep], library="lightgbm", objective="l2", rounds=self.rounds,
                                 learning_rate=self.learning_rate, n_jobs=self.n_jobs, params=self.tree_params, seed=0)
        self.params["rounds"] = self.trees.rounds  # as fitted: what the registry stores
        return self

    def predict_point(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
        if len(d) == 0:
            return np.zeros(0)
        if self.trees is None:
            raise ValueError("lightgbm: call fit first")
        X, _ = tabular_features(panel, d, h)
        return self.trees.predict(X) * levels(panel, d, h)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A version saved before the move held its bare LightGBM regressor as ``model``.
        if "trees" not in state and state.get("model") is not None:
            params = state.get("params") or {}
            state["trees"] = BoostedTrees("lightgbm", "l2", state.pop("model"), int(params.get("n_estimators", 400)))
        state.setdefault("max_train_rows", None)
        self.__dict__.update(state)


def make_model(algorithm: str, config: EnergyConfig) -> NextHourForecaster:
    if algorithm == "lightgbm":
        return LightGBMForecaster(max_train_rows=config.max_train_rows)
    if algorithm == BASELINE:
        return SeasonalNaive()
    if algorithm == "gru":
        from core.energy.gru import GRUForecaster

        return GRUForecaster(window=config.gru_window, epochs=config.gru_epochs, max_train_rows=config.max_train_rows)
    raise ValueError(f"unknown algorithm '{algorithm}' (choose from {', '.join(ALGORITHMS)})")


def next_hour(model: GlobalForecaster[HourlyPanel], panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
    """A model's forecasts of the cells (d, h), through the core's protocol (mypy checks every energy model
    against it here)."""
    return model.forecast(panel, PanelOrigins.before(d, h), 1)[:, 0]


@dataclass
class TrainedModel:
    model: NextHourForecaster
    metrics: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def algorithm(self) -> str:
        return self.model.algorithm


@dataclass(frozen=True)
class Split:
    """The core's time-ordered holdout of a panel's target cells."""

    cuts: np.ndarray  # first held-out hour (column) of each device
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    cutoff: pd.Timestamp | None  # the common cut's hour (None when each device has its own)


def time_split(panel: HourlyPanel, validation_fraction: float, *, per_device: bool = False) -> Split:
    """Target cells before the cut train, the rest validate (``core.forecast.global_forecaster.holdout_split``):
    one cut for the whole fleet over its target hours, or each device's own span (``per_device``)."""
    d, h = target_cells(panel)
    if len(d) == 0:
        raise InputError(f"not enough history to train: each device needs more than {MIN_HISTORY} hours")
    cuts = holdout_split(panel, validation_fraction, per_series=per_device, min_history=0 if per_device else MIN_HISTORY)
    held = h >= cuts[d]
    cutoff = None if per_device else panel.hours[min(int(cuts[0]), len(panel.hours) - 1)]
    return Split(cuts, (d[~held], h[~held]), (d[held], h[held]), cutoff)


@dataclass(frozen=True)
class Candidate:
    """A model competing for deployment: a new one, or a stored one (the deployed model) re-scored."""

    label: str
    model: NextHourForecaster
    model_id: str | None = None  # set for a stored model
    not_before: pd.Timestamp | None = None  # a stored model trained on hours before this; scored only from it

    @property
    def algorithm(self) -> str:
        return self.model.algorithm


@dataclass(frozen=True)
class Comparison:
    """Every candidate forecast the SAME held-out cells; chosen on the earlier half, scored on the later."""

    candidates: tuple[Candidate, ...]
    scores: tuple[HealthMetrics, ...]  # on the later half, one per candidate, all with the same n_scored
    choice_mae: tuple[float, ...]  # MAE on the earlier half, where the choice was made
    winner: Candidate
    best_in_hindsight: str  # the label (or YESTERDAY) with the lowest MAE on the later half
    choice_start: pd.Timestamp | None  # first held-out hour of the earlier half (UTC)
    start: pd.Timestamp | None  # first and last hour of the later half, the scored one (UTC)
    end: pd.Timestamp | None
    hours: int  # device-hours every candidate was scored on (later half)
    devices: int

    def table(self) -> pd.DataFrame:
        """model, algorithm, model_id, rmse_ratio, mape, rmse, hours, choice_mae, winner: one row per candidate."""
        return pd.DataFrame([{"model": c.label, "algorithm": c.algorithm, "model_id": c.model_id,
                              "rmse_ratio": s.rmse_ratio, "mape": s.mape, "rmse": s.rmse, "hours": s.n_scored,
                              "choice_mae": m, "winner": c is self.winner}
                             for c, s, m in zip(self.candidates, self.scores, self.choice_mae, strict=True)])


def _tie_break_order(candidates: list[Candidate]) -> list[Candidate]:
    """Stored models first (a tie keeps the deployed model: no churn for nothing), then simplest first."""
    rank = {a: i for i, a in enumerate(SIMPLEST_FIRST)}
    return sorted(candidates, key=lambda c: (c.model_id is None, rank.get(c.algorithm, len(rank))))


def compare_on_window(candidates: list[Candidate], panel: HourlyPanel, cells: tuple[np.ndarray, np.ndarray],
                      config: EnergyConfig | None = None) -> Comparison:
    """Choose one model for the fleet on held-out ``cells`` with the core's rule (``choose_global``).

    The window is identical for all: the cells from the latest ``not_before`` of any candidate on, where
    the actual, same hour yesterday and EVERY candidate's forecast exist. On its earlier half the lowest
    MAE wins, only if it beats same hour yesterday (else the seasonal-naive candidate, which must be
    among them, wins); ties keep a stored model, then the simpler one. Scores are of the later half."""
    if not any(c.algorithm == BASELINE for c in candidates):
        raise ValueError(f"the comparison needs the {BASELINE} baseline among its candidates")
    config = config or energy_config()
    d, h = cells
    floors = [c.not_before for c in candidates if c.not_before is not None]
    if floors:
        keep = panel.hours[h] >= max(floors)
        d, h = d[keep], h[keep]
    actual, yesterday = panel.values[d, h], panel.values[d, h - 24]
    predictions = [next_hour(c.model, panel, d, h) for c in candidates]
    common = np.isfinite(actual) & np.isfinite(yesterday)
    for p in predictions:
        common &= np.isfinite(p)
    d, h, actual, yesterday = d[common], h[common], actual[common], yesterday[common]
    predictions = [p[common] for p in predictions]
    labels = [c.label for c in candidates]
    frame = forecast_frame(panel, PanelOrigins.before(d, h), {YESTERDAY: yesterday, **dict(zip(labels, predictions,
                                                                                                strict=True))}, 1)
    choice = choose_global(frame, [c.label for c in _tie_break_order(candidates)], baseline=YESTERDAY)
    later = choice.evaluation
    if choice.chosen == YESTERDAY:
        winner = _tie_break_order([c for c in candidates if c.algorithm == BASELINE])[0]
    else:
        winner = candidates[labels.index(choice.chosen)]
    scores = tuple(score_window(actual[later], p[later], yesterday[later], config) for p in predictions)
    choice_mae = tuple(metrics.mae(actual[~later], p[~later]) for p in predictions)
    scored = h[later]
    return Comparison(tuple(candidates), scores, choice_mae, winner, str(choice.table["best_in_hindsight"].iloc[0]),
                      choice_start=panel.hours[h[~later].min()],
                      start=panel.hours[scored.min()], end=panel.hours[scored.max()],
                      hours=int(later.sum()), devices=int(np.unique(d[later]).size))


def window_metrics(comparison: Comparison, candidate: Candidate) -> dict[str, Any]:
    """A candidate's held-out scores (the later half of the comparison), as stored with its model version."""
    s = comparison.scores[comparison.candidates.index(candidate)]
    return {"rmse": s.rmse, "mape": s.mape, "bias": s.bias, "baseline_rmse": s.baseline_rmse,
            "rmse_ratio": s.rmse_ratio, "n_validation": s.n_scored,
            "choice_start": None if comparison.choice_start is None else comparison.choice_start.isoformat(),
            "validation_start": None if comparison.start is None else comparison.start.isoformat(),
            "validation_end": None if comparison.end is None else comparison.end.isoformat()}


@dataclass
class TrainingRun:
    """New models fitted before one cutoff, and their comparison (with any stored model) after it."""

    trained: list[TrainedModel]
    comparison: Comparison
    notes: list[str]


def with_baseline(algorithms: tuple[str, ...]) -> tuple[str, ...]:
    """The algorithms asked for, plus the baseline if missing: it stands beside every retrain."""
    algorithms = tuple(dict.fromkeys(algorithms))
    return algorithms if BASELINE in algorithms else (*algorithms, BASELINE)


def train_and_compare(panel: HourlyPanel, algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
                      config: EnergyConfig | None = None, progress: Progress | None = None,
                      incumbent: Candidate | None = None) -> TrainingRun:
    """Fit each algorithm (and the baseline) on the hours before the cut, then choose among them and
    ``incumbent`` (the deployed model) on ONE held-out window computed once from this panel (pure)."""
    config = config or energy_config()
    algorithms = with_baseline(algorithms)
    split = time_split(panel, config.validation_fraction)
    seen = panel.hidden_from(split.cuts)  # nothing from the cut on exists while the models fit
    seasons = panel_seasons(panel)
    val_d, val_h = split.validation
    trained: list[TrainedModel] = []
    for i, algorithm in enumerate(algorithms):
        model = make_model(algorithm, config)

        def step(fraction: float, message: str, i: int = i) -> None:
            if progress:
                progress((i + fraction) / len(algorithms), message)

        step(0.0, f"training {algorithm}")
        model.fit(seen, seasons, progress=step)
        model.calibrate(panel, val_d, val_h, next_hour(model, panel, val_d, val_h), config.interval_level)
        trained.append(TrainedModel(model, {"n_train": int(len(split.train[0])), "cutoff": str(split.cutoff),
                                            "devices": int(panel.n_devices)}, dict(model.params)))
        step(1.0, f"{algorithm} trained")
    candidates = [Candidate(f"{t.algorithm} (new)", t.model) for t in trained]
    notes = []
    if incumbent is not None:
        # Honest only on hours the deployed model never trained on: too few for both halves, and it sits out.
        after = (panel.hours[val_h] >= incumbent.not_before).sum() \
            if incumbent.not_before is not None else len(val_h)
        if after >= 2 * config.min_scored_hours:
            candidates.append(incumbent)
        else:
            notes.append(f"the deployed model {incumbent.model_id} trained on these held-out hours, so it was "
                         "not compared")
    comparison = compare_on_window(candidates, panel, split.validation, config)
    for item, candidate in zip(trained, candidates, strict=False):
        item.metrics.update(window_metrics(comparison, candidate))
    return TrainingRun(trained, comparison, notes)


def train_models(panel: HourlyPanel, algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
                 config: EnergyConfig | None = None, progress: Progress | None = None) -> list[TrainedModel]:
    """``train_and_compare``, returning only the fitted models with their held-out scores."""
    return train_and_compare(panel, algorithms, config, progress).trained
