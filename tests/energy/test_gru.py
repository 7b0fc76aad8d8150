"""GRU: scalers fit on training windows only, save -> load gives identical predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.energy.config import energy_config
from core.energy.features import sequence_windows
from core.energy.models import time_split, train_models
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine
from tests.energy.test_models import simulated_panel


def test_gru_round_trip_and_train_only_scalers(tmp_path: Path) -> None:
    panel = simulated_panel(days=21, n=2)
    config = energy_config(gru_epochs=2)
    trained = next(t for t in train_models(panel, ("gru",), config) if t.algorithm == "gru")
    model = trained.model
    assert len(model.epoch_rmse) >= 1 and all(np.isfinite(model.epoch_rmse))  # per-epoch RMSE in kW
    assert np.isfinite(trained.metrics["rmse_ratio"])

    # The scalers saw only training windows (before the early-stopping cut), never validation ones.
    split = time_split(panel, config.validation_fraction)

    def rel_and_target(d: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values, _ = sequence_windows(panel, d, h, model.window)
        level = np.nanmean(values, axis=1)
        return values / level[:, None], panel.values[d, h] / level

    d, h = split.train
    keep = h < np.quantile(h, 0.9)
    rel, target = rel_and_target(d[keep], h[keep])
    assert np.isclose(model.x_scaler.std, np.nanstd(rel))
    assert np.isclose(model.y_scaler.mean, np.mean(target)) and np.isclose(model.y_scaler.std, np.std(target))
    rel_all, target_all = rel_and_target(np.concatenate([d, split.validation[0]]), np.concatenate([h, split.validation[1]]))
    assert not np.isclose(model.y_scaler.mean, np.mean(target_all), rtol=0, atol=1e-9)

    engine = create_db_engine(f"sqlite:///{tmp_path / 'r.db'}")
    registry = ModelRegistry(engine, tmp_path / "models")
    record = registry.save("energy", model, algorithm="gru", params=trained.params, metrics=trained.metrics,
                           fingerprint="test", name="next-hour")
    assert record.artifact_kind.startswith("dir:core.energy.gru:")
    loaded = registry.load(record.model_id)
    vd, vh = split.validation
    before = model.predict(panel, vd, vh)
    after = loaded.predict(panel, vd, vh)
    for a, b in zip(before, after, strict=True):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)
    assert loaded.interval == model.interval
