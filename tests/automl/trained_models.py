"""Small, honestly trained ``TrainedModel``s for the export and predict tests: a tiny frame with a
numeric column with gaps, a categorical column with missing values, a datetime column and a target,
split in time order, fitted through ``features.make_preprocessor`` like the search does."""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline

from core.automl import config, features
from core.automl.artifact import TrainedModel, TrainSpec
from core.automl.schema import Schema, build_schema, category_text
from core.ml.fingerprint import data_fingerprint
from core.ml.metrics import rmse

ROLES = {"load": config.FEATURE, "region": config.FEATURE, "size": config.FEATURE,
         "seen_at": config.DATETIME, "y": config.TARGET}
REGIONS = ("north", "south", "east", "west")


def tiny_frame(rows: int = 240, *, task: str = config.REGRESSION, classes: int = 2, seed: int = 0) -> pd.DataFrame:
    """Numeric ``load`` (with gaps) and ``size``, categorical ``region`` (with missing values), 6-hourly
    ``seen_at`` and a target ``y`` that depends on all of them."""
    rng = np.random.default_rng(seed)
    load = rng.normal(50, 10, rows)
    size = rng.uniform(0, 5, rows)
    region = rng.choice(REGIONS, rows).astype(object)
    seen_at = pd.date_range("2024-03-01", periods=rows, freq="6h")
    signal = (load - 50) / 10 + np.where(region == "north", 1.0, 0.0) - 0.3 * size + 0.5 * np.sin(seen_at.hour / 4)
    signal = signal + rng.normal(0, 0.3, rows)
    region[rng.random(rows) < 0.08] = None
    load[rng.random(rows) < 0.06] = np.nan
    if task == config.REGRESSION:
        target: Any = 200 + 40 * signal
    else:
        edges = np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])
        target = np.array([f"class_{chr(97 + i)}" for i in range(classes)], dtype=object)[np.digitize(signal, edges)]
    return pd.DataFrame({"load": load, "region": region, "size": size, "seen_at": seen_at, "y": target})


def encode_target(values: pd.Series, schema: Schema) -> np.ndarray:
    """Class labels -> indices into ``schema.classes`` (what every AutoML pipeline is fitted on)."""
    return pd.Categorical(category_text(values), categories=list(schema.classes)).codes.astype(int)


def pipeline_for(schema: Schema, family: features.Family, estimator: Any) -> Pipeline:
    return Pipeline([("prep", features.make_preprocessor(schema, family)), ("model", estimator)])


def trained_model(frame: pd.DataFrame, task: str, make_pipeline: Any, *, algorithm: str = "model",
                  roles: dict[str, str] | None = None) -> TrainedModel:
    """Split (last 20 % as test), build the schema on the training rows, fit
    ``make_pipeline(schema)`` on the model frame and fill a ``TrainedModel`` with what was measured."""
    cut = int(len(frame) * (1 - config.TEST_SHARE))
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    roles = dict(roles or ROLES)
    schema = build_schema(train, roles, "y", task)
    started = time.perf_counter()
    pipeline = make_pipeline(schema)
    if task == config.CLASSIFICATION:
        pipeline.fit(features.model_frame(train, schema), encode_target(train["y"], schema))
    else:
        pipeline.fit(features.model_frame(train, schema), train["y"].to_numpy(dtype=float))
    fit_seconds = time.perf_counter() - started
    test_frame = features.model_frame(test, schema)
    predictions = pd.DataFrame({"y_true": test["y"].to_numpy()}, index=test.index)
    if task == config.CLASSIFICATION:
        proba = pipeline.predict_proba(test_frame)
        predictions["y_pred"] = np.asarray(schema.classes, dtype=object)[proba.argmax(axis=1)]
        for i, label in enumerate(schema.classes):
            predictions[f"proba_{label}"] = proba[:, i]
        scores = {"accuracy": float(accuracy_score(predictions["y_true"], predictions["y_pred"]))}
        metric = "log_loss"
    else:
        predictions["y_pred"] = pipeline.predict(test_frame)
        scores = {"rmse": rmse(predictions["y_true"], predictions["y_pred"])}
        metric = "rmse"
    spec = TrainSpec(target="y", task=task, roles=roles, budget_seconds=10.0, time_col="seen_at", max_trials=1)
    leaderboard = pd.DataFrame([{"model": algorithm, "cv_score": np.nan, "cv_sd": np.nan, "fit_seconds": fit_seconds,
                                 "predict_ms_per_row": np.nan, "params": "{}", "exportable": False,
                                 "gain_vs_default": 0.0}])
    return TrainedModel(
        spec=spec, schema=schema, pipeline=pipeline, algorithm=algorithm, leaderboard=leaderboard, metric=metric,
        test_scores=scores, test_predictions=predictions.reset_index(drop=True),
        test_inputs=test[list(schema.names)].reset_index(drop=True),
        importance=pd.DataFrame(columns=["feature", "importance", "sd"]), ledger={"refit": fit_seconds}, trials=1,
        fingerprint=data_fingerprint(train),
        versions={"python": platform.python_version(), "scikit-learn": sklearn.__version__},
    )
