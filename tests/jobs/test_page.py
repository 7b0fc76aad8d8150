"""The Job Runtime & Memory page in AppTest (opens on the bundled data; trains a small LightGBM on the bundled
file cut to two platforms' runs, ``small_raw``); the page opened cold in Chromium is in ``test_browser.py``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.config import ENV_ALLOW_TYPED_DB_URLS, ENV_DATA_DIR, ENV_STATE_DIR
from core.jobs import config
from core.jobs.service import BUNDLED_FILE
from core.jobs.training import BASELINE, TrainConfig
from tests.support import ROOT

PAGE = "pages/4_jobs.py"


@pytest.fixture
def fast_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.jobs.config

    monkeypatch.setattr(core.jobs.config, "TRAIN_CONFIG", TrainConfig(algorithms=("lightgbm",), lgbm_estimators=40))


@pytest.fixture(scope="module")
def sliced_data_dir(small_raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's data folder with the bundled flow logs cut to ``small_raw`` (1,612 runs of two platforms, not
    13,703): training and every rerun of the trained page take a fraction of the time."""
    folder = tmp_path_factory.mktemp("jobs-data")
    for item in (ROOT / "data").iterdir():
        if item.name != BUNDLED_FILE:
            (folder / item.name).symlink_to(item)
    small_raw.to_csv(folder / BUNDLED_FILE, index=False)
    return folder


@pytest.fixture
def sliced_bundle(monkeypatch: pytest.MonkeyPatch, sliced_data_dir: Path) -> None:
    """The page reads its bundled runs from ``sliced_data_dir``."""
    monkeypatch.setenv(ENV_DATA_DIR, str(sliced_data_dir))


def _page() -> AppTest:
    # Run as a page of the app (Home.py is the entry script), as `streamlit run Home.py` serves it:
    # the menu's page links are resolved against the entry script.
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=300)
    at.switch_page(PAGE)
    return at.run()


def test_page_opens_on_the_bundled_runs_before_training(fast_training) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    assert not at.exception
    assert at.title[0].value == "Job Runtime & Memory"
    assert any("13,703" in m.value for m in at.markdown)
    assert at.selectbox(key="jobs-map-runtime").value == "runtime"
    assert at.selectbox(key="jobs-map-memory").value == "memory"
    assert any("Train to score" in i.value for i in at.info)


def test_page_trains_shows_metrics_and_predicts_an_upload(fast_training, sliced_bundle, small_raw: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    at.button(key="jobs-train-train").click().run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert "runtime R² (log)" in labels and "memory R² (log)" in labels
    memory_r2 = float(next(m.value for m in at.metric if m.label == "memory R² (log)"))
    assert 0.5 < memory_r2 <= 1.0
    assert any(d.key == "dl-scores" for d in at.get("download_button"))

    ids = at.multiselect(key="jobs-compare").options
    assert len(ids) >= 2  # the baseline and LightGBM are both kept in the registry
    at.multiselect(key="jobs-compare").set_value(ids[:2]).run()
    pair = next(d.value for d in at.dataframe if "algorithm" in d.value.index)
    assert list(pair.columns) == ids[:2]
    r2_cells = pair.loc["memory R² (log)"].tolist()
    assert all(len(cell) <= 7 and 0 < float(cell) <= 1 for cell in r2_cells), r2_cells  # 4 significant digits

    assert any(d.key == "dl-history-scores" for d in at.get("download_button"))

    new = small_raw.tail(12).drop(columns=["runtime", "memory", "cpu_time"])
    new.loc[new.index[:2], "stage"] = "cts_never_seen"
    at.radio(key="jobs-predict-source").set_value("Upload CSV").run()
    at.file_uploader(key="jobs-predict-upload").set_value(("new.csv", new.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    predictions = at.dataframe[-1].value
    assert len(predictions) == 12
    assert {"predicted_runtime", "predicted_memory", "memory_request_p90", "model_id"} <= set(predictions.columns)
    assert any(d.key == "dl-predictions" for d in at.get("download_button"))
    assert any("2 runs are of stages this model never saw (cts_never_seen)" in w.value for w in at.warning)

    at.button(key="FormSubmitter:jobs-single-Predict this run").click().run()
    assert not at.exception, at.exception
    assert any(m.label == "Predicted peak memory" and m.value.endswith("M") for m in at.metric)


def _trained_page() -> AppTest:
    """The page after training (trained once per process: later tests find the stored result)."""
    at = _page()
    if [b for b in at.button if b.key == "jobs-train-train"]:
        at.button(key="jobs-train-train").click().run()
    assert not at.exception, at.exception
    return at


def _metric(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(m for m in at.metric if m.label == label)


def _score_table(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns and "stage" not in d.value.columns
                and "history" not in d.value.columns)


def test_cards_show_the_baselines_figures_and_mae_with_units(fast_training, sliced_bundle) -> None:  # type: ignore[no-untyped-def]
    at = _trained_page()
    for target, unit in (("runtime", "s"), ("memory", "MB")):
        table = _score_table(at, f"MAE ({unit})").set_index("model")
        model = at.selectbox(key="jobs-inspect").value
        r2 = _metric(at, f"{target} R² (log)")
        assert r2.proto.delta_description == f"vs baseline {table.loc[BASELINE, 'R² (log)']:.3f}"
        mae = _metric(at, f"{target} MAE ({unit})")
        assert mae.value == f"{table.loc[model, f'MAE ({unit})']:,.1f} {unit}"
        assert mae.proto.delta_description == f"vs baseline {table.loc[BASELINE, f'MAE ({unit})']:,.1f} {unit}"
        baseline_wins = table.loc[BASELINE, f"MAE ({unit})"] < table.loc[model, f"MAE ({unit})"]
        assert (mae.proto.color == mae.proto.RED) == baseline_wins  # a higher MAE is bad news, in red
        said = [c.value for c in at.caption if f"history baseline beats {model} on {target}" in c.value]
        assert bool(said) == baseline_wins, said
        if baseline_wins:
            assert f"lower MAE ({table.loc[BASELINE, f'MAE ({unit})']:,.1f} {unit} vs" in said[0]
        assert _metric(at, f"{target} calibration factor").help == config.SCORE_HELP["calibration"]
    # A 40-tree LightGBM loses to the baseline on memory MAE on these runs: the page says so.
    assert any("history baseline beats lightgbm on memory" in c.value for c in at.caption)


def test_the_reported_flattering_card_now_shows_the_baseline_winning_on_mae(
        fast_training, sliced_bundle, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from core.jobs import service

    reported = pd.DataFrame({
        "algorithm": [BASELINE, BASELINE, "lightgbm", "lightgbm"], "target": ["runtime", "memory"] * 2,
        "n": [2743] * 4, "r2_log": [0.80, 0.951, 0.85, 0.961], "r2": [0.40, 0.948, 0.45, 0.61],
        "mae": [35.3, 84.1, 31.0, 109.6], "mape": [0.48, 0.11, 0.40, 0.10], "calibration": [1.2, 1.1, 1.3, 1.05]})
    real = service.headline_scores
    monkeypatch.setattr(service, "headline_scores", lambda scores, algorithm: real(reported, "lightgbm"))
    at = _trained_page()
    r2 = _metric(at, "memory R² (log)")
    assert (r2.value, r2.delta, r2.proto.delta_description) == ("0.961", "+0.010", "vs baseline 0.951")
    mae = _metric(at, "memory MAE (MB)")
    assert (mae.value, mae.delta, mae.proto.delta_description) == ("109.6 MB", "+25.5 MB", "vs baseline 84.1 MB")
    assert mae.proto.color == mae.proto.RED
    runtime_mae = _metric(at, "runtime MAE (s)")
    assert (runtime_mae.value, runtime_mae.delta) == ("31.0 s", "-4.3 s") and runtime_mae.proto.color == mae.proto.GREEN
    said = [c.value for c in at.caption if "history baseline beats lightgbm on memory" in c.value]
    assert said and "lower MAE (84.1 MB vs 109.6 MB)" in said[0] and "higher R² (0.948 vs 0.610)" in said[0]
    assert not any("beats lightgbm on runtime" in c.value for c in at.caption)


def test_score_tables_say_their_units_fit_the_width_and_explain_q90(fast_training, sliced_bundle) -> None:  # type: ignore[no-untyped-def]
    import json

    at = _trained_page()
    runtime, memory = _score_table(at, "MAE (s)"), _score_table(at, "MAE (MB)")
    for table in (runtime, memory):
        assert "target" not in table.columns and len(table.columns) <= 9  # no horizontal scrolling
        assert {"calibration", "runs above q90 request", "over-provision at q90"} <= set(table.columns)
    assert not [d for d in at.dataframe if "mae" in d.value.columns or "MAE" in d.value.columns]  # no unitless MAE
    main = next(d for d in at.dataframe if "MAE (MB)" in d.value.columns)
    helps = {name: spec.get("help") for name, spec in json.loads(main.proto.columns).items()}
    assert helps["calibration"] == config.SCORE_HELP["calibration"]
    assert helps["runs above q90 request"] == config.SCORE_HELP["under_q90"]
    assert helps["over-provision at q90"] == config.SCORE_HELP["over_q90"]
    assert all("\n" not in config.SCORE_HELP[k] for k in ("calibration", "under_q90", "over_q90"))
    # The rest of the request columns are in an expander, not in the main tables.
    assert any("q95" in c for d in at.dataframe for c in d.value.columns)


def test_models_table_marks_the_deployed_model_and_says_what_predictions_use(fast_training, sliced_bundle) -> None:  # type: ignore[no-untyped-def]
    at = _trained_page()
    chosen = at.selectbox(key="jobs-model").value
    models = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert {"runtime MAE (s)", "memory MAE (MB)"} <= set(models.columns) and len(models.columns) <= 10
    if "deployed ✓" not in set(models["status"]):
        assert any(chosen in c.value and "not deployed until you click" in c.value for c in at.caption), \
            [c.value for c in at.caption]
    at.button(key="jobs-deploy").click().run()
    assert not at.exception, at.exception
    models = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert models.loc[models["status"] == "deployed ✓", "model"].tolist() == [chosen]  # this very run
    assert any(chosen in c.value and "is deployed" in c.value for c in at.caption), [c.value for c in at.caption]
    other = next(m for m in models["model"] if m != chosen)
    at.selectbox(key="jobs-model").set_value(other).run()
    at.button(key="jobs-deploy").click().run()
    models = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert (models["status"] == "deployed ✓").sum() == 1  # one deployed jobs model, whatever its algorithm


def test_bad_upload_shows_an_error(fast_training) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    at.radio(key="jobs-train-source").set_value("Upload CSV").run()
    at.file_uploader(key="jobs-train-upload").set_value(("empty.csv", b"", "text/csv")).run()
    assert not at.exception
    assert any("empty" in e.value for e in at.error)


def _database_source(at: AppTest) -> AppTest:
    return at.radio(key="jobs-train-source").set_value("Database table").run()


def test_with_typed_urls_off_the_database_source_offers_only_named_databases(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ALLOW_TYPED_DB_URLS, "false")
    at = _database_source(_page())
    assert not at.exception, at.exception
    assert at.radio(key="jobs-train-db-how").options == ["app database"]
    assert not [t for t in at.text_input if t.key == "jobs-train-db-url"]
    assert any("Typing database URLs is turned off on this deployment" in c.value for c in at.caption)
    assert any("Using sqlite:///" in c.value for c in at.caption)  # the app database, offered by name


def test_a_typed_sqlite_path_outside_the_state_dir_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv(ENV_ALLOW_TYPED_DB_URLS, "true")
    at = _database_source(_page())
    assert at.radio(key="jobs-train-db-how").options == ["app database", "typed URL"]
    at.radio(key="jobs-train-db-how").set_value("typed URL").run()
    at.text_input(key="jobs-train-db-url").input("sqlite:///../../tmp/x.db").run()
    assert not at.exception, at.exception
    assert any("must be a file inside the app's state directory" in e.value and "outside it" in e.value
               for e in at.error), [e.value for e in at.error]
    assert any("Choose a source of stage runs" in i.value for i in at.info)
    state = Path(os.environ[ENV_STATE_DIR])
    assert not (state / "../../tmp/x.db").resolve().exists()  # refused before any engine was made


def test_runs_are_read_from_a_typed_sqlite_table_inside_the_state_dir(small_raw: pd.DataFrame) -> None:
    import os

    from core.storage import create_db_engine

    engine = create_db_engine(f"sqlite:///{Path(os.environ[ENV_STATE_DIR]) / 'jobs_page_runs.db'}")
    small_raw.head(300).to_sql("stage_runs", engine, index=False, if_exists="replace")
    engine.dispose()
    at = _database_source(_page())
    at.radio(key="jobs-train-db-how").set_value("typed URL").run()
    at.text_input(key="jobs-train-db-url").input("sqlite:///jobs_page_runs.db").run()  # relative: in the state dir
    assert any("Choose a source of stage runs" in i.value for i in at.info)  # no table read before one is picked
    at.selectbox(key="jobs-train-db-table").select("stage_runs").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("**300** usable runs" in m.value for m in at.markdown)
