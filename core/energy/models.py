"""Next-hour forecasters with one small surface, and the honest training loop that compares them.

Every model: ``fit(panel, d, h)`` on training targets, ``predict_point(panel, d, h)``, and
``predict`` adding an interval from conformal quantiles (``core.forecast.intervals``) of its
*validation* residuals (as a share of the past-week level). Training is a pure function: a panel in, fitted models and held-out scores out.
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
from core.forecast.intervals import signed_quantiles

Progress = Callable[[float, str], None]


class NextHourForecaster(ABC):
    """The interface every energy model implements: fit on target cells (device d, hour h), predict
    them, and carry a relative interval calibrated on held-out residuals."""

    algorithm = "base"
    history_hours = MIN_HISTORY

    def __init__(self) -> None:
        self.interval: tuple[float, float] = (0.0, 0.0)
        self.params: dict[str, Any] = {}

    @abstractmethod
    def fit(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray, progress: Progress | None = None) -> None:
        """Train on the cells (d[i], h[i]); only hours before each cell may be read."""

    @abstractmethod
    def predict_point(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Point forecasts for the cells (d[i], h[i])."""

    def calibrate(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray, y_pred: np.ndarray, level: float) -> None:
        """Set the interval from held-out residuals, relative to each target's level."""
        scale = levels(panel, d, h)
        rel = (panel.values[d, h] - y_pred) / scale
        if np.isfinite(rel).any():
            self.interval = signed_quantiles(rel, level)

    def predict(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point forecast and interval; NaN where the model lacks the history to forecast."""
        point = self.predict_point(panel, d, h)
        scale = levels(panel, d, h)
        lower = np.maximum(point + self.interval[0] * scale, 0.0)
        upper = point + self.interval[1] * scale
        return point, lower, upper


class SeasonalNaive(NextHourForecaster):
    """Same hour yesterday: the baseline every model is compared with."""

    algorithm = "seasonal-naive"

    def fit(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray, progress: Progress | None = None) -> None:
        return None

    def predict_point(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
        return panel.values[d, h - 24]


class LightGBMForecaster(NextHourForecaster):
    """One global gradient-boosting model over all devices, on scaled lags and local calendar."""

    algorithm = "lightgbm"

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.05, num_leaves: int = 31,
                 n_jobs: int = 1) -> None:
        super().__init__()
        self.params = {"n_estimators": n_estimators, "learning_rate": learning_rate,
                       "num_leaves": num_leaves, "n_jobs": n_jobs}
        self.model: Any = None
        self.feature_names: list[str] = []

    def fit(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray, progress: Progress | None = None) -> None:
        import lightgbm as lgb

        X, self.feature_names = tabular_features(panel, d, h)
        y = panel.values[d, h] / levels(panel, d, h)
        keep = np.isfinite(y)
        self.model = lgb.LGBMRegressor(objective="l2", min_child_samples=20, subsample=0.8, subsample_freq=1,
                                       colsample_bytree=0.9, random_state=0, verbose=-1, **self.params)
        self.model.fit(X[keep], y[keep])

    def predict_point(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
        if len(d) == 0:
            return np.zeros(0)
        X, _ = tabular_features(panel, d, h)
        return self.model.predict(X) * levels(panel, d, h)


def make_model(algorithm: str, config: EnergyConfig) -> NextHourForecaster:
    if algorithm == "lightgbm":
        return LightGBMForecaster()
    if algorithm == "seasonal-naive":
        return SeasonalNaive()
    if algorithm == "gru":
        from core.energy.gru import GRUForecaster

        return GRUForecaster(window=config.gru_window, epochs=config.gru_epochs)
    raise ValueError(f"unknown algorithm '{algorithm}' (choose from {', '.join(ALGORITHMS)})")


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
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    cutoff: Any


def time_split(panel: HourlyPanel, validation_fraction: float, max_train_rows: int | None = None) -> Split:
    """Targets before a common cutoff hour train; the rest validate. No shuffling across time."""
    d, h = target_cells(panel)
    if len(d) == 0:
        from core.errors import InputError

        raise InputError(f"not enough history to train: each device needs more than {MIN_HISTORY} hours")
    first, last = int(h.min()), int(h.max())
    cut = first + int(round((last - first + 1) * (1.0 - validation_fraction)))
    train = h < cut
    td, th = d[train], h[train]
    if max_train_rows and len(td) > max_train_rows:
        pick = np.sort(np.random.default_rng(0).choice(len(td), max_train_rows, replace=False))
        td, th = td[pick], th[pick]
    return Split((td, th), (d[~train], h[~train]), panel.hours[min(cut, len(panel.hours) - 1)])


def evaluate(model: NextHourForecaster, panel: HourlyPanel, d: np.ndarray, h: np.ndarray,
             config: EnergyConfig) -> dict[str, Any]:
    """Held-out scores of ``model`` beside same-hour-yesterday on the same targets."""
    pred = model.predict_point(panel, d, h)
    health = score_window(panel.values[d, h], pred, panel.values[d, h - 24], config)
    return {"rmse": health.rmse, "mape": health.mape, "bias": health.bias, "baseline_rmse": health.baseline_rmse,
            "rmse_ratio": health.rmse_ratio, "n_validation": health.n_scored}


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
    """Every candidate scored on the SAME held-out cells (device, hour), and the winner."""

    candidates: tuple[Candidate, ...]
    scores: tuple[HealthMetrics, ...]  # one per candidate, all with the same n_scored
    winner: Candidate
    start: pd.Timestamp | None  # first and last held-out hour scored (UTC)
    end: pd.Timestamp | None
    hours: int  # device-hours every candidate was scored on
    devices: int

    def table(self) -> pd.DataFrame:
        """model, algorithm, model_id, rmse_ratio, mape, rmse, hours, winner: one row per candidate."""
        return pd.DataFrame([{"model": c.label, "algorithm": c.algorithm, "model_id": c.model_id,
                              "rmse_ratio": s.rmse_ratio, "mape": s.mape, "rmse": s.rmse, "hours": s.n_scored,
                              "winner": c is self.winner} for c, s in zip(self.candidates, self.scores, strict=True)])


def _ratio_or_inf(score: HealthMetrics) -> float:
    r = score.rmse_ratio
    return float(r) if r is not None and np.isfinite(r) else float("inf")


def compare_on_window(candidates: list[Candidate], panel: HourlyPanel, cells: tuple[np.ndarray, np.ndarray],
                      config: EnergyConfig | None = None) -> Comparison:
    """Score every candidate on one window, identical by construction: the held-out ``cells`` from the
    latest ``not_before`` of any candidate on, where the actual, same-hour-yesterday and EVERY
    candidate's forecast exist. The lowest RMSE ratio wins (NaN never); a tie keeps a stored model."""
    if not candidates:
        raise ValueError("nothing to compare")
    config = config or energy_config()
    d, h = cells
    floors = [c.not_before for c in candidates if c.not_before is not None]
    if floors:
        keep = panel.hours[h] >= max(floors)
        d, h = d[keep], h[keep]
    actual, baseline = panel.values[d, h], panel.values[d, h - 24]
    predictions = [np.asarray(c.model.predict_point(panel, d, h), dtype=float) for c in candidates]
    common = np.isfinite(actual) & np.isfinite(baseline)
    for p in predictions:
        common &= np.isfinite(p)
    scores = tuple(score_window(actual[common], p[common], baseline[common], config) for p in predictions)
    order = min(range(len(candidates)),
                key=lambda i: (_ratio_or_inf(scores[i]), candidates[i].model_id is None, i))
    scored_hours = h[common]
    return Comparison(tuple(candidates), scores, candidates[order],
                      start=panel.hours[scored_hours.min()] if scored_hours.size else None,
                      end=panel.hours[scored_hours.max()] if scored_hours.size else None,
                      hours=int(common.sum()), devices=int(np.unique(d[common]).size))


def window_metrics(comparison: Comparison, candidate: Candidate) -> dict[str, Any]:
    """A candidate's held-out scores on the comparison's window, as stored with its model version."""
    s = comparison.scores[comparison.candidates.index(candidate)]
    return {"rmse": s.rmse, "mape": s.mape, "bias": s.bias, "baseline_rmse": s.baseline_rmse,
            "rmse_ratio": s.rmse_ratio, "n_validation": s.n_scored,
            "validation_start": None if comparison.start is None else comparison.start.isoformat(),
            "validation_end": None if comparison.end is None else comparison.end.isoformat()}


@dataclass
class TrainingRun:
    """New models fitted before one cutoff, and their comparison (with any stored model) after it."""

    trained: list[TrainedModel]
    comparison: Comparison
    notes: list[str]


def train_and_compare(panel: HourlyPanel, algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
                      config: EnergyConfig | None = None, progress: Progress | None = None,
                      incumbent: Candidate | None = None) -> TrainingRun:
    """Fit each algorithm on the first part of time, then score them and ``incumbent`` (the deployed
    model) on ONE held-out window computed once from this panel (pure function)."""
    config = config or energy_config()
    split = time_split(panel, config.validation_fraction, config.max_train_rows)
    trained: list[TrainedModel] = []
    for i, algorithm in enumerate(algorithms):
        model = make_model(algorithm, config)

        def step(fraction: float, message: str, i: int = i) -> None:
            if progress:
                progress((i + fraction) / len(algorithms), message)

        step(0.0, f"training {algorithm}")
        model.fit(panel, *split.train, progress=step)
        val_d, val_h = split.validation
        model.calibrate(panel, val_d, val_h, model.predict_point(panel, val_d, val_h), config.interval_level)
        trained.append(TrainedModel(model, {"n_train": int(len(split.train[0])), "cutoff": str(split.cutoff),
                                            "devices": int(panel.n_devices)}, dict(model.params)))
        step(1.0, f"{algorithm} trained")
    candidates = [Candidate(f"{t.algorithm} (new)", t.model) for t in trained]
    notes = []
    if incumbent is not None:
        # Honest only on hours the deployed model never trained on: too few of them, and it sits out.
        after = (panel.hours[split.validation[1]] >= incumbent.not_before).sum() \
            if incumbent.not_before is not None else len(split.validation[1])
        if after >= config.min_scored_hours:
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
    """Fit each algorithm before a cutoff and score all on the same hours after it (pure function)."""
    return train_and_compare(panel, algorithms, config, progress).trained
