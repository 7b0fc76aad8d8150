"""Traffic & Autoscaling bench on the bundled NASA trace: accuracy, intervals, replay, speed.

Run: .venv/bin/python bench/traffic.py [--csv F] [--quick]
Prints the figures the issue's targets refer to; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io import read_csv  # noqa: E402
from core.traffic import config  # noqa: E402
from core.traffic.backtest import ENSEMBLE, run_backtest  # noqa: E402
from core.traffic.config import SCENARIO  # noqa: E402
from core.traffic.planning import newsvendor_quantile, scaling_study  # noqa: E402
from core.traffic.series import load_series  # noqa: E402

ALL = ("seasonal_naive", "naive", "lightgbm", "xgboost", "prophet", "hybrid")
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)


def _board(result, step: int) -> pd.DataFrame:
    board = result.leaderboard(step).set_index("model")
    return board[["rmse", "mae", "smape", "mase", "coverage", "ensemble_weight"]].round(3)


def two_sided_reference(y: pd.Series, test_start: pd.Timestamp, neighbours: int = 1) -> tuple[float, float]:
    """(RMSE, sMAPE %) on the test window of a least-squares *interpolator* fit on the training part: it sees
    y[t-k..t-1] and y[t+1..t+k] (and the same time yesterday). Not a forecast, since it reads the
    future: it shows how much of the error is noise no causal one-step forecast can remove."""
    cols = {f"past_{j}": y.shift(j) for j in range(1, neighbours + 1)}
    cols.update({f"next_{j}": y.shift(-j) for j in range(1, neighbours + 1)})
    X = pd.DataFrame(cols).assign(yesterday=y.shift(freq=pd.Timedelta("1D")).reindex(y.index), const=1.0)
    ok = X.notna().all(axis=1) & y.notna()
    train, test = ok & (y.index < test_start), ok & (y.index >= test_start)
    coef = np.linalg.lstsq(X[train].to_numpy(), y[train].to_numpy(), rcond=None)[0]
    actual, fitted = y[test].to_numpy(), X[test].to_numpy() @ coef
    smape = 100 * np.mean(2 * np.abs(actual - fitted) / np.maximum(np.abs(actual) + np.abs(fitted), 1e-9))
    return float(np.sqrt(np.mean((actual - fitted) ** 2))), float(smape)


def _refits(series) -> dict:
    """The service's defaults: daily refits below 1-day data, on the configured worker processes."""
    return {"refit_every": config.default_refit_every(series.step), "workers": config.REFIT_WORKERS,
            "n_jobs": config.CLI_N_JOBS}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", default="data/nasa_http_5m.csv")
    parser.add_argument("--test-start", default=None)
    parser.add_argument("--quick", action="store_true", help="GBMs and baselines only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    models = ALL[:4] if args.quick else ALL
    frame = read_csv(args.csv)

    print(f"== 5m, one step ahead (and 12 steps = one hour), models {', '.join(models)}")
    s5 = load_series(frame, "5m", file=args.csv)
    t0 = time.perf_counter()
    r5 = run_backtest(s5, test_start=args.test_start, horizon=1, models=models, extra_steps=12, **_refits(s5))
    total = time.perf_counter() - t0
    print(f"test window {r5.test_start} .. {s5.y.index[-1]}; whole backtest {total:.1f} s with refits {r5.refits} "
          f"on {config.REFIT_WORKERS} processes (TARGET <= 120 s for LightGBM + XGBoost + baselines)")
    print("fit seconds:", {k: round(v, 1) for k, v in r5.calibrated.fit_seconds.items()})
    board = _board(r5, 1)
    print(board)
    e = board.loc[ENSEMBLE]
    print(f"TARGET 5m ensemble RMSE {e.rmse:.1f} (<= 45.5) sMAPE {e.smape:.1f}% (<= 20.5%) "
          f"coverage80 {100 * e.coverage:.1f}% (75..85)")
    references = {k: two_sided_reference(s5.y, r5.test_start, k) for k in (1, 6)}
    print("noise reference (not forecasts: they read the next intervals too): two-sided interpolator "
          + "; ".join(f"{k} neighbour(s) each side RMSE {r:.1f} sMAPE {m:.1f}%" for k, (r, m) in references.items()))
    print(f"5m 12 steps ahead (one hour): RMSE ensemble {r5.leaderboard(12).set_index('model').loc[ENSEMBLE, 'rmse']:.1f}")
    print(_board(r5, 12)[["rmse", "smape", "coverage"]])

    print("\n== 15m, one step ahead")
    s15 = load_series(frame, "15m", file=args.csv)
    r15 = run_backtest(s15, test_start=args.test_start, horizon=1, models=models, **_refits(s15))
    b15 = _board(r15, 1)
    print(b15)
    e = b15.loc[ENSEMBLE]
    print(f"TARGET 15m ensemble RMSE {e.rmse:.1f} (<= 108) sMAPE {e.smape:.1f}% (<= 15%) "
          f"coverage80 {100 * e.coverage:.1f}% (75..85)")

    print(f"\n== Replays: {SCENARIO.describe_units()} at 5m; $0.10/server-h, $0.001/dropped request, "
          f"SLO <= {SCENARIO.slo_overload_pct:g}% of intervals overloaded")
    s60 = load_series(frame, "1h", file=args.csv)
    r60 = run_backtest(s60, test_start=args.test_start, horizon=1, models=models, extra_steps=1, **_refits(s60))
    studies = {}
    for label, result, minutes in (("5m", r5, 5.0), ("1h", r60, 60.0)):
        params = replace(SCENARIO, interval_minutes=minutes)
        t0 = time.perf_counter()
        studies[label] = scaling_study(result, params)
        study = studies[label]
        print(f"{label}: {params.describe_units()}; replay + frontiers {time.perf_counter() - t0:.2f} s")
        print(f"{label} QUANTILE {study.choice.text}")
        print(f"{label} in hindsight on the test window (explanatory only): cheapest meeting the SLO "
              f"q{100 * study.hindsight_quantile:g}, cost-optimal q{100 * study.best_quantile:g}")
        print(f"{label} calibration-window frontier (the quantile is chosen on it):")
        print(study.choice.frontier.round(3).to_string(index=False))
    print("\nside by side on the test window, predictive at the quantile chosen on the calibration window "
          f"(5m q{100 * studies['5m'].quantile:g}, 1h q{100 * studies['1h'].quantile:g}):")
    print(side_by_side(studies).to_string())
    for label, study in studies.items():
        table = study.policies
        print(f"\n{label} headline: {study.headline.replace('**', '')}")
        for warning in study.warnings:
            print(f"{label} warning: {warning}")
        if study.combined_note:
            print(f"{label} note: {study.combined_note}")
        pred, oracle, reactive = table.loc["predictive"], table.loc["oracle"], table.loc["reactive"]
        print(f"{label} TARGET predictive (q{100 * study.quantile:g}, chosen on the calibration window)/oracle cost {pred.cost_total / oracle.cost_total:.3f} (<= 1.20); "
              f"predictive {pred.cost_total:.2f} vs reactive {reactive.cost_total:.2f}; overloaded "
              f"{pred.overloaded_pct:.2f}% vs reactive {reactive.overloaded_pct:.2f}% -> dominates: "
              f"{bool(pred.cost_total < reactive.cost_total and pred.overloaded_pct <= reactive.overloaded_pct)}")
        print(f"{label} frontier in hindsight on the test window (predictive by quantile):")
        print(study.frontier.round(3).to_string(index=False))
    print(f"newsvendor quantile for these prices: {newsvendor_quantile(SCENARIO):.3f}")


def side_by_side(studies: dict) -> pd.DataFrame:
    """Per policy and granularity: total cost, % of intervals overloaded, % of requests dropped, meets the SLO."""
    columns = {"cost_total": "cost $", "overloaded_pct": "overloaded %", "dropped_pct": "dropped %",
               "meets_slo": "meets SLO"}
    parts = []
    for label, study in studies.items():
        part = study.policies[list(columns)].rename(columns=columns)
        part.columns = pd.MultiIndex.from_product([[label], part.columns])
        parts.append(part)
    return pd.concat(parts, axis=1).round(2)

if __name__ == "__main__":
    main()
