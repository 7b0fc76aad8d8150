"""Which forecasting-core models traffic offers, by name, and how each is set up for a traffic series.

Every model is a ``core.forecast`` Forecaster: fit on a history (NaN = missing), then forecast
``horizon`` steps from any set of origins, reading actual values only up to each origin. The
lag models see the series' finer counts (``native``) and train only on completely collected
intervals (``usable``); Prophet and the hybrid fit the same intervals.
"""

from __future__ import annotations

import pandas as pd

from core.forecast.baselines import Naive, SeasonalNaive
from core.forecast.calendar_models import HybridProphetLSTM, ProphetModel
from core.forecast.gbm import LagBoost
from core.forecast.protocol import Forecaster

MODEL_NAMES = ("seasonal_naive", "naive", "lightgbm", "xgboost", "prophet", "hybrid")
BASELINES = ("seasonal_naive", "naive")
DEFAULT_MODELS = ("seasonal_naive", "naive", "lightgbm", "xgboost", "prophet", "hybrid")


def make_model(name: str, *, n_jobs: int = 2, usable: pd.Series | None = None, native: pd.Series | None = None,
               per_bin: int = 1) -> Forecaster:
    """A fresh, unfitted model by name."""
    if name == "seasonal_naive":
        return SeasonalNaive()
    if name == "naive":
        return Naive()
    if name == "lightgbm":
        return LagBoost(library="lightgbm", n_jobs=n_jobs, usable=usable, native=native, per_bin=per_bin)
    if name == "xgboost":
        return LagBoost(library="xgboost", n_jobs=n_jobs, usable=usable, native=native, per_bin=per_bin)
    if name == "prophet":
        return ProphetModel(usable=usable)
    if name == "hybrid":
        return HybridProphetLSTM(usable=usable, prophet=ProphetModel(usable=usable))
    raise ValueError(f"unknown model '{name}' (choose from {', '.join(MODEL_NAMES)})")
