"""The candidate regressors, all on log targets, with one small surface:
``fit(X, y, weights) -> self`` and ``predict(X) -> log predictions``.

``X`` is the design matrix from :func:`design_matrix`: categorical keys as text,
numeric history and design features as floats (NaN allowed). Each model keeps
whatever it needs to turn a new matrix into numbers (categories, scalers).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from core.jobs.history import stage_family

CATEGORICAL = ["platform", "block", "stage", "stage_family"]
_EPOCH = pd.Timestamp("2000-01-01")


def design_matrix(runs: pd.DataFrame, history: pd.DataFrame, design_columns: list[str]) -> pd.DataFrame:
    """Model inputs for ``runs``: keys, history features, design features (signed log1p) and time."""
    X = pd.DataFrame(index=runs.index)
    for column in ("platform", "block", "stage"):
        X[column] = runs[column].astype(str)
    X["stage_family"] = stage_family(runs["stage"])
    # Name shape, which carries over to stages never seen before: a sub-step (``floorplan_tap``) or a main step.
    X["stage_is_substep"] = (X["stage"] != X["stage_family"]).astype(float)
    for column in history.columns:
        X[column] = history[column].astype(float)
    for column in design_columns:
        values = runs[column].astype(float) if column in runs.columns else pd.Series(np.nan, index=runs.index)
        X[f"x_{column}"] = np.sign(values) * np.log1p(values.abs())
    X["t_days"] = (runs["run_date"] - _EPOCH).dt.total_seconds() / 86400.0
    return X


def numeric_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if c not in CATEGORICAL]


class HistoryBaselineRegressor:
    """Median of the last 3 runs of the same platform+block+stage, else the stage median."""

    algorithm = "history-baseline"

    def __init__(self, target: str) -> None:
        self.target = target
        self.fallback = 0.0
        self.fit_seconds = 0.0

    def fit(self, X: pd.DataFrame, y: np.ndarray, weights: np.ndarray | None = None) -> HistoryBaselineRegressor:
        self.fallback = float(np.median(y))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        base = X[f"{self.target}_baseline"].to_numpy(dtype=float)
        return np.where(np.isnan(base), self.fallback, base)


class LightGBMRegressor:
    """Gradient-boosted trees; categories fixed at fit, unseen ones become missing."""

    algorithm = "lightgbm"

    def __init__(self, target: str, *, n_estimators: int = 500, learning_rate: float = 0.04, num_leaves: int = 31,
                 seed: int = 0, n_jobs: int = 2) -> None:
        self.target = target
        self.params: dict[str, Any] = dict(n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
                           min_child_samples=30, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                           reg_lambda=5.0, random_state=seed, n_jobs=n_jobs, verbose=-1)
        self.categories: dict[str, list[str]] = {}
        self.columns: list[str] = []
        self.model: Any = None
        self.fit_seconds = 0.0

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X[self.columns].copy()
        for column in CATEGORICAL:
            out[column] = pd.Categorical(out[column], categories=self.categories[column])
        return out

    def fit(self, X: pd.DataFrame, y: np.ndarray, weights: np.ndarray | None = None) -> LightGBMRegressor:
        import lightgbm as lgb

        started = time.perf_counter()
        self.columns = list(X.columns)
        self.categories = {c: sorted(X[c].astype(str).unique()) for c in CATEGORICAL}
        self.model = lgb.LGBMRegressor(**self.params)
        self.model.fit(self._frame(X), y, sample_weight=weights)
        self.fit_seconds = time.perf_counter() - started
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(self._frame(X)), dtype=float)


class DenseNetRegressor:
    """A dense TensorFlow network predicting a correction to the history prior (the baseline's
    block+stage median with a fallback through stage family, stage and platform; see ``history``).

    Inputs: standardised numeric features (NaN -> training median, plus missing flags) and
    one-hot keys. Scalers and encoders are fit on the training rows only and saved with
    the network. Early stopping watches the latest 10% of the training rows.
    """

    algorithm = "dense-nn"

    def __init__(self, target: str, *, hidden: tuple[int, ...] = (128, 64), batch_size: int = 256,
                 max_epochs: int = 100, patience: int = 10, learning_rate: float = 1e-3, seed: int = 0) -> None:
        self.target = target
        self.config: dict[str, Any] = dict(hidden=list(hidden), batch_size=batch_size, max_epochs=max_epochs, patience=patience,
                           learning_rate=learning_rate, seed=seed)
        self.numeric: list[str] = []
        self.medians: np.ndarray | None = None
        self.scaler: Any = None
        self.categories: dict[str, list[str]] = {}
        self.fallback = 0.0
        self.net: Any = None
        self.epochs_run = 0
        self.fit_seconds = 0.0

    def _base(self, X: pd.DataFrame) -> np.ndarray:
        # Models saved before the prior existed corrected the history baseline.
        column = getattr(self, "base_column", f"{self.target}_baseline")
        base = X[column if column in X else f"{self.target}_baseline"].to_numpy(dtype=float)
        return np.where(np.isnan(base), self.fallback, base).reshape(-1, 1).astype("float32")

    def _inputs(self, X: pd.DataFrame) -> np.ndarray:
        values = X[self.numeric].to_numpy(dtype=float)
        values[:, self._log_columns] = np.log1p(np.clip(values[:, self._log_columns], 0.0, None))
        missing = np.isnan(values)
        values = np.where(missing, self.medians, values)
        scaled = self.scaler.transform(values)
        parts = [scaled, missing[:, self._flagged].astype(float)]
        for column, cats in self.categories.items():
            index = {c: i for i, c in enumerate(cats)}
            codes = X[column].astype(str).map(index).fillna(-1).to_numpy(dtype=int)
            onehot = np.zeros((len(X), len(cats)))
            known = codes >= 0
            onehot[np.flatnonzero(known), codes[known]] = 1.0
            parts.append(onehot)
        return np.hstack(parts).astype("float32")

    def fit(self, X: pd.DataFrame, y: np.ndarray, weights: np.ndarray | None = None) -> DenseNetRegressor:
        from sklearn.preprocessing import StandardScaler

        from core.ml.lazy import import_keras

        keras = import_keras()
        started = time.perf_counter()
        keras.utils.set_random_seed(self.config["seed"])
        # Calendar time is left to the trees: a network would extrapolate it linearly into the future.
        self.numeric = [c for c in numeric_columns(X) if c != "t_days"]
        self._log_columns = np.array([c.endswith(("_count", "_days_since")) for c in self.numeric])
        raw = X[self.numeric].to_numpy(dtype=float)
        raw[:, self._log_columns] = np.log1p(np.clip(raw[:, self._log_columns], 0.0, None))
        with np.errstate(all="ignore"):
            medians = np.nanmedian(np.where(np.isnan(raw).all(axis=0), 0.0, raw), axis=0)
        self.medians = np.nan_to_num(medians)
        self._flagged = np.isnan(raw).any(axis=0)
        self.scaler = StandardScaler().fit(np.where(np.isnan(raw), self.medians, raw))
        self.categories = {c: sorted(X[c].astype(str).unique()) for c in CATEGORICAL}
        self.fallback = float(np.median(y))
        prior = f"{self.target}_prior"
        self.base_column = prior if prior in X else f"{self.target}_baseline"
        inputs, base = self._inputs(X), self._base(X)
        target = (np.asarray(y, dtype=float).reshape(-1, 1) - base).astype("float32")
        w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=float)

        n_stop = max(1, int(round(0.1 * len(X))))  # rows are in time order: the latest are the stopping set
        fit_rows, stop_rows = slice(0, len(X) - n_stop), slice(len(X) - n_stop, len(X))
        features = keras.Input(shape=(inputs.shape[1],), name="features")
        hidden = features
        for units in self.config["hidden"]:
            hidden = keras.layers.Dense(units, activation="relu",
                                        kernel_regularizer=keras.regularizers.L2(1e-5))(hidden)
            hidden = keras.layers.Dropout(0.1)(hidden)
        correction = keras.layers.Dense(1, kernel_initializer="zeros")(hidden)
        self.net = keras.Model(features, correction)
        self.net.compile(optimizer=keras.optimizers.Adam(self.config["learning_rate"]), loss="mse")
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.config["patience"],
                                                restore_best_weights=True)
        history = self.net.fit(
            inputs[fit_rows], target[fit_rows], sample_weight=w[fit_rows],
            validation_data=(inputs[stop_rows], target[stop_rows]),
            batch_size=self.config["batch_size"], epochs=self.config["max_epochs"],
            callbacks=[stopper], verbose=0,
        )
        self.epochs_run = len(history.history["loss"])
        self.fit_seconds = time.perf_counter() - started
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        correction = self.net(self._inputs(X), training=False).numpy()
        return (self._base(X) + correction).ravel().astype(float)

    # The network goes to a .keras file; everything else (scalers, encoders) to joblib.
    def save(self, path: Path, name: str) -> None:
        self.net.save(path / f"{name}.keras")
        state = {k: v for k, v in self.__dict__.items() if k != "net"}
        joblib.dump(state, path / f"{name}.nn.joblib")

    @classmethod
    def load(cls, path: Path, name: str) -> DenseNetRegressor:
        from core.ml.lazy import import_keras

        model = cls.__new__(cls)
        model.__dict__.update(joblib.load(path / f"{name}.nn.joblib"))
        model.net = import_keras().models.load_model(path / f"{name}.keras")
        return model


class EnsembleRegressor:
    """The mean, on the log scale, of already fitted members (LightGBM and the network):
    their errors differ, so the average is steadier than either."""

    algorithm = "ensemble"
    members_needed = ("lightgbm", "dense-nn")

    def __init__(self, target: str, members: list[Any]) -> None:
        self.target = target
        self.members = members
        self.fit_seconds = sum(getattr(m, "fit_seconds", 0.0) for m in members)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.mean([m.predict(X) for m in self.members], axis=0)


ALGORITHMS: dict[str, type] = {
    "history-baseline": HistoryBaselineRegressor,
    "lightgbm": LightGBMRegressor,
    "dense-nn": DenseNetRegressor,
    "ensemble": EnsembleRegressor,
}
