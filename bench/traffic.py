"""Traffic & Autoscaling bench on the bundled NASA trace: accuracy, intervals, replay, speed.

Run: .venv/bin/python bench/traffic.py [--csv F] [--quick]
Prints the figures the issue's targets refer to; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io import read_csv  # noqa: E402
from core.traffic.autoscale import ScalingParams, cost_optimal_quantile  # noqa: E402
from core.traffic.backtest import ENSEMBLE, run_backtest  # noqa: E402
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
    r5 = run_backtest(s5, test_start=args.test_start, horizon=1, models=models, extra_steps=12)
    total = time.perf_counter() - t0
    print(f"test window {r5.test_start} .. {s5.y.index[-1]}; whole backtest {total:.1f} s")
    print("fit seconds:", {k: round(v, 1) for k, v in r5.calibrated.fit_seconds.items()})
    board = _board(r5, 1)
    print(board)
    e = board.loc[ENSEMBLE]
    print(f"TARGET 5m ensemble RMSE {e.rmse:.1f} (<= 41) sMAPE {e.smape:.1f}% (<= 19%) "
          f"coverage80 {100 * e.coverage:.1f}% (75..85)")
    references = {k: two_sided_reference(s5.y, r5.test_start, k) for k in (1, 6)}
    print("noise reference (not forecasts: they read the next intervals too): two-sided interpolator "
          + "; ".join(f"{k} neighbour(s) each side RMSE {r:.1f} sMAPE {m:.1f}%" for k, (r, m) in references.items()))
    print(f"5m 12 steps ahead (one hour): RMSE ensemble {r5.leaderboard(12).set_index('model').loc[ENSEMBLE, 'rmse']:.1f}")
    print(_board(r5, 12)[["rmse", "smape", "coverage"]])

    print("\n== 15m, one step ahead")
    s15 = load_series(frame, "15m", file=args.csv)
    r15 = run_backtest(s15, test_start=args.test_start, horizon=1, models=models)
    b15 = _board(r15, 1)
    print(b15)
    e = b15.loc[ENSEMBLE]
    print(f"TARGET 15m ensemble RMSE {e.rmse:.1f} (<= 108) sMAPE {e.smape:.1f}% (<= 15%) "
          f"coverage80 {100 * e.coverage:.1f}%")

    print("\n== Default replay: 5m, 50 req/server/interval, boot 2, $0.10/server-h, $0.001/dropped request")
    params = ScalingParams(capacity_per_server=50, boot_delay=2, price_per_server_hour=0.10,
                           penalty_per_dropped=0.001, interval_minutes=5)
    t0 = time.perf_counter()
    study = scaling_study(r5, params)
    print(f"replay + frontier {time.perf_counter() - t0:.2f} s; forecast model {study.model}")
    print("cost vs overload frontier (predictive policy):")
    print(study.frontier.round(3).to_string(index=False))
    best = scaling_study(r5, params, quantile=study.best_quantile)
    reactive_overload = float(study.replay.summary_table().loc["reactive", "overloaded_pct"])
    safe_q = cost_optimal_quantile(study.frontier, max_overloaded_pct=reactive_overload)
    safe = scaling_study(r5, params, quantile=safe_q)
    for label, st in (("newsvendor quantile (from prices)", study), ("cost-optimal quantile (frontier)", best),
                      ("cheapest quantile overloading no more than reactive", safe)):
        table = st.replay.summary_table()
        print(f"\n{label}: q = {st.quantile:.3f}")
        print(table.round(3).to_string())
        pred, oracle, reactive = table.loc["predictive"], table.loc["oracle"], table.loc["reactive"]
        print(f"TARGET predictive/oracle cost {pred.cost_total / oracle.cost_total:.3f} (<= 1.20); "
              f"predictive cost {pred.cost_total:.2f} vs reactive {reactive.cost_total:.2f}; overloaded "
              f"{pred.overloaded_pct:.2f}% vs reactive {reactive.overloaded_pct:.2f}% -> dominates: "
              f"{bool(pred.cost_total < reactive.cost_total and pred.overloaded_pct <= reactive.overloaded_pct)}")
    print(f"newsvendor quantile for these prices: {newsvendor_quantile(params):.3f}")


if __name__ == "__main__":
    main()
