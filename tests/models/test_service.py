"""The Models service over a real (SQLite, temp dir) registry of tiny models of two domains."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import InputError
from core.ml.registry import ModelRegistry, readable_size
from core.models import service
from core.models.config import TABLE_COLUMNS
from tests.models.conftest import SeededRegistry


def test_table_lists_every_domain_newest_first_with_flattened_metrics(seeded: SeededRegistry) -> None:
    table = service.model_table(seeded.registry)
    assert table["model_id"].tolist() == [seeded.energy.model_id, seeded.jobs_baseline.model_id,
                                          seeded.jobs_lgbm.model_id]
    assert list(table.columns[: len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS)
    metrics = set(table.columns[len(TABLE_COLUMNS):])
    # Numeric leaves two levels deep, whatever the domain; lists, text and deeper dicts are left out.
    assert {"runtime.r2_log", "runtime.mae", "memory.r2_log", "split.train_rows", "fit_seconds",
            "rmse", "rmse_ratio", "n_validation"} == metrics
    lgbm = table.set_index("model_id").loc[seeded.jobs_lgbm.model_id]
    assert lgbm["runtime.r2_log"] == 0.81 and pd.isna(lgbm["rmse"])
    assert lgbm["fingerprint"] == "a1b2c3d4e5f6" and lgbm["artifact_present"]
    assert 0 < lgbm["size_mb"] < 0.1
    assert table["created_at"].dt.tz is not None
    assert table.set_index("model_id").loc[seeded.energy.model_id, "status"] == "deployed"


def test_domain_filter_and_domains(seeded: SeededRegistry) -> None:
    assert service.domains(seeded.registry) == ["energy", "jobs"]
    energy = service.model_table(seeded.registry, "energy")
    assert energy["model_id"].tolist() == [seeded.energy.model_id]
    # Metric columns no listed model reports are dropped.
    assert "runtime.r2_log" not in energy and "rmse_ratio" in energy
    assert service.model_table(seeded.registry, "traffic").empty


def test_empty_registry(registry: ModelRegistry) -> None:
    assert service.domains(registry) == []
    table = service.model_table(registry)
    assert table.empty and list(table.columns) == list(TABLE_COLUMNS)


def test_a_missing_artifact_shows_in_the_table(seeded: SeededRegistry) -> None:
    import shutil

    shutil.rmtree(seeded.registry.artifact_dir(seeded.jobs_lgbm))
    row = service.model_table(seeded.registry).set_index("model_id").loc[seeded.jobs_lgbm.model_id]
    assert not row["artifact_present"] and row["size_mb"] == 0
    with pytest.raises(InputError, match="artifact is missing"):
        service.deploy(seeded.registry, seeded.jobs_lgbm.model_id)


def test_compare_puts_two_models_of_one_domain_side_by_side(seeded: SeededRegistry) -> None:
    a, b = seeded.jobs_lgbm.model_id, seeded.jobs_baseline.model_id
    frame = service.compare(seeded.registry, a, b)
    assert list(frame.columns) == [a, b]
    assert frame.loc["algorithm"].tolist() == ["lightgbm", "history-baseline"]
    assert frame.loc["runtime.r2_log"].tolist() == [0.81, 0.55]
    assert frame.loc["params.half_life_days"].tolist() == [30, None]
    assert frame.loc["params.mapping.runtime", a] == "real_time"
    assert "memory.mae" not in frame.index  # missing for both: no row
    assert "model_id" not in frame.index and "by_stage" not in frame.index


def test_compare_refuses_two_domains_and_one_model(seeded: SeededRegistry) -> None:
    with pytest.raises(InputError, match="compare two models of one domain"):
        service.compare(seeded.registry, seeded.jobs_lgbm.model_id, seeded.energy.model_id)
    with pytest.raises(InputError, match="two different models"):
        service.compare(seeded.registry, seeded.energy.model_id, seeded.energy.model_id)
    with pytest.raises(InputError, match="not in the registry"):
        service.compare(seeded.registry, seeded.energy.model_id, "energy-nope")


def test_deploy_replaces_the_deployed_model_of_the_same_name(seeded: SeededRegistry) -> None:
    registry = seeded.registry
    newer = registry.save("energy", {"w": 1}, algorithm="gru", name="next-hour", params={}, metrics={}, fingerprint="f")
    change = service.deploy(registry, newer.model_id)
    assert change.status == "deployed" and seeded.energy.model_id in change.message
    assert registry.get(seeded.energy.model_id).status == "trained"
    assert registry.deployed("energy", "next-hour").model_id == newer.model_id  # type: ignore[union-attr]
    assert "already deployed" in service.deploy(registry, newer.model_id).message


def test_retire(seeded: SeededRegistry) -> None:
    change = service.retire(seeded.registry, seeded.energy.model_id)
    assert change.status == "retired" and "No energy model is deployed" in change.message
    assert seeded.registry.get(seeded.energy.model_id).status == "retired"
    assert "already retired" in service.retire(seeded.registry, seeded.energy.model_id).message


def test_delete_removes_artifact_and_row(seeded: SeededRegistry) -> None:
    path = seeded.registry.artifact_dir(seeded.jobs_lgbm)
    size = seeded.registry.size_on_disk(seeded.jobs_lgbm)
    change = service.delete(seeded.registry, seeded.jobs_lgbm.model_id)
    assert change.status == "deleted" and change.freed_bytes == size > 0
    assert "artifact files" in change.message
    assert not path.exists()
    assert seeded.jobs_lgbm.model_id not in service.model_table(seeded.registry)["model_id"].tolist()


def test_deleting_a_deployed_model_needs_confirmation(seeded: SeededRegistry) -> None:
    model_id = seeded.energy.model_id
    with pytest.raises(service.ConfirmationNeeded, match="is deployed") as caught:
        service.delete(seeded.registry, model_id)
    assert isinstance(caught.value, InputError)
    assert seeded.registry.artifact_dir(seeded.energy).is_dir()
    assert seeded.registry.get(model_id).status == "deployed"  # nothing touched
    service.delete(seeded.registry, model_id, confirm_deployed=True)
    assert service.domains(seeded.registry) == ["jobs"]


def test_flatten_numbers_is_generic() -> None:
    nested = {"a": 1, "b": {"c": 2.5, "d": "text", "e": {"f": 3}}, "g": [1, 2], "h": None, "i": True}
    assert service.flatten_numbers(nested) == {"a": 1, "b.c": 2.5, "h": None}
    assert service.flatten_numbers(nested, depth=3) == {"a": 1, "b.c": 2.5, "b.e.f": 3, "h": None}


def test_readable_size() -> None:
    assert [readable_size(n) for n in (601, 12_600, 5 * 1024 * 1024)] == ["601 B", "12.3 KB", "5.00 MB"]


def test_compare_rows_are_fields_then_params_then_metrics(seeded: SeededRegistry) -> None:
    # The first model has no parameters: its metrics must still come after the second one's parameters.
    rows = service.compare(seeded.registry, seeded.jobs_baseline.model_id, seeded.jobs_lgbm.model_id).index.tolist()
    assert rows.index("status") < rows.index("params.half_life_days") < rows.index("runtime.r2_log")
    assert max(i for i, r in enumerate(rows) if r.startswith("params.")) < rows.index("runtime.r2_log")


def test_apply_runs_the_named_action_and_refuses_an_unknown_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.errors import InputError
    from core.ml.registry import ModelRegistry
    from core.models import service
    from core.storage import create_db_engine

    registry = ModelRegistry(create_db_engine(f"sqlite:///{tmp_path / 'r.db'}"), tmp_path / "models")
    record = registry.save("jobs", {"a": 1}, algorithm="lightgbm", params={}, metrics={}, fingerprint="f")
    assert service.apply(registry, "deploy", record.model_id).status == "deployed"
    with pytest.raises(InputError, match="unknown action"):
        service.apply(registry, "explode", record.model_id)
