"""What a training job produces and the worker, registry, export and predict code share.

``TrainSpec`` is a job's request; ``TrainedModel`` its result. The fitted ``pipeline`` reads
``features.model_frame(raw, schema)``; for classification it predicts class indices ``0..k-1`` into
``schema.classes`` (so string labels never enter the model or its ONNX graph).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from core.automl import config
from core.automl.schema import Schema

MODEL_FILE = "model.joblib"
ONNX_FILE = "model.onnx"


@dataclass(frozen=True)
class TrainSpec:
    target: str
    task: str  # config.CLASSIFICATION | config.REGRESSION
    roles: dict[str, str]  # every column -> role (config.ROLES); the target's role is config.TARGET
    budget_seconds: float
    seed: int = config.DEFAULT_SEED
    time_col: str | None = None  # a time-ordered split on this column (the last rows are the test)
    max_trials: int | None = None  # reproducible mode: a fixed number of trials (with the seed)
    single_model: bool = False  # no ensembles or blends: the winner is one model (search.finalists)


@dataclass
class TrainedModel:
    spec: TrainSpec
    schema: Schema
    pipeline: Any  # a fitted sklearn estimator over features.model_frame(...)
    algorithm: str  # the winner's name, e.g. "lgbm" or "ensemble(lgbm+xgboost)"
    leaderboard: pd.DataFrame  # one row per candidate: model, cv_score, cv_sd, fit_seconds, predict_ms_per_row,
    #                            params, exportable, gain_vs_default
    metric: str  # the CV metric the search optimised (e.g. "roc_auc", "log_loss", "rmse")
    test_scores: dict[str, float]  # the winner on the held-out test split (and the default LightGBM's)
    test_predictions: pd.DataFrame  # y_true, y_pred (+ proba_<class>) on the test split, for the plots
    test_inputs: pd.DataFrame  # raw input rows of the test split (at most config.KEPT_TEST_ROWS): ONNX parity
    importance: pd.DataFrame  # feature, importance, sd (permutation importance on the test split)
    ledger: dict[str, float]  # seconds per phase: profiling, search, refit, export, ...
    trials: int
    fingerprint: str  # of the training data
    versions: dict[str, str]  # library versions
    exportable: bool = False  # set by export after the ONNX parity check
    parity: dict[str, Any] = field(default_factory=dict)  # what the parity check measured
    notes: list[str] = field(default_factory=list)  # what training did that a user should know (rows dropped, ...)

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MODEL_FILE
        joblib.dump(self, path)
        return path

    @staticmethod
    def load(directory: Path) -> TrainedModel:
        loaded = joblib.load(directory / MODEL_FILE)
        if not isinstance(loaded, TrainedModel):
            raise TypeError(f"{directory / MODEL_FILE} is not an AutoML model")
        return loaded
