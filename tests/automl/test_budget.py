"""The hard wall-time limit: deadlines, the ledger, the kill of a search process, and a whole job with a
learner that would run for minutes still returning within its budget."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flaml import tune
from flaml.automl.model import SKLearnEstimator
from sklearn.base import BaseEstimator, RegressorMixin

from core.automl import config, search
from core.automl.artifact import TrainSpec
from core.automl.budget import Budget, Ledger, run_until
from core.automl.training import train


class SleepyRegressor(RegressorMixin, BaseEstimator):
    """A regressor whose every fit takes ``seconds`` (a minute by default): a candidate that would run long."""

    def __init__(self, seconds: float = 60.0, n_jobs: int = 1) -> None:
        self.seconds = seconds
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SleepyRegressor:
        time.sleep(self.seconds)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.mean_)


class SleepyEstimator(SKLearnEstimator):
    """The FLAML estimator class of ``SleepyRegressor``, priced as the cheapest learner so the search tries it first."""

    @classmethod
    def search_space(cls, data_size: Any, task: Any, **params: Any) -> dict[str, Any]:
        return {"seconds": {"domain": tune.uniform(59.0, 61.0), "init_value": 60.0}}

    @classmethod
    def cost_relative2lgbm(cls) -> float:
        return 0.01

    def __init__(self, task: Any = "regression", **config: Any) -> None:
        super().__init__(task, **config)
        self.estimator_class = SleepyRegressor


SLEEPY = search.Learner("sleepy", f"{__name__}:SleepyEstimator", "tree", (config.REGRESSION,))


def regression_frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.uniform(0, 3, rows)
    group = rng.choice(["a", "b", "c"], rows)
    y = 3 * x1 + x2**2 + np.where(group == "a", 2.0, 0.0) + rng.normal(0, 0.3, rows)
    return pd.DataFrame({"x1": x1, "x2": x2, "group": group, "y": y})


ROLES = {"x1": config.FEATURE, "x2": config.FEATURE, "group": config.FEATURE, "y": config.TARGET}


def test_deadlines_keep_the_refit_scoring_and_export_shares() -> None:
    budget = Budget(started=100.0, seconds=10.0)
    # a small budget keeps at least the export's minimum, a large one its share
    assert budget.hard_deadline == pytest.approx(100.0 + 10.0 - config.EXPORT_MIN_SECONDS)
    assert Budget(started=0.0, seconds=600.0).hard_deadline == pytest.approx(600.0 * (1 - config.EXPORT_RESERVE_SHARE))
    kept = 10.0 * (config.REFIT_RESERVE_SHARE + config.SCORING_RESERVE_SHARE)
    assert budget.search_deadline == pytest.approx(budget.hard_deadline - kept)
    assert budget.total_deadline == pytest.approx(100.0 + 10.0 * (1 + config.BUDGET_TOLERANCE))
    assert budget.search_deadline < budget.hard_deadline < budget.started + budget.seconds < budget.total_deadline


def test_fits_compares_work_with_the_time_left() -> None:
    budget = Budget(started=time.monotonic(), seconds=10.0)
    assert budget.fits(1.0)
    assert not budget.fits(60.0)
    assert not budget.fits(1.0, keep=budget.left())


def test_the_ledger_adds_up_phases_in_job_order() -> None:
    ledger = Ledger()
    ledger.record("search", 2.0)
    ledger.record("split", 0.5)
    ledger.record("search", 1.0)
    with ledger.phase("refit"):
        pass
    seconds = ledger.as_dict()
    assert list(seconds) == ["split", "search", "refit"]
    assert seconds["search"] == pytest.approx(3.0)
    assert seconds["refit"] >= 0.0


def test_a_child_that_finishes_is_not_killed() -> None:
    outcome = run_until("time:sleep", 0.05, time.monotonic() + 30.0)
    assert outcome.finished
    assert outcome.exitcode == 0


def test_a_child_still_running_at_its_deadline_is_killed() -> None:
    polls: list[float] = []
    outcome = run_until("time:sleep", 60.0, time.monotonic() + 1.0, on_poll=lambda: polls.append(time.monotonic()),
                        poll_seconds=0.1)
    assert not outcome.finished
    assert outcome.exitcode is not None and outcome.exitcode < 0  # ended by a signal
    assert len(polls) >= 2


def test_a_10_s_budget_returns_within_11_s_with_a_candidate_that_would_run_a_minute(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The learner list is read in this process and pickled into the search process.
    monkeypatch.setattr(search, "LEARNERS", (SLEEPY, *search.LEARNERS))
    spec = TrainSpec(target="y", task=config.REGRESSION, roles=ROLES, budget_seconds=10.0)
    started = time.monotonic()
    model = train(regression_frame(), spec, started=started)
    elapsed = time.monotonic() - started
    assert elapsed <= 11.0
    board = model.leaderboard
    assert "sleepy" not in set(board["model"])  # its first fit never finished
    assert board["chosen"].sum() == 1
    # Killed at the deadline, or (on a cold start, where the default LightGBM's folds take the search's whole
    # window) stopped by its own time limit just before it: either way the sleepy fit never ended.
    assert np.isfinite(model.test_scores["rmse"])
