"""Forecasts under a shifting load: the ensemble (recent-error weights, adaptive conformal intervals) against
the stacked ensemble (weights and widths frozen on the calibration window) and naive, with the service's
daily refits.

Traces are built from the bundled NASA 5m counts, changed from the default test start (1995-08-23) on:
- level×4: every count ×4;
- surges: on 4 test days, the load ramps within 15 minutes to 6× and stays there 90 minutes (from 13:00);
- weekly swap: the weekend's traffic moves to the Thursday and Friday before it, theirs to the weekend.
The unchanged trace is the reference. For each: one-step RMSE of naive, ensemble_stacked and ensemble, the
ratio to naive over the whole test window and on its worst day, and the 80% interval coverage.

Run: .venv/bin/python bench/forecast.py [--csv F] [--models seasonal_naive,naive,lightgbm,xgboost] [--steps 1]
Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io import read_csv  # noqa: E402
from core.traffic import config  # noqa: E402
from core.traffic.backtest import ENSEMBLE, STACKED, default_test_start, run_backtest  # noqa: E402
from core.traffic.series import load_series  # noqa: E402

MODELS = ("seasonal_naive", "naive", "lightgbm", "xgboost")
SHOWN = ("naive", STACKED, ENSEMBLE)
SURGE_DAYS = (1, 3, 5, 7)  # test days (0 = the test start's day) with a surge
SURGE_START, SURGE_RAMP, SURGE_LENGTH, SURGE_FACTOR = pd.Timedelta("13h"), pd.Timedelta("15min"), pd.Timedelta("90min"), 6.0
pd.set_option("display.width", 200)


def level_times_four(frame: pd.DataFrame, stamps: pd.Series, start: pd.Timestamp) -> pd.DataFrame:
    out = frame.copy()
    out.loc[stamps >= start, "request_count"] *= 4
    return out


def surges(frame: pd.DataFrame, stamps: pd.Series, start: pd.Timestamp) -> pd.DataFrame:
    """×6 for 90 minutes on 4 test days, reached linearly over the first 15 minutes."""
    factor = np.ones(len(frame))
    for day in SURGE_DAYS:
        begin = start.normalize() + pd.Timedelta(days=day) + SURGE_START
        into = (stamps - begin).to_numpy()
        inside = (into >= pd.Timedelta(0)) & (into < SURGE_LENGTH)
        ramp = np.minimum((into + pd.Timedelta("5min")) / SURGE_RAMP, 1.0)  # 3 five-minute steps: ×8/3, ×13/3, ×6
        factor = np.where(inside, 1.0 + (SURGE_FACTOR - 1.0) * ramp, factor)
    out = frame.copy()
    out["request_count"] = np.round(out["request_count"] * factor)  # missing counts stay missing
    return out


def weekly_swap(frame: pd.DataFrame, stamps: pd.Series, start: pd.Timestamp) -> pd.DataFrame:
    """Each test-window weekend day swaps its counts with the weekday two days before it (Sat<->Thu, Sun<->Fri)."""
    out = frame.copy()
    counts = pd.Series(out["request_count"].to_numpy(), index=pd.DatetimeIndex(stamps))
    days = pd.DatetimeIndex(sorted({d for d in counts.index.normalize() if d >= start.normalize()}))
    for day in days[days.dayofweek >= 5]:
        other = day - pd.Timedelta(days=2)
        if other < start:
            continue
        a = (counts.index >= day) & (counts.index < day + pd.Timedelta(days=1))
        b = (counts.index >= other) & (counts.index < other + pd.Timedelta(days=1))
        if a.sum() == b.sum():
            va, vb = counts[a].to_numpy().copy(), counts[b].to_numpy().copy()
            counts[a], counts[b] = vb, va
    out["request_count"] = counts.to_numpy()
    return out


TRACES: dict[str, Callable[[pd.DataFrame, pd.Series, pd.Timestamp], pd.DataFrame]] = {
    "unchanged": lambda f, _s, _t: f, "level x4": level_times_four, "surges x6": surges, "weekly swap": weekly_swap}


def scores(result, step: int) -> dict[str, float]:
    preds = result.predictions(step)
    usable = result.series.usable().reindex(preds["timestamp"], fill_value=False).to_numpy(dtype=bool)
    preds = preds[usable & preds["y_true"].notna().to_numpy()]
    day = pd.DatetimeIndex(preds["timestamp"]).normalize()
    err2 = (preds["y_true"] - preds["y_pred"]) ** 2
    rmse = err2.groupby(preds["model"]).mean() ** 0.5
    daily = (err2.groupby([day, preds["model"]]).mean() ** 0.5).unstack()
    covered = (preds["lo"] <= preds["y_true"]) & (preds["y_true"] <= preds["hi"])
    coverage = covered.groupby(preds["model"]).mean()
    row: dict[str, float] = {}
    for m in SHOWN:
        row[f"rmse {m}"] = rmse[m]
    for m in SHOWN[1:]:
        row[f"/naive {m}"] = rmse[m] / rmse["naive"]
        row[f"worst day /naive {m}"] = float((daily[m] / daily["naive"]).max())
    for m in SHOWN:
        row[f"cov80 {m}"] = coverage[m]
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", default="data/nasa_http_5m.csv")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--steps", default="1", help="comma list of steps ahead to score (e.g. 1,12)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    steps = [int(s) for s in args.steps.split(",")]
    frame = read_csv(args.csv)
    stamps = pd.Series(pd.to_datetime(frame["timestamp"]))
    start = default_test_start(load_series(frame, "5m", file=args.csv).y)
    print(f"NASA 5m, test from {start}, models {', '.join(models)}")
    rows = {}
    for name, build in TRACES.items():
        t0 = time.perf_counter()
        series = load_series(build(frame, stamps, start), "5m", file=args.csv)
        result = run_backtest(series, test_start=start, horizon=1, models=models, extra_steps=max(steps),
                              refit_every=config.default_refit_every(series.step), workers=config.REFIT_WORKERS)
        for step in steps:
            rows[(name, step)] = scores(result, step)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    table = pd.DataFrame(rows).T
    table.index.names = ["trace", "step"]
    table.columns = [c.replace(STACKED, "stacked").replace(ENSEMBLE, "ens") for c in table.columns]
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
