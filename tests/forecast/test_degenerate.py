"""Degenerate series run every model of the core without error: all zeros, a constant, one non-zero value,
values below one. (A series of zeros once made LightGBM's Poisson objective raise "sum of labels is zero".)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.forecast.backtest import cross_validation
from core.forecast.baselines import Naive, SeasonalNaive
from core.forecast.calendar_models import HybridProphetLSTM, ProphetModel
from core.forecast.gbm import LagBoost

N = 24 * 16
SERIES = {"zeros": np.zeros(N), "constant": np.full(N, 7.0), "one-value": np.eye(1, N, 200).ravel(),
          "below-one": np.full(N, 0.3)}
MODELS = {
    "naive": Naive, "seasonal_naive": SeasonalNaive,
    "lightgbm": lambda: LagBoost(library="lightgbm", max_rounds=100),
    "xgboost": lambda: LagBoost(library="xgboost", max_rounds=100),
    "prophet": ProphetModel,
    "hybrid": lambda: HybridProphetLSTM(epochs=1, units=4),
}


@pytest.mark.parametrize("name", list(SERIES))
def test_every_model_backtests_a_degenerate_series(name: str) -> None:
    y = pd.Series(SERIES[name], index=pd.date_range("2024-01-01", periods=N, freq="1h", tz="UTC"))
    cv = cross_validation(y, MODELS, horizon=3, n_windows=2, step=3, refit_every=0)
    values = cv[list(MODELS)].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    if name != "one-value":  # a flat series is forecast as itself by every lag model and baseline
        flat = cv[["naive", "seasonal_naive", "lightgbm", "xgboost"]].to_numpy()
        assert np.allclose(flat, SERIES[name][0], atol=1e-3 * max(1.0, SERIES[name][0]))
