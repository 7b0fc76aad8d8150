"""AutoML prediction benchmark: a model of the diamonds price, then the time to predict a 100k-row batch
and the latency of one row, through the pipeline (``predict_frame``) and through the exported ONNX graph
(``onnx_predict``). The model is a default LightGBM, or with ``--budget`` the winner of the app's own
training run with that budget (usually a blend of several models, slower to predict than one).
Targets: 100k rows <= 5 s, one row < 200 ms.
Run: .venv/bin/python bench/automl_predict.py [--csv data/automl/diamonds.csv] [--rows 100000] [--budget 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lightgbm  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from core.automl import config, features, training  # noqa: E402
from core.automl.artifact import TrainedModel, TrainSpec  # noqa: E402
from core.automl.export import export_model, onnx_predict  # noqa: E402
from core.automl.predict import predict_frame  # noqa: E402
from core.automl.schema import build_schema  # noqa: E402
from core.io import read_csv  # noqa: E402
from core.ml.fingerprint import data_fingerprint  # noqa: E402
from core.ml.metrics import r2, rmse  # noqa: E402

CANDIDATES = (ROOT / "data" / "automl" / "diamonds.csv", ROOT.parent / "shared" / "data" / "tabular" / "diamonds.csv")
TARGET = "price"
BATCH_SECONDS_LIMIT = 5.0
SINGLE_ROW_MS_LIMIT = 200.0
SINGLE_ROW_RUNS = 200


def default_csv() -> Path:
    for path in CANDIDATES:
        if path.exists():
            return path
    raise SystemExit(f"diamonds.csv not found in {', '.join(str(p) for p in CANDIDATES)}; pass --csv")


def train(raw: pd.DataFrame, seed: int) -> TrainedModel:
    """A default LightGBM regressor of the price, fitted like the search fits its candidates."""
    roles = {column: config.FEATURE for column in raw.columns} | {TARGET: config.TARGET}
    shuffled = raw.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = int(len(shuffled) * (1 - config.TEST_SHARE))
    train_rows, test_rows = shuffled.iloc[:cut], shuffled.iloc[cut:]
    schema = build_schema(train_rows, roles, TARGET, config.REGRESSION, seed=seed)
    pipeline = Pipeline([("prep", features.make_preprocessor(schema, "tree")),
                         ("model", lightgbm.LGBMRegressor(random_state=seed, verbose=-1))])
    started = time.perf_counter()
    pipeline.fit(features.model_frame(train_rows, schema), train_rows[TARGET].to_numpy(dtype=float))
    fit_seconds = time.perf_counter() - started
    predicted = pipeline.predict(features.model_frame(test_rows, schema))
    truth = test_rows[TARGET].to_numpy(dtype=float)
    kept = test_rows.head(config.KEPT_TEST_ROWS)
    return TrainedModel(
        spec=TrainSpec(target=TARGET, task=config.REGRESSION, roles=roles, budget_seconds=0.0, seed=seed),
        schema=schema, pipeline=pipeline, algorithm="lgbm",
        leaderboard=pd.DataFrame([{"model": "lgbm", "fit_seconds": fit_seconds}]), metric="rmse",
        test_scores={"rmse": rmse(truth, predicted), "r2": r2(truth, predicted)},
        test_predictions=pd.DataFrame({"y_true": truth, "y_pred": predicted}),
        test_inputs=kept[list(schema.names)].reset_index(drop=True),
        importance=pd.DataFrame(columns=["feature", "importance", "sd"]), ledger={"refit": fit_seconds}, trials=1,
        fingerprint=data_fingerprint(train_rows),
        versions={"python": platform.python_version(), "lightgbm": lightgbm.__version__},
    )


def searched(raw: pd.DataFrame, seed: int, budget: float) -> TrainedModel:
    """The winner of a whole training job (search, choice, refit) with ``budget`` seconds."""
    roles = {column: config.FEATURE for column in raw.columns} | {TARGET: config.TARGET}
    spec = TrainSpec(target=TARGET, task=config.REGRESSION, roles=roles, budget_seconds=budget, seed=seed)
    return training.train(raw, spec)


def single_row_ms(predict: object, rows: pd.DataFrame, seed: int) -> tuple[float, float]:
    """(median, 95th percentile) milliseconds to predict one row, over random rows."""
    rng = np.random.default_rng(seed)
    timings = []
    for i in rng.integers(0, len(rows), SINGLE_ROW_RUNS):
        started = time.perf_counter()
        predict(rows.iloc[[int(i)]])  # type: ignore[operator]
        timings.append((time.perf_counter() - started) * 1000)
    return float(np.median(timings)), float(np.percentile(timings, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    parser.add_argument("--budget", type=float, default=None,
                        help="benchmark the winner of a training job with this budget instead of a default LightGBM")
    args = parser.parse_args()
    raw = read_csv(Path(args.csv) if args.csv else default_csv())
    model = train(raw, args.seed) if args.budget is None else searched(raw, args.seed, args.budget)
    # Timings depend on what else runs: print the machine's load beside them.
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"data: {len(raw)} diamonds; {model.algorithm} on '{TARGET}': test RMSE {model.test_scores['rmse']:.1f}, "
          f"R² {model.test_scores['r2']:.4f}; refit {model.ledger['refit']:.2f} s")

    batch = raw.drop(columns=[TARGET]).sample(args.rows, replace=True, random_state=args.seed).reset_index(drop=True)
    predict_frame(model, batch.head(100))  # warm-up: first-call imports and allocations
    started = time.perf_counter()
    out, _ = predict_frame(model, batch)
    batch_seconds = time.perf_counter() - started
    median, p95 = single_row_ms(lambda row: predict_frame(model, row), batch, args.seed)
    verdict = "ok" if batch_seconds <= BATCH_SECONDS_LIMIT and median < SINGLE_ROW_MS_LIMIT else "TOO SLOW"
    print(f"pipeline: {len(out)} rows in {batch_seconds:.2f} s ({len(out) / batch_seconds:,.0f} rows/s); "
          f"one row median {median:.1f} ms, p95 {p95:.1f} ms [{verdict}]")

    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        result = export_model(model, Path(directory))
        print(f"onnx export: {'exportable' if result.exportable else 'refused'} in {time.perf_counter() - started:.2f} s; "
              f"parity max |diff| {result.parity['max_abs_diff']:.3g} (tolerance {result.parity['tolerance']:.3g}) "
              f"on {result.parity['rows']} test rows" + (f": {result.reason}" if result.reason else ""))
        if result.exportable:
            onnx_predict(Path(directory), batch.head(100), model.schema)
            started = time.perf_counter()
            onnx_out = onnx_predict(Path(directory), batch, model.schema)
            onnx_seconds = time.perf_counter() - started
            median, p95 = single_row_ms(lambda row: onnx_predict(Path(directory), row, model.schema), batch, args.seed)
            gap = float(np.abs(onnx_out["prediction"] - out["prediction"]).max())
            print(f"onnx: {len(onnx_out)} rows in {onnx_seconds:.2f} s; one row median {median:.1f} ms, p95 {p95:.1f} ms; "
                  f"max |onnx - pipeline| on the batch {gap:.3g}")


if __name__ == "__main__":
    main()
