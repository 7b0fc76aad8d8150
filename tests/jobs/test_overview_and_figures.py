"""The Home status line and the figure builders (pure functions: traces are checked)."""

from __future__ import annotations

import pandas as pd

from core.config import get_settings
from core.jobs.evaluation import under_prediction_curve
from core.jobs.overview import status_line
from core.jobs.service import register_models
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine
from core.ui import jobs_figures as figures


def test_status_line_before_and_after_training(small_runs, lightgbm_result, lightgbm_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 's.db'}")
    settings = get_settings({"HEADROOM_MODEL_DIR": str(tmp_path / "models")})
    assert "no model trained yet" in status_line(settings, engine)
    register_models(ModelRegistry(engine, settings.model_dir), lightgbm_result, small_runs, lightgbm_config, source="test")
    line = status_line(settings, engine)
    assert line.startswith("2 trained model(s)") and "R² (log)" in line


def test_figures_have_traces(small_runs, lightgbm_result) -> None:  # type: ignore[no-untyped-def]
    result = lightgbm_result
    runs = small_runs.runs
    pva = figures.predicted_vs_actual(result.predictions, "memory", "lightgbm")
    stages = set(result.predictions["stage"])
    assert {t.name for t in pva.data} == stages | {"exact"}
    assert pva.layout.xaxis.type == "log" and pva.layout.yaxis.type == "log"
    ebs = figures.error_by_stage(result.stage_scores, "runtime")
    assert {t.name for t in ebs.data} == {"history-baseline", "lightgbm"}
    assert figures.figure_count(figures.distributions_by_stage(runs, "runtime")) == 1
    drift = figures.drift_over_time(runs, "memory", top_stages=3)
    assert figures.figure_count(drift) == 3
    curve = under_prediction_curve(result.predictions)
    safety = figures.cost_of_safety(curve, "memory")
    assert {t.name for t in safety.data} == {"history-baseline", "lightgbm"}
    rates = curve[(curve["target"] == "memory") & (curve["algorithm"] == "lightgbm")]["under_rate"].tolist()
    assert rates == sorted(rates, reverse=True)  # a safer quantile never exceeds more often
    assert isinstance(result.predictions, pd.DataFrame)


def test_scores_that_are_undefined_show_as_n_a() -> None:
    from core.ui.format import number

    assert number(0.9234, ".3f") == "0.923"
    assert number(float("nan"), ".3f") == "n/a"  # R² of runs that all took the same time
    assert number(None, ".2f") == "n/a"  # type: ignore[arg-type]
