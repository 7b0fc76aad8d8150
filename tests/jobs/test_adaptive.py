"""Adaptive requests on synthetic streams: recovery after drift, causality, the shared rule, serving."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.forecast.arrivals import adaptive_upper_bounds
from core.forecast.intervals import AdaptiveConformal
from core.jobs.adaptive import ADAPTIVE_GAMMA, adapt_requests, calibration, flow_finish
from core.jobs.evaluation import QUANTILES, ratio_table, request_factor, split_factor

START = pd.Timestamp("2024-01-01 08:00")


def _stream(rng: np.random.Generator, launches: int, runs: int, *, step_at: int | None = None,
            step: float = 0.0, noise: float = 0.1) -> pd.DataFrame:
    """``launches`` launches a day apart of ``runs`` stage runs each, predicted at 1 GB; from launch
    ``step_at`` on the runs use ``exp(step)`` times more (a tool release)."""
    launch = np.repeat(np.arange(launches), runs)
    log_ratio = rng.normal(0.0, noise, len(launch)) + (step if step_at is not None else 0.0) * (launch >= (step_at or 0))
    issued = START + pd.to_timedelta(launch, unit="D")
    return pd.DataFrame({
        "algorithm": "m", "target": "memory", "launch": launch, "run_date": issued,
        "known_at": issued + pd.Timedelta(hours=2), "predicted": 1000.0, "actual": 1000.0 * np.exp(log_ratio),
    })


def _with_split_requests(frame: pd.DataFrame, table: dict) -> pd.DataFrame:
    groups = np.full(len(frame), "*|h")
    return frame.assign(**{f"request_q{round(q * 100)}": frame["predicted"] * split_factor(table, groups, q)
                           for q in QUANTILES})


def _calibrated(rng: np.random.Generator) -> tuple[dict, object]:
    cal = _stream(rng, 20, 25)
    groups = np.full(len(cal), "*|h")
    table = ratio_table(cal["actual"].to_numpy(), cal["predicted"].to_numpy(), groups)
    return table, calibration(cal["actual"], cal["predicted"], table, groups)


def test_after_a_step_up_adaptive_requests_recover_the_target_where_frozen_ones_do_not() -> None:
    rng = np.random.default_rng(0)
    table, warm = _calibrated(rng)
    stream = _with_split_requests(_stream(rng, 120, 25, step_at=30, step=0.25), table)
    adapted, levels = adapt_requests(stream, {("m", "memory"): [warm]})
    actual, launch = stream["actual"].to_numpy(), stream["launch"].to_numpy()
    before, settled = launch < 30, launch >= 60  # settled: a month after the step
    frozen_miss = actual > stream["request_q90"].to_numpy()
    adaptive_miss = actual > adapted["request_q90"].to_numpy()
    assert frozen_miss[before].mean() < 0.15  # exchangeable runs: split conformal holds
    assert frozen_miss[settled].mean() > 0.6  # drift: the frozen factor misses most runs
    assert adaptive_miss[before].mean() < 0.15
    assert 0.04 <= adaptive_miss[settled].mean() <= 0.16, adaptive_miss[settled].mean()
    # The cost stays modest: a typical settled request is the drifted runs' 90% quantile, not their maximum.
    over = np.median(adapted["request_q90"].to_numpy()[settled] / actual[settled])
    assert over < 1.3, over
    assert levels[("m", "memory")]["0.90"]["margin"] > 0.15  # the level reached carries the step forward
    assert "known_at" not in adapted and list(adapted.columns) == [c for c in stream.columns if c != "known_at"]


def test_a_request_never_depends_on_a_run_finished_after_it_was_issued() -> None:
    rng = np.random.default_rng(1)
    table, warm = _calibrated(rng)
    stream = _with_split_requests(_stream(rng, 40, 8, step_at=10, step=0.3), table)
    # Some flows run for days, so their truths arrive after several later launches were issued.
    stream["known_at"] = stream["run_date"] + pd.to_timedelta(rng.choice([0.1, 0.5, 3.5], len(stream)), unit="D")
    first, _ = adapt_requests(stream, {("m", "memory"): [warm]})
    j = int(np.flatnonzero(stream["launch"] == 15)[3])
    changed = stream.copy()
    changed.loc[j, "actual"] *= 20.0  # one run in launch 15 suddenly used far more
    second, _ = adapt_requests(changed, {("m", "memory"): [warm]})
    unknown = (stream["run_date"] < stream.loc[j, "known_at"]).to_numpy()  # issued before that truth was in
    for column in ("request_q90", "request_q95", "request_q99"):
        np.testing.assert_array_equal(first[column].to_numpy()[unknown], second[column].to_numpy()[unknown])
        assert (first[column].to_numpy()[~unknown] != second[column].to_numpy()[~unknown]).any()


def test_with_one_run_per_launch_the_level_moves_by_the_shared_rule() -> None:
    """Upward errors only, one run at a time, each truth in before the next request: the one-sided
    bound is exactly the upper bound of ``core.forecast.intervals.AdaptiveConformal``."""
    rng = np.random.default_rng(2)
    n = 600
    pred = np.full(n, 500.0)
    truth = pred * np.exp(np.abs(rng.normal(0, np.where(np.arange(n) < 300, 0.1, 0.2))))
    cal_pred = np.full(200, 500.0)
    cal_truth = cal_pred * np.exp(np.abs(rng.normal(0, 0.1, 200)))
    aci = AdaptiveConformal(level=0.9, scale="log", gamma=0.005, window=300)
    issued = START + pd.to_timedelta(np.arange(n), unit="h")
    ours = adaptive_upper_bounds(aci, truth, pred, issued_at=issued, known_at=issued + pd.Timedelta(minutes=30),
                      calibration=cal_truth, calibration_pred=cal_pred)
    _, shared_upper = aci.run(truth, pred, calibration=cal_truth, calibration_pred=cal_pred)
    np.testing.assert_allclose(ours.requests, shared_upper, rtol=1e-12)
    misses = (truth > ours.requests).sum()
    assert np.isclose(ours.alpha, 0.1 + 0.005 * (n * 0.1 - misses))


def test_the_level_moves_once_per_launch_not_once_per_run() -> None:
    rng = np.random.default_rng(3)
    table, warm = _calibrated(rng)
    stream = _with_split_requests(_stream(rng, 1, 400, step_at=0, step=1.0), table)  # one launch, all miss
    _, levels = adapt_requests(stream, {("m", "memory"): [warm]})
    assert np.isclose(levels[("m", "memory")]["0.90"]["alpha"], 0.1 + ADAPTIVE_GAMMA * (0.1 - 1.0))


def test_stored_margins_scale_requests_and_keep_them_ordered_by_quantile() -> None:
    rng = np.random.default_rng(4)
    table, _ = _calibrated(rng)
    groups = np.array(["*|h", "*|n"])
    np.testing.assert_allclose(request_factor(table, groups, 0.9), split_factor(table, groups, 0.9))  # older models
    adaptive = {**table, "adaptive": {"0.90": {"alpha": 0.02, "margin": 0.5}, "0.95": {"alpha": 0.05, "margin": 0.0},
                                      "0.99": {"alpha": 0.01, "margin": 0.0}}}
    np.testing.assert_allclose(request_factor(adaptive, groups, 0.9), split_factor(table, groups, 0.9) * np.exp(0.5))
    # q95's own margin is 0, but a q95 request is never below the (widened) q90 one.
    assert (request_factor(adaptive, groups, 0.95) >= request_factor(adaptive, groups, 0.9) - 1e-12).all()


def test_a_flow_is_known_when_all_of_its_stages_have_run() -> None:
    runs = pd.DataFrame({
        "run_date": pd.to_datetime(["2024-01-01 08:00"] * 3 + ["2024-01-02 08:00"]),
        "platform": ["p"] * 4, "block": ["a", "a", "b", "a"], "runtime_s": [60.0, 120.0, 30.0, np.nan],
    })
    assert flow_finish(runs).tolist() == [pd.Timestamp("2024-01-01 08:03"), pd.Timestamp("2024-01-01 08:03"),
                                          pd.Timestamp("2024-01-01 08:00:30"), pd.Timestamp("2024-01-02 08:00")]
