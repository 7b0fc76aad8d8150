"""The AutoML command line (a contract: scripts use it) and the service's checks before a job is queued."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.automl import config, service
from core.errors import InputError
from tests.test_cli import run_cli

WINE = Path(__file__).resolve().parents[2] / "data" / "automl" / "wine.csv"


def test_regression_on_a_text_target_is_refused_before_queuing() -> None:
    frame = pd.DataFrame({"x": range(40), "label": ["a", "b"] * 20})
    roles = {"x": config.FEATURE, "label": config.TARGET}
    with pytest.raises(InputError, match="classification"):
        service.make_spec(frame, "label", roles, task=config.REGRESSION, budget_seconds=10)


def test_a_spec_needs_a_column_for_the_model() -> None:
    frame = pd.DataFrame({"id": range(40), "y": [0, 1] * 20})
    with pytest.raises(InputError, match="no column is left"):
        service.make_spec(frame, "y", {"id": config.ID, "y": config.TARGET}, task=config.CLASSIFICATION,
                          budget_seconds=10)


@pytest.mark.parametrize(("content", "target", "message"), [
    ("", "y", "empty"),
    ("x,y\n", "y", "no data rows"),
    ("x,y\n" + "".join(f"{i},1\n" for i in range(30)), "y", "one value"),
    ("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)), "nope", "nope"),
])
def test_bad_training_input_exits_2_with_one_error_line(tmp_path: Path, content: str, target: str,
                                                         message: str) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    result = run_cli("automl", "train", "--csv", str(csv), "--target", target, "--budget", "10",
                     "--model-dir", str(tmp_path / "m"), "--json")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0].lower()
    assert result.stdout == ""


def test_train_then_predict_keeps_row_order_and_gives_class_probabilities(tmp_path: Path) -> None:
    model_dir = tmp_path / "wine"
    trained = run_cli("automl", "train", "--csv", str(WINE), "--target", "target", "--budget", "20", "--trials", "6",
                      "--model-dir", str(model_dir), "--json")
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["task"] == config.CLASSIFICATION and report["budget_seconds"] == 20
    assert {"task", "roles", "leaderboard", "test_score", "wall_seconds", "budget_seconds"} <= set(report)
    assert report["roles"]["target"]["role"] == config.TARGET
    assert any(row["model"] == "default_lgbm" for row in report["leaderboard"])
    batch = pd.read_csv(WINE).drop(columns=["target"]).iloc[::-1].head(25)  # reversed: order must be kept
    batch.to_csv(tmp_path / "batch.csv", index=False)
    predicted = run_cli("automl", "predict", "--model-dir", str(model_dir), "--csv", str(tmp_path / "batch.csv"),
                        "--out", str(tmp_path / "p.csv"), "--json")
    assert predicted.returncode == 0, predicted.stderr
    out = pd.read_csv(tmp_path / "p.csv")
    proba = out[[c for c in out.columns if c.startswith("proba_")]]
    assert len(out) == 25 and proba.shape[1] == 3
    assert (proba.sum(axis=1) - 1).abs().max() < 1e-6
    assert (out["prediction"] == proba.idxmax(axis=1).str.removeprefix("proba_")).all()
    drift = json.loads(predicted.stdout)["drift"]
    assert {row["column"] for row in drift} >= {"alcohol"}


def test_one_model_only_gives_a_single_model_and_a_board_without_averages(tmp_path: Path) -> None:
    diabetes = WINE.with_name("diabetes.csv")
    trained = run_cli("automl", "train", "--csv", str(diabetes), "--target", "target", "--budget", "20", "--trials",
                      "6", "--single-model", "--model-dir", str(tmp_path / "one"), "--json")
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    models = [row["model"] for row in report["leaderboard"]]
    assert report["winner"] in models and "(" not in report["winner"]
    assert "default_lgbm" in models and not any("(" in m for m in models), models  # no ensemble, no blend
    assert report["exportable"] is True


def test_predict_with_a_missing_column_exits_2(tmp_path: Path) -> None:
    model_dir = tmp_path / "none"
    result = run_cli("automl", "predict", "--model-dir", str(model_dir), "--csv", str(WINE),
                     "--out", str(tmp_path / "p.csv"))
    assert result.returncode == 2 and "no trained model" in result.stderr
