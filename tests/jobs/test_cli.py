"""``python -m core jobs train | predict | backtest``: JSON contract, outputs, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.support import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "jobs", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))


@pytest.fixture(scope="module")
def small_csv(small_raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One platform's runs (gf180: 465 runs, Oct 2022 - Jun 2024), so the commands train on a few hundred runs:
    LightGBM in seconds, and the dense network's six fits stop early after 11-25 epochs each (about half the
    time they take on both platforms' 1,612 runs)."""
    path = tmp_path_factory.mktemp("jobs-cli") / "runs.csv"
    small_raw[small_raw["platform"] == "gf180"].to_csv(path, index=False)
    return path


def test_train_predict_and_write_outputs(small_csv: Path, tmp_path: Path) -> None:
    trained = run_cli("train", "--csv", str(small_csv), "--model-dir", str(tmp_path / "models"),
                      "--test-start", "2024-01-01", "--algorithms", "lightgbm", "--json")
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["split"]["validation_start"].startswith("2024-01-01")
    assert set(report["scores"]) == {"history-baseline", "lightgbm"}
    assert {"r2_log", "mae", "calibration", "under_q95"} <= set(report["scores"]["lightgbm"]["memory"])
    by_history = report["scores_by_history"]["lightgbm"]["memory"]
    assert sum(row["n"] for row in by_history.values()) == report["split"]["validation_rows"]
    model_id = report["models"]["lightgbm"]

    new = pd.read_csv(small_csv).tail(25).drop(columns=["runtime", "memory"])
    new.loc[new.index[:3], "stage"] = "floorplan_never_seen"
    new_csv = tmp_path / "new.csv"
    new.to_csv(new_csv, index=False)
    out_db = f"sqlite:///{tmp_path / 'out.db'}"
    predicted = run_cli("predict", "--model-dir", str(tmp_path / "models"), "--model-id", model_id,
                        "--csv", str(new_csv), "--out", str(tmp_path / "p.csv"),
                        "--out-db", out_db, "--out-table", "job_predictions", "--json")
    assert predicted.returncode == 0, predicted.stderr
    result = json.loads(predicted.stdout)
    assert result["rows"] == 25 and result["out_db"]["rows"] == 25
    assert result["unseen"] == {"stage": {"floorplan_never_seen": 3}}
    written = pd.read_csv(tmp_path / "p.csv")
    assert len(written) == 25
    assert {"predicted_runtime", "predicted_memory", "memory_request_p90", "runtime_upper_p90", "model_id"} <= set(
        written.columns)


def test_backtest_reports_each_model_and_the_baseline(small_csv: Path) -> None:
    result = run_cli("backtest", "--csv", str(small_csv), "--test-start", "2024-05-01", "--retrain-every", "month",
                     "--algorithms", "lightgbm", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["folds"] >= 2
    for algorithm in ("history-baseline", "lightgbm"):
        for target in ("runtime", "memory"):
            scores = report["scores"][algorithm][target]
            assert {"r2_log", "mae", "calibration", "under_q95", "over_q95"} <= set(scores)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--csv", "/nonexistent.csv"], "file not found"),
        (["train"], "give a CSV file"),
        (["backtest", "--csv", "{csv}", "--test-start", "2031-01-01"], "leaves no runs"),
        (["predict", "--csv", "{csv}", "--out", "/tmp/x.csv", "--out-table", "t"], "go together"),
        (["train", "--db", "sqlite:///{tmp}/empty.db", "--table", "nope"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str, small_csv: Path, tmp_path: Path) -> None:
    args = [a.replace("{csv}", str(small_csv)).replace("{tmp}", str(tmp_path)) for a in args]
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and message in result.stderr
    assert "Traceback" not in result.stderr


def _variant(small_csv: Path, tmp_path: Path, name: str, change) -> Path:  # type: ignore[no-untyped-def]
    frame = pd.read_csv(small_csv)
    path = tmp_path / name
    change(frame).to_csv(path, index=False)
    return path


def _mixed_zones(frame: pd.DataFrame) -> pd.DataFrame:
    dates = frame["run_date"].astype(str)
    return frame.assign(run_date=dates.where(frame.index % 2 == 0, dates + "+02:00"))


def _mostly_negative(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(runtime=["-1" if i >= 5 else value for i, value in enumerate(frame["runtime"])])


@pytest.mark.parametrize(("change", "message"), [
    (_mixed_zones, "mixes timestamps with and without a time-zone offset"),
    # Too few rows left: the message says why the others went, so the user knows where to look.
    (_mostly_negative, "rows excluded; first: row 7, column 'runtime'"),
])
def test_unusable_runs_are_explained(small_csv: Path, tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _variant(small_csv, tmp_path, "bad.csv", change)
    result = run_cli("train", "--csv", str(path), "--model-dir", str(tmp_path / "m"), "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error:") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").rglob("*.joblib"))


def test_neural_network_training_leaves_stderr_clean(small_csv: Path, tmp_path: Path) -> None:
    """TensorFlow's native start-up banners must not reach a CLI user's stderr."""
    result = run_cli("train", "--csv", str(small_csv), "--model-dir", str(tmp_path / "m"), "--algorithms", "dense-nn",
                     "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "dense-nn" in json.loads(result.stdout)["models"]
