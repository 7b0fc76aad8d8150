"""Training, time-ordered validation, registry round trip, prediction and backtest on a small slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.jobs.columns import detect_columns
from core.jobs.evaluation import (
    QUANTILES,
    calibration_factor,
    calibration_groups,
    ratio_table,
    request_factor,
    split_factor,
)
from core.jobs.history import HISTORY_BASES, from_log
from core.jobs.service import DOMAIN, compare_records, predict, register_models, unseen_keys
from core.jobs.training import JobModel, TrainConfig, backtest, time_cutoff, train_models
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine


@pytest.fixture(scope="module")
def trained(small_runs):  # type: ignore[no-untyped-def]
    return train_models(small_runs, TrainConfig(algorithms=("lightgbm", "dense-nn", "ensemble"), lgbm_estimators=60,
                                                nn_max_epochs=3))


def test_time_cutoff_never_splits_a_date() -> None:
    dates = pd.Series(pd.to_datetime(["2024-01-01"] * 5 + ["2024-02-01"] * 3 + ["2024-03-01"] * 2))
    cut = time_cutoff(dates, 0.2)
    assert cut == pd.Timestamp("2024-03-01")
    assert (dates >= cut).sum() == 2
    with pytest.raises(InputError, match="one run date"):
        time_cutoff(pd.Series(pd.to_datetime(["2024-01-01"] * 4)), 0.2)


def test_validation_holds_out_the_latest_runs(trained, small_runs) -> None:  # type: ignore[no-untyped-def]
    split = trained.split
    start = pd.Timestamp(split["validation_start"])
    runs = small_runs.runs
    assert split["validation_rows"] == int((runs["run_date"] >= start).sum())
    assert split["train_rows"] + split["validation_rows"] == len(runs)
    held = trained.predictions
    assert (pd.to_datetime(held["run_date"]) >= start).all()  # every score comes from held-out runs
    assert set(held["algorithm"]) == {"history-baseline", "lightgbm", "dense-nn", "ensemble"}
    assert len(held) == 4 * 2 * split["validation_rows"]


def test_scores_per_target_and_stage(trained) -> None:  # type: ignore[no-untyped-def]
    scores = trained.scores.set_index(["algorithm", "target"])
    assert {"r2_log", "r2", "mae", "mape", "calibration", "under_q95", "over_q95"} <= set(scores.columns)
    assert (scores["calibration"] >= 1.0).all()
    lgbm = scores.loc[("lightgbm", "memory")]
    assert lgbm["r2_log"] > 0.5  # a real model on real data, far above chance
    stages = trained.stage_scores
    assert set(stages["stage"]) == set(trained.predictions["stage"])


def test_scores_by_history_cover_every_held_out_run(trained) -> None:  # type: ignore[no-untyped-def]
    by_history = trained.history_scores
    assert set(by_history["history"]) <= set(HISTORY_BASES)
    for (algorithm, target), group in by_history.groupby(["algorithm", "target"]):
        assert group["n"].sum() == trained.split["validation_rows"], (algorithm, target)
        order = [HISTORY_BASES.index(h) for h in group["history"]]
        assert order == sorted(order)  # most history first
    # Runs with 3+ earlier runs of their own block+stage are the bulk here and are predicted well.
    own = by_history.set_index(["algorithm", "target", "history"]).loc[("lightgbm", "memory", HISTORY_BASES[0])]
    assert own["r2_log"] > 0.5
    assert trained.metrics_for("lightgbm")["by_history"]


def test_unseen_stages_and_blocks_are_named(trained, small_runs) -> None:  # type: ignore[no-untyped-def]
    model = trained.models["lightgbm"]
    known = small_runs.runs.tail(4).assign(run_date=pd.NaT, runtime_s=np.nan, memory_mb=np.nan)
    new = pd.concat([known, known.head(2).assign(stage="place_brand_new"), known.head(1).assign(block="blk_new")],
                    ignore_index=True)
    assert unseen_keys(model, model.predict(new)) == {"stage": {"place_brand_new": 2}, "block": {"blk_new": 1}}
    assert unseen_keys(model, model.predict(known)) == {}


def test_explicit_test_start_and_bad_test_start(small_runs) -> None:  # type: ignore[no-untyped-def]
    result = train_models(small_runs, TrainConfig(algorithms=(), test_start=pd.Timestamp("2024-01-01")))
    assert result.split["validation_start"].startswith("2024-01-01")
    with pytest.raises(InputError, match="leaves no runs"):
        train_models(small_runs, TrainConfig(algorithms=(), test_start=pd.Timestamp("2030-01-01")))
    with pytest.raises(InputError, match="unknown algorithm"):
        train_models(small_runs, TrainConfig(algorithms=("magic",)))


def test_registry_round_trip_and_prediction_per_row(trained, small_runs, small_raw, tmp_path) -> None:  # type: ignore[no-untyped-def]
    registry = ModelRegistry(create_db_engine(f"sqlite:///{tmp_path / 'r.db'}"), tmp_path / "models")
    config = TrainConfig()
    records = register_models(registry, trained, small_runs, config, source="test")
    assert {r.algorithm for r in records} == {"history-baseline", "lightgbm", "dense-nn", "ensemble"}
    assert len({r.fingerprint for r in records}) == 1
    table = compare_records(registry.list(DOMAIN))
    assert {"runtime_r2_log", "memory_r2_log"} <= set(table.columns)
    new = small_raw.tail(40).drop(columns=["runtime", "memory", "cpu_time"])
    for record in records:
        model = registry.load(record.model_id)
        assert isinstance(model, JobModel)
        before = trained.models[record.algorithm].predict(small_runs.runs.tail(40))
        out = predict(model, new, model_id=record.model_id).predictions
        assert len(out) == 40  # one row per input run, never an average
        assert out["model_id"].eq(record.model_id).all()
        assert out["predicted_runtime"].str.match(r"^\d{2,}:\d{2}:\d{2}$").all()
        assert out["predicted_memory"].str.match(r"^\d+\.\dM$").all()
        assert (out["memory_request_mb"] >= 0).all()
        assert out["predicted_memory_mb"].nunique() > 1
        assert (out["earlier_runs"] >= 0).all() and out["history_from"].notna().all()
        # The reloaded model predicts what the trained one did (scalers saved with the network), and
        # requests from the same adapted level.
        np.testing.assert_allclose(out["predicted_memory_mb"], before["predicted_memory_mb"], rtol=1e-3, atol=0.2)
        np.testing.assert_allclose(out["memory_request_mb"], before["memory_request_mb"], rtol=1e-3, atol=0.2)


def test_requests_at_higher_quantiles_are_larger(trained) -> None:  # type: ignore[no-untyped-def]
    held = trained.predictions
    assert (held["request_q99"] >= held["request_q90"] - 1e-9).all()
    table = ratio_table(held["actual"].to_numpy(), held["predicted"].to_numpy(), held["stage"].to_numpy())
    factors = [request_factor(table, held["stage"], q).mean() for q in QUANTILES]
    assert factors == sorted(factors)
    assert calibration_factor(np.array([1.0, 1.0]), np.array([10.0, 10.0])) == 1.0  # floored at 1


def test_backtest_retrains_each_month(small_runs, lightgbm_config) -> None:  # type: ignore[no-untyped-def]
    # From May 2024: two monthly folds (May, June), each retrained on every earlier run.
    result = backtest(small_runs, "2024-05-01", config=lightgbm_config)
    months = result.folds["month"].tolist()
    assert months == sorted(months) and months[0] == "2024-05" and len(months) == 2
    runs = small_runs.runs
    for fold in result.folds.to_dict("records"):
        start = pd.Period(fold["month"]).start_time
        assert fold["train_rows"] == int((runs["run_date"] < start).sum())
    assert set(result.scores["algorithm"]) == {"history-baseline", "lightgbm"}
    assert int(result.folds["test_rows"].sum()) == int((runs["run_date"] >= "2024-05-01").sum())


def test_detected_mapping_is_stored_with_the_model(trained, small_raw) -> None:  # type: ignore[no-untyped-def]
    assert trained.models["lightgbm"].mapping == detect_columns(small_raw).to_dict()


def test_ensemble_brings_its_members_and_averages_them(trained) -> None:  # type: ignore[no-untyped-def]
    held = trained.predictions.set_index(["algorithm", "target"])
    for target in ("runtime", "memory"):
        members = [np.log1p(held.loc[(a, target), "predicted"].to_numpy()) for a in ("lightgbm", "dense-nn")]
        ensemble = np.log1p(held.loc[("ensemble", target), "predicted"].to_numpy())
        np.testing.assert_allclose(ensemble, np.mean(members, axis=0), rtol=1e-6, atol=1e-6)


def test_an_ensemble_alone_trains_its_members(small_runs) -> None:  # type: ignore[no-untyped-def]
    from core.jobs.training import _algorithms

    assert _algorithms(TrainConfig(algorithms=("ensemble",))) == [
        "history-baseline", "lightgbm", "dense-nn", "ensemble"]
    assert _algorithms(TrainConfig(algorithms=("lightgbm",))) == ["history-baseline", "lightgbm"]


def test_models_stored_elsewhere_are_not_offered(small_runs, lightgbm_config, lightgbm_result, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.jobs.service import available_records, default_model

    engine = create_db_engine(f"sqlite:///{tmp_path / 'r.db'}")
    here = ModelRegistry(engine, tmp_path / "here")
    records = register_models(here, lightgbm_result, small_runs, lightgbm_config, source="test")
    elsewhere = ModelRegistry(engine, tmp_path / "elsewhere")
    assert available_records(elsewhere) == []
    offered = available_records(here)
    assert {r.model_id for r in offered} == {r.model_id for r in records}
    assert offered[default_model(offered)].algorithm == "lightgbm"
    baseline = next(r.model_id for r in records if r.algorithm == "history-baseline")
    assert offered[default_model(offered, [baseline])].model_id == baseline


def test_a_run_of_a_new_block_and_stage_says_where_its_history_came_from(trained, small_runs) -> None:  # type: ignore[no-untyped-def]
    model = trained.models["lightgbm"]
    known = small_runs.runs.tail(3).assign(run_date=pd.NaT, runtime_s=np.nan, memory_mb=np.nan)
    new = known.assign(block="never_seen_block", stage=known["stage"].iloc[0] + "_newsub")
    out = model.predict(pd.concat([known, new], ignore_index=True))
    assert (out["earlier_runs"].iloc[:3] > 0).all()
    assert out["history_from"].iloc[:3].eq("this block+stage").all()
    assert out["earlier_runs"].iloc[3:].eq(0).all()
    # An unseen sub-step of a known step on an unseen block starts from its stage family.
    assert out["history_from"].iloc[3:].isin(["the stage family on the platform", "the stage family"]).all()


def test_new_runs_are_requested_at_the_level_reached_on_the_latest_held_out_runs(trained, small_runs) -> None:  # type: ignore[no-untyped-def]
    for algorithm, model in trained.models.items():
        for target in ("runtime", "memory"):
            levels = model.ratio_tables[target]["adaptive"]
            assert set(levels) == {f"{q:.2f}" for q in QUANTILES}, (algorithm, target)
            assert all(np.isfinite([v["alpha"], v["margin"]]).all() for v in levels.values())
    model = trained.models["lightgbm"]
    new = small_runs.runs.tail(30).assign(run_date=pd.NaT, runtime_s=np.nan, memory_mb=np.nan)
    out = model.predict(new, quantile=0.9)
    logs, X = model.predict_log(new)
    table = model.ratio_tables["memory"]
    groups = calibration_groups(new["stage"], X["memory_count"])
    expected = from_log(logs["memory"]) * split_factor(table, groups, 0.9) * np.exp(table["adaptive"]["0.90"]["margin"])
    np.testing.assert_allclose(out["memory_request_mb"], expected, atol=0.051)
