"""Against a real PostgreSQL server: read a source table, train, write the output table, with the
database policy of a visitor's choice applied (a typed URL, or the same database named in secrets)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from core.config import Settings, get_settings
from core.errors import InputError
from core.jobs.service import (
    load_source,
    predict,
    prepare,
    read_runs_table,
    save_predictions,
    write_predictions,
)
from core.jobs.training import TrainConfig, train_models
from core.storage import create_db_engine, list_tables

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_url: str):  # type: ignore[no-untyped-def]
    engine = create_db_engine(pg_url)
    yield engine
    with engine.begin() as conn:
        for name in ("jobs_source_runs", "jobs_predictions", "jobs_untouched"):
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))  # fixed test names, not user input
    engine.dispose()


@pytest.fixture
def typed_allowed(tmp_path: Path) -> Settings:
    return get_settings({"HEADROOM_STATE_DIR": str(tmp_path / "state"), "HEADROOM_ALLOW_TYPED_DB_URLS": "true"})


def test_train_from_a_postgres_table_and_write_predictions(pg, pg_url: str, small_raw: pd.DataFrame,  # type: ignore[no-untyped-def]
                                                           typed_allowed: Settings) -> None:
    small_raw.to_sql("jobs_source_runs", pg, index=False)
    pd.DataFrame({"keep": [1, 2, 3]}).to_sql("jobs_untouched", pg, index=False)

    frame = read_runs_table(pg_url, "jobs_source_runs", None, typed_allowed)
    assert len(frame) == len(small_raw)
    limited = read_runs_table(pg_url, "jobs_source_runs", 50, typed_allowed)
    assert len(limited) == 50

    prepared = prepare(frame, file="jobs_source_runs")
    assert prepared.rejected.empty and len(prepared.runs) == len(small_raw)
    result = train_models(prepared, TrainConfig(algorithms=("lightgbm",), lgbm_estimators=40))
    model = result.models["lightgbm"]
    out = predict(model, frame.tail(30), model_id="jobs-test").predictions

    first = save_predictions(pg_url, "jobs_predictions", out, typed_allowed)
    # The same server named in secrets is allowed with typing turned off.
    shared = replace(typed_allowed, allow_typed_db_urls=False, named_db_urls={"runs": pg_url})
    second = save_predictions(pg_url, "jobs_predictions", out.head(5), shared)
    assert first.prediction_run_id != second.prediction_run_id
    assert (first.rows, second.rows, first.table) == (30, 5, "jobs_predictions")
    stored = pd.read_sql(sa.select(sa.Table("jobs_predictions", sa.MetaData(), autoload_with=pg)), pg)
    assert len(stored) == 35
    assert stored.groupby("prediction_run_id").size().sort_values().tolist() == [5, 30]
    assert set(stored["model_id"]) == {"jobs-test"}
    assert stored["predicted_memory"].str.endswith("M").all()
    untouched = pd.read_sql(sa.select(sa.Table("jobs_untouched", sa.MetaData(), autoload_with=pg)), pg)
    assert untouched["keep"].tolist() == [1, 2, 3]
    assert {"jobs_source_runs", "jobs_predictions", "jobs_untouched"} <= set(list_tables(pg))


def test_a_typed_postgres_url_is_refused_when_typing_is_off(pg, pg_url: str, typed_allowed: Settings) -> None:  # type: ignore[no-untyped-def]
    pd.DataFrame({"keep": [1]}).to_sql("jobs_untouched", pg, index=False)
    shared = replace(typed_allowed, allow_typed_db_urls=False)
    with pytest.raises(InputError, match="turned off") as refused:
        read_runs_table(pg_url, "jobs_untouched", None, shared)
    assert "headroom-secret" not in refused.value.message
    with pytest.raises(InputError, match="turned off"):
        save_predictions(pg_url, "jobs_predictions", pd.DataFrame({"model_id": ["m"]}), shared)
    assert "jobs_predictions" not in list_tables(pg)


def test_a_table_not_in_the_database_is_refused(pg, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="does not exist"):
        load_source(db_url=pg_url, table="jobs_source_runs; DROP TABLE models")
    with pytest.raises(InputError, match="not a valid output table name"):
        write_predictions(pg, 'x"; DROP TABLE models; --', pd.DataFrame())


def test_an_incompatible_existing_output_table_is_refused(pg) -> None:  # type: ignore[no-untyped-def]
    pd.DataFrame({"keep": [1]}).to_sql("jobs_untouched", pg, index=False)
    with pytest.raises(InputError, match="lacks columns"):
        write_predictions(pg, "jobs_untouched", pd.DataFrame({"model_id": ["m"], "row": [2]}))
    untouched = pd.read_sql(sa.select(sa.Table("jobs_untouched", sa.MetaData(), autoload_with=pg)), pg)
    assert untouched["keep"].tolist() == [1]
