"""Cloud Demand & Capacity figures: accuracy of the honest choice, interval coverage, the breach rate of
past plans, and speed.

Run: .venv/bin/python bench/demand.py [--lstm] [--only pjm|daily|hourly]
Everything is stored in a throwaway database and model store in a temp dir.
- pjm: real daily load of two PJM zones (data/pjm_daily_load.csv, US holidays), horizon 28 days, the
  choice made on the windows before 2017-08-01 and scored on the 13 windows from it: the choice's mean
  MASE across series against seasonal naive's (issue target <= 0.85; seasonal naive ~1.30);
- daily: the generated data (6 regions x 3 metrics, 3 years), the default protocol: wall time of the full
  backtest (all models but the LSTM; target <= 90 s on 2 cores), the choice's median MASE (target <= 0.8),
  the 95 % interval's coverage; then P95 plans at 30 and 90 days: the replayed breach rate (target 2-8 %)
  and the 95 % interval's coverage at the planning horizon (target 90-98 %); a stored rerun's time;
- hourly: the generator's hourly mode (90 days), horizon 24 h: the choice's mean MASE (target <= 0.45;
  seasonal naive ~0.75).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_TMP = Path(tempfile.mkdtemp(prefix="headroom-bench-demand-"))
os.environ.setdefault("HEADROOM_STATE_DIR", str(_TMP / "state"))
os.environ.setdefault("HEADROOM_MODEL_DIR", str(_TMP / "models"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_TMP / 'state' / 'bench.db'}")
(_TMP / "state").mkdir(parents=True, exist_ok=True)

import pandas as pd  # noqa: E402

from core.demand import config, service  # noqa: E402
from core.demand.capacity import PlanSettings  # noqa: E402
from core.demand.data import DemandData  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data"


def _models(lstm: bool) -> tuple[str, ...]:
    return (*config.DEFAULT_MODELS, "lstm") if lstm else config.DEFAULT_MODELS


def _table(result: service.DemandBacktest) -> str:
    board = result.leaderboard
    pivot = board.pivot_table(index="model", values="mase", aggfunc=["mean", "median"])
    pivot.columns = ["mean MASE", "median MASE"]
    return pivot.sort_values("mean MASE").round(3).to_string()


def _report(name: str, result: service.DemandBacktest, seconds: float) -> None:
    s = result.summary
    print(f"\n== {name}: {s['series']} series, horizon {s['horizon']}, test from {s['test_start']}, {seconds:.1f} s")
    print(result.strategies[["strategy", "selection_mase", "evaluation_mase", "models_used"]].round(3).to_string())
    print(f"choice ({s['strategy']}): mean MASE {s['chosen_mase']:.3f}, median {s['chosen_median_mase']:.3f}; "
          f"seasonal naive mean {s['baseline_mase']:.3f}; 95% interval coverage {s['coverage']:.1%}")
    print(_table(result))


def _timed_backtest(data: DemandData, options: service.BacktestSettings) -> tuple[service.DemandBacktest, float]:
    started = time.perf_counter()
    result = service.backtest(data, options)
    return result, time.perf_counter() - started


def pjm(lstm: bool) -> None:
    data = service.load_upload(DATA / "pjm_daily_load.csv", countries={"AEP": "US", "DAYTON": "US"})
    options = service.BacktestSettings(horizon=28, test_start=pd.Timestamp("2017-08-01"), models=_models(lstm))
    result, seconds = _timed_backtest(data, options)
    _report("PJM daily load (real)", result, seconds)


def daily(lstm: bool) -> None:
    data = service.load_default()
    result, seconds = _timed_backtest(data, service.BacktestSettings(models=_models(lstm)))
    _report("generated daily demand", result, seconds)
    started = time.perf_counter()
    again = service.backtest(data, service.BacktestSettings(models=_models(lstm)))
    print(f"stored rerun: {time.perf_counter() - started:.2f} s (reused: {again.reused})")
    for days in (30, 90):
        started = time.perf_counter()
        plan = service.plan(data, result, PlanSettings(quantile=0.95), days)
        overall = plan.breaches.iloc[-1]
        print(f"P95 plan, {days} days: breach rate of past plans {overall['breach_rate']:.1%} "
              f"({int(overall['breaches'])} of {int(overall['points'])} days, {int(overall['windows'])} windows); "
              f"95% interval coverage {plan.coverage:.1%}; {time.perf_counter() - started:.1f} s; "
              f"risk: {plan.table['risk'].value_counts().to_dict()}")


def hourly(lstm: bool) -> None:
    data = service.generate("hourly")
    result, seconds = _timed_backtest(data, service.BacktestSettings(models=_models(lstm)))
    _report("generated hourly demand", result, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lstm", action="store_true", help="add the global LSTM (TensorFlow)")
    parser.add_argument("--only", choices=("pjm", "daily", "hourly"))
    args = parser.parse_args()
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    for name, run in (("pjm", pjm), ("daily", daily), ("hourly", hourly)):
        if args.only in (None, name):
            run(args.lstm)


if __name__ == "__main__":
    main()
