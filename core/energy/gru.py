"""Global GRU next-hour model (TensorFlow/Keras, imported lazily): energy's own model behind the core's
``GlobalForecaster`` protocol (``NextHourForecaster``).

Input per target: the device's own last ``window`` hours (each divided by the window's mean, so
devices of any size share one model) with each hour's local calendar, plus the target hour's
calendar and static device features (profile, log base load). Scalers are fit on training
windows only and saved beside the network; the loss is Huber; early stopping watches the last
10% (in time) of the training targets, and each epoch's RMSE is reported in kW.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np

from core.energy.features import HourlyPanel, device_features, sequence_windows
from core.energy.models import NextHourForecaster, Progress
from core.forecast.protocol import Seasons
from core.ml import metrics
from core.ml.lazy import import_keras


class _Scaler:
    """Mean/std fit on training values only; a plain object so it pickles with the model."""

    def __init__(self) -> None:
        self.mean: np.ndarray | float = 0.0
        self.std: np.ndarray | float = 1.0

    def fit(self, x: np.ndarray, axis: int | None = None) -> _Scaler:
        self.mean = np.nanmean(x, axis=axis)
        std = np.nanstd(x, axis=axis)
        self.std = np.where(std > 1e-9, std, 1.0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return x * self.std + self.mean


class GRUForecaster(NextHourForecaster):
    algorithm = "gru"

    def __init__(self, window: int = 48, epochs: int = 15, units: int = 32, batch_size: int = 256,
                 learning_rate: float = 2e-3, patience: int = 3, max_train_rows: int | None = None) -> None:
        super().__init__(max_train_rows)
        self.window = window
        self.params = {"window": window, "epochs": epochs, "units": units, "batch_size": batch_size,
                       "learning_rate": learning_rate, "patience": patience, "loss": "huber"}
        self.x_scaler = _Scaler()
        self.y_scaler = _Scaler()
        self.static_scaler = _Scaler()
        self.network: Any = None
        self.epoch_rmse: list[float] = []  # early-stopping set RMSE per epoch, in kW

    # --- inputs --------------------------------------------------------------------------------
    def _raw_inputs(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, ...]:
        values, cal = sequence_windows(panel, d, h, self.window)
        with np.errstate(invalid="ignore", divide="ignore"):
            level = np.nanmean(values, axis=1) if len(values) else np.zeros(0)
            rel = values / level[:, None]
        ok = np.isfinite(rel).all(axis=1) & (level > 0)
        static = np.column_stack([panel.calendar()[d, h], device_features(panel, d)])
        return rel, cal, static, level, ok

    def _tensors(self, rel: np.ndarray, cal: np.ndarray, static: np.ndarray) -> list[np.ndarray]:
        seq = np.concatenate([self.x_scaler.transform(rel)[..., None], cal], axis=2).astype("float32")
        return [seq, self.static_scaler.transform(static).astype("float32")]

    def _build(self, n_seq: int, n_static: int) -> Any:
        keras = import_keras()
        seq_in = keras.Input(shape=(self.window, n_seq), name="window")
        static_in = keras.Input(shape=(n_static,), name="static")
        x = keras.layers.GRU(self.params["units"])(seq_in)
        x = keras.layers.Concatenate()([x, static_in])
        x = keras.layers.Dense(32, activation="relu")(x)
        out = keras.layers.Dense(1)(x)
        model = keras.Model([seq_in, static_in], out)
        model.compile(optimizer=keras.optimizers.Adam(self.params["learning_rate"]), loss=keras.losses.Huber())
        return model

    # --- fit / predict ----------------------------------------------------------------------------
    def fit(self, panel: HourlyPanel, seasons: Seasons, progress: Progress | None = None) -> GRUForecaster:
        keras = import_keras()
        keras.utils.set_random_seed(0)
        d, h = self.training_cells(panel)
        rel, cal, static, level, ok = self._raw_inputs(panel, d, h)
        y = panel.values[d, h] / level
        ok &= np.isfinite(y)
        rel, cal, static, level, y, hh = rel[ok], cal[ok], static[ok], level[ok], y[ok], h[ok]
        if len(y) < 50:
            from core.errors import InputError

            raise InputError("not enough complete 48-hour windows to train the GRU")
        # Time-ordered early-stopping split inside the training targets: the last 10% of hours.
        stop_at = np.quantile(hh, 0.9)
        fit_rows, es_rows = hh < stop_at, hh >= stop_at
        self.x_scaler.fit(rel[fit_rows])
        self.y_scaler.fit(y[fit_rows])
        self.static_scaler.fit(static[fit_rows], axis=0)
        inputs = self._tensors(rel, cal, static)
        target = self.y_scaler.transform(y).astype("float32")
        self.network = self._build(inputs[0].shape[2], inputs[1].shape[1])
        es_inputs = [x[es_rows] for x in inputs]
        es_actual = y[es_rows] * level[es_rows]
        forecaster = self

        class EpochRMSE(keras.callbacks.Callback):  # type: ignore[name-defined]
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                out = forecaster.network.predict(es_inputs, verbose=0, batch_size=2048)[:, 0]
                kw = forecaster.y_scaler.inverse(out) * level[es_rows]
                score = metrics.rmse(es_actual, kw)
                forecaster.epoch_rmse.append(score)
                if logs is not None:
                    logs["val_rmse_kw"] = score
                if progress:
                    progress((epoch + 1) / forecaster.params["epochs"], f"GRU epoch {epoch + 1}: RMSE {score:.3f} kW")

        self.network.fit(
            [x[fit_rows] for x in inputs], target[fit_rows], validation_data=(es_inputs, target[es_rows]),
            epochs=self.params["epochs"], batch_size=self.params["batch_size"], verbose=0, shuffle=True,
            callbacks=[EpochRMSE(), keras.callbacks.EarlyStopping(monitor="val_rmse_kw", mode="min",
                                                                  patience=self.params["patience"],
                                                                  restore_best_weights=True)])
        return self

    def predict_point(self, panel: HourlyPanel, d: np.ndarray, h: np.ndarray) -> np.ndarray:
        out = np.full(len(d), np.nan)
        if len(d) == 0:
            return out
        rel, cal, static, level, ok = self._raw_inputs(panel, d, h)
        if ok.any():
            inputs = self._tensors(rel[ok], cal[ok], static[ok])
            raw = np.asarray(self.network(inputs, training=False))[:, 0]
            out[ok] = self.y_scaler.inverse(raw) * level[ok]
        return out

    # --- persistence (registry "dir:" artifacts) ------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["network"] = None  # the network is saved as .keras, never pickled
        return state

    def save_to_dir(self, path: Path) -> None:
        path = Path(path)
        self.network.save(path / "model.keras")
        joblib.dump(self.__getstate__(), path / "forecaster.joblib")

    @classmethod
    def load_from_dir(cls, path: Path) -> GRUForecaster:
        path = Path(path)
        obj = cls.__new__(cls)
        obj.__dict__.update(joblib.load(path / "forecaster.joblib"))
        obj.network = import_keras().models.load_model(path / "model.keras", compile=False)
        return obj
