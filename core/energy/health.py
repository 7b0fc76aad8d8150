"""Forecast health: the metrics of one window and the single green/red/grey rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.energy.config import EnergyConfig, energy_config
from core.ml import metrics

GREEN, RED, GREY = "green", "red", "grey"


@dataclass(frozen=True)
class HealthMetrics:
    n_scored: int
    rmse: float
    mape: float
    bias: float
    baseline_rmse: float
    rmse_ratio: float
    status: str


def health_status(rmse_ratio: float, mape: float, n_scored: int, config: EnergyConfig | None = None) -> str:
    """THE rule, used everywhere: grey below ``min_scored_hours``; green if
    ``rmse_ratio <= ratio_green`` or ``mape <= mape_green``; red otherwise."""
    config = config or energy_config()
    if n_scored < config.min_scored_hours:
        return GREY
    ratio_ok = rmse_ratio is not None and np.isfinite(rmse_ratio) and rmse_ratio <= config.ratio_green
    mape_ok = mape is not None and np.isfinite(mape) and mape <= config.mape_green
    return GREEN if ratio_ok or mape_ok else RED


def score_window(actual: np.ndarray, predicted: np.ndarray, baseline: np.ndarray,
                 config: EnergyConfig | None = None) -> HealthMetrics:
    """Health of forecasts vs actuals, beside the same-hour-yesterday baseline.

    Only hours with an actual, a forecast and a baseline value are scored, so the model and
    the baseline are compared on exactly the same hours."""
    config = config or energy_config()
    a, p, b = (np.asarray(x, dtype=float) for x in (actual, predicted, baseline))
    keep = ~(np.isnan(a) | np.isnan(p) | np.isnan(b))
    a, p, b = a[keep], p[keep], b[keep]
    n = int(keep.sum())
    if n == 0:
        nan = float("nan")
        return HealthMetrics(0, nan, nan, nan, nan, nan, GREY)
    floor = max(config.mape_floor_fraction * float(np.mean(np.abs(a))), 1e-9)
    model_rmse = metrics.rmse(a, p)
    base_rmse = metrics.rmse(a, b)
    ratio = model_rmse / base_rmse if base_rmse > 0 else float("nan")
    mape = metrics.mape(a, p, floor=floor)
    return HealthMetrics(n, model_rmse, mape, metrics.bias(a, p), base_rmse, ratio,
                         health_status(ratio, mape, n, config))
