"""The demand service end to end on a small slice: identical windows for every model, a stored backtest
reused on unchanged data, a plan with its replayed breach rate, and the CLI verbs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import get_settings
from core.demand import config, service
from core.demand.capacity import PlanSettings
from core.demand.data import DemandData
from core.demand.formats import long_table
from core.io.export import safe_csv_bytes
from tests.test_cli import run_cli

FAST = ("seasonal_naive", "theta", "ets")
SLICE_START = pd.Timestamp("2024-07-01")


def _slice(data: DemandData, regions: tuple[str, ...] = ("France Central", "Japan East"),
           metrics: tuple[str, ...] = ("cpu", "users")) -> DemandData:
    keep = data.panel["region"].isin(regions) & data.panel["metric"].isin(metrics)
    return replace(data, panel=data.panel[keep].reset_index(drop=True),
                   regions=data.regions[data.regions["region"].isin(regions)].reset_index(drop=True),
                   capacity=data.capacity[data.capacity["region"].isin(regions)
                                          & data.capacity["metric"].isin(metrics)].reset_index(drop=True))


@pytest.fixture(scope="module")
def small(daily: DemandData) -> DemandData:
    """Two regions' CPU and users from July 2024 on: 18 months still hold every default backtest window (the
    same selection and evaluation windows as the full three years), and each fit reads half the history."""
    sliced = _slice(daily)
    return replace(sliced, panel=sliced.panel[sliced.panel["ds"] >= SLICE_START].reset_index(drop=True))


@pytest.fixture(scope="module")
def result(small: DemandData, tmp_path_factory: pytest.TempPathFactory) -> service.DemandBacktest:
    return service.backtest(small, service.BacktestSettings(models=FAST), settings=_isolated(tmp_path_factory))


def _isolated(tmp_path_factory: pytest.TempPathFactory) -> object:
    root = tmp_path_factory.mktemp("demand-store")
    return replace(get_settings(), database_url=f"sqlite:///{root / 'db.sqlite'}", model_dir=root / "models")


def test_every_model_forecasts_the_same_windows(result: service.DemandBacktest) -> None:
    frame = result.frame
    for part in ("selection", "evaluation"):
        rows = frame[frame["part"] == part]
        assert rows.groupby("series_id")["cutoff"].nunique().nunique() == 1  # every series, the same origins
        for model in result.models:
            assert rows[model].notna().all(), model  # every model forecast every target of every window
    evaluation = frame[frame["part"] == "evaluation"]
    assert evaluation["ds"].min() == result.windows.test_start
    assert frame.loc[frame["part"] == "selection", "ds"].max() < result.windows.test_start
    board = result.leaderboard
    assert set(board["model"]) == {*result.models, "chosen"}
    assert board.groupby("series_id")["n"].nunique().eq(1).all()  # scored on identical rows


def test_a_backtest_on_unchanged_data_is_reused_not_retrained(small: DemandData, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = _isolated(tmp_path_factory)
    options = service.BacktestSettings(models=("seasonal_naive", "theta"))
    first = service.backtest(small, options, settings=settings)
    assert not first.reused

    def no_training(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("retrained on unchanged data")

    monkeypatch.setattr(service, "evaluate", no_training)
    again = service.backtest(small, options, settings=settings)
    assert again.reused and again.summary["chosen_mase"] == pytest.approx(first.summary["chosen_mase"])
    changed = replace(small, panel=small.panel.assign(y=small.panel["y"] * 1.01))
    with pytest.raises(AssertionError, match="retrained"):
        service.backtest(changed, options, settings=settings)  # new data: it must train again
    history = service.accuracy_history(settings)
    assert len(history) == 1 and history["chosen_mase"].iloc[0] == pytest.approx(first.summary["chosen_mase"])


def test_switching_strategy_and_overriding_a_series(result: service.DemandBacktest) -> None:
    sid = result.series_meta["series_id"].iloc[0]
    overridden = result.with_choice(overrides={sid: "seasonal_naive"})
    evaluation = overridden.frame[overridden.frame["part"] == "evaluation"]
    own = evaluation[evaluation["series_id"] == sid]
    np.testing.assert_allclose(own["chosen"], own["seasonal_naive"])
    assert overridden.choice_table.set_index("series_id").loc[sid, "overridden"]
    with pytest.raises(Exception, match="was not in this backtest"):
        result.with_choice(overrides={sid: "lstm"})


def test_intervals_are_honest_and_totals_add_up(result: service.DemandBacktest) -> None:
    frame = result.frame
    first = frame[frame["cutoff"] == frame["cutoff"].min()]
    assert first["chosen_lo"].isna().all()  # nothing known yet at the first cutoff: no interval
    totals = result.totals
    users = frame.merge(result.series_meta, on="series_id").query("metric == 'users'")
    expected = users.groupby(["cutoff", "ds"])["chosen"].sum().to_numpy()
    np.testing.assert_allclose(totals[totals["metric"] == "users"]["chosen"].to_numpy(), expected)
    assert "cpu" not in set(totals["metric"])  # % of each region's own capacity does not add up


def test_a_plan_reports_capacity_risk_and_the_breach_rate_of_past_plans(small: DemandData,
                                                                        result: service.DemandBacktest) -> None:
    plan = service.plan(small, result, PlanSettings(quantile=0.9), 30)
    assert set(plan.table["region"]) == {"France Central", "Japan East"}
    assert plan.table["recommendation"].str.len().gt(20).all()
    paths = plan.paths
    assert (paths["p95"] >= paths["p50"] - 1e-9).all() and len(paths) == 4 * 30
    overall = plan.breaches.iloc[-1]
    assert overall["series_id"] == "all" and overall["points"] > 0 and 0 <= overall["breach_rate"] <= 1
    assert 0 <= plan.coverage <= 1


def test_cli_backtest_plan_and_holidays(small: DemandData, tmp_path: Path) -> None:
    csv, preds, plan_csv = tmp_path / "demand.csv", tmp_path / "p.csv", tmp_path / "plan.csv"
    csv.write_bytes(safe_csv_bytes(long_table(small)))
    capacity = tmp_path / "capacity.csv"
    small.capacity.to_csv(capacity, index=False)
    run = run_cli("demand", "backtest", "--csv", str(csv), "--models", "seasonal_naive,theta", "--horizon", "14",
                  "--test-start", "2025-09-01", "--out", str(preds), "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["test_start"].startswith("2025-09-01") and set(report["choice"]) == set(small.series_ids)
    p = pd.read_csv(preds)
    assert list(p.columns) == ["series", "model", "cutoff", "ds", "y_true", "y_pred", "lo", "hi"]
    assert set(p["model"]) == {"seasonal_naive", "theta", "chosen"} and p["ds"].min() >= "2025-09-01"
    run = run_cli("demand", "plan", "--csv", str(csv), "--models", "seasonal_naive,theta", "--horizon", "30",
                  "--shortage-cost", "9", "--idle-cost", "1", "--capacity", str(capacity), "--out", str(plan_csv),
                  "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["quantile"] == pytest.approx(0.9) and pd.read_csv(plan_csv)["recommendation"].notna().all()
    run = run_cli("demand", "holidays", "--csv", str(csv), "--country", "Japan East=none", "--json")
    rows = json.loads(run.stdout)["holiday_impact"]
    assert {r["region"]: r["holidays"] > 0 for r in rows} == {"France Central": True, "Japan East": False}


@pytest.mark.parametrize("args, message", [
    (["backtest", "--csv", "missing.csv"], "is not a file"),
    (["holidays", "--csv", "{csv}", "--country", "Mars=XX"], "unknown region"),
    (["plan", "--csv", "{csv}", "--horizon", "30", "--quantile", "0.9", "--idle-cost", "1", "--out", "{out}"],
     "not both"),
    (["backtest", "--csv", "{csv}", "--models", "seasonal_naive,crystal_ball"], "unknown model"),
])
def test_cli_bad_input_exits_2_with_one_line(small: DemandData, tmp_path: Path, args: list[str], message: str) -> None:
    csv = tmp_path / "demand.csv"
    csv.write_bytes(safe_csv_bytes(long_table(small)))
    filled = [a.format(csv=csv, out=tmp_path / "plan.csv") for a in args]
    run = run_cli("demand", *filled)
    assert run.returncode == 2 and run.stderr.startswith("error:") and message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert config.DOMAIN == "demand"
