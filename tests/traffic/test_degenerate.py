"""Degenerate series: every fast model fits and forecasts them, and the CLI never prints a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.forecast.gbm import LagBoost
from core.forecast.protocol import Seasons
from tests.support import ROOT

N = 288 * 6
SERIES = {"zeros": np.zeros(N), "constant": np.full(N, 7.0), "one-request": np.eye(1, N, 900).ravel(),
          "below-one": np.full(N, 0.3)}


def _series(name: str) -> pd.Series:
    return pd.Series(SERIES[name], index=pd.date_range("2024-01-01", periods=N, freq="5min", tz="UTC"))


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("name", list(SERIES))
def test_gradient_boosting_fits_and_forecasts_a_degenerate_series(library, name: str) -> None:  # type: ignore[no-untyped-def]
    y = _series(name)
    model = LagBoost(library=library, n_jobs=1, max_rounds=200).fit(y.iloc[: N - 288], Seasons((288, 2016)))
    forecast = model.forecast(y, y.index[[N - 200, N - 100]], 3)
    assert np.isfinite(forecast).all() and (forecast >= 0).all()
    if name != "one-request":  # a flat series is forecast as itself (zeros stay zero, 0.3 is not lifted to 0.5)
        assert np.allclose(forecast, SERIES[name][0], atol=1e-3 * max(1.0, SERIES[name][0])), forecast


@pytest.mark.parametrize("name", list(SERIES))
def test_the_backtest_cli_gives_a_result_or_one_error_line_never_a_traceback(name: str, tmp_path: Path) -> None:
    csv = tmp_path / f"{name}.csv"
    y = _series(name)
    pd.DataFrame({"timestamp": y.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "requests": y.to_numpy()}).to_csv(csv, index=False)
    out = subprocess.run([sys.executable, "-m", "core", "traffic", "backtest", "--csv", str(csv), "--json",
                          "--models", "seasonal_naive,naive,lightgbm,xgboost"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    if out.returncode == 2:  # e.g. a series of nothing but zeros read as a collection gap
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    else:
        assert out.returncode == 0, out.stderr[-500:]
        assert "lightgbm" in json.dumps(json.loads(out.stdout))
