"""The honest choice: every model on identical windows, chosen only on the selection windows, and seasonal
naive kept where nothing beats it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.demand import config
from core.demand.backtest import plan_windows
from core.demand.choice import choose, forecast_of, pick_strategy, strategy_table
from core.errors import InputError


def _frame(select_errors: dict[str, float], eval_errors: dict[str, float], series: str = "A/cpu") -> pd.DataFrame:
    """A backtest frame where each model is off by a fixed amount in each part."""
    return _windows_frame([("selection", "2024-01-01", select_errors), ("evaluation", "2024-02-01", eval_errors)],
                          series)


def test_the_choice_reads_only_the_selection_windows() -> None:
    # theta is best where the choice is made, ets only later: the choice must not know that.
    frame = _frame({"seasonal_naive": 10, "ets": 5, "theta": 2}, {"seasonal_naive": 10, "ets": 1, "theta": 20})
    choices = choose(frame, ["ets", "theta"], {"A/cpu": 1.0})
    assert choices["per_series"].models["A/cpu"] == ("theta",)
    later = frame.copy()
    later.loc[later["part"] == "evaluation", "theta"] = 100.0  # rewrite the evaluation windows entirely
    assert choose(later, ["ets", "theta"], {"A/cpu": 1.0})["per_series"].models == choices["per_series"].models


def test_the_choice_falls_back_to_seasonal_naive_when_nothing_beats_it() -> None:
    frame = _frame({"seasonal_naive": 1, "ets": 5, "theta": 2}, {"seasonal_naive": 1, "ets": 5, "theta": 2})
    choices = choose(frame, ["ets", "theta"], {"A/cpu": 1.0})
    for strategy in config.STRATEGIES:
        assert choices[strategy].models["A/cpu"] == (config.BASELINE,)
    np.testing.assert_allclose(forecast_of(frame, choices["ensemble"]), frame[config.BASELINE])


def test_the_ensemble_averages_the_best_models_that_beat_the_baseline() -> None:
    frame = _frame({"seasonal_naive": 10, "ets": 5, "theta": 2, "mstl": 3, "arima": 12},
                   {"seasonal_naive": 10, "ets": 5, "theta": 2, "mstl": 3, "arima": 12})
    choice = choose(frame, ["ets", "theta", "arima", "mstl"], {"A/cpu": 1.0})["ensemble"]
    assert choice.models["A/cpu"] == ("theta", "mstl", "ets")
    np.testing.assert_allclose(forecast_of(frame, choice), 100.0 + (2 + 3 + 5) / 3)


def test_strategies_are_scored_on_the_evaluation_windows_and_the_best_is_first() -> None:
    frame = pd.concat([_frame({"seasonal_naive": 10, "ets": 5, "theta": 2}, {"seasonal_naive": 10, "ets": 1, "theta": 9}),
                       _frame({"seasonal_naive": 10, "ets": 3, "theta": 4}, {"seasonal_naive": 10, "ets": 1, "theta": 9},
                              series="B/cpu")], ignore_index=True)
    table = strategy_table(frame, choose(frame, ["ets", "theta"], {"A/cpu": 1.0, "B/cpu": 1.0}), {"A/cpu": 1.0, "B/cpu": 1.0})
    assert table["evaluation_mase"].is_monotonic_increasing
    # global chose ets (mean 4 vs 3 ... pooled: ets (5+3)/2=4, theta (2+4)/2=3 -> theta); per series: theta, ets
    per_series = table.set_index("strategy").loc["per_series"]
    assert per_series["evaluation_mase"] == pytest.approx((9 + 1) / 2)
    assert table.set_index("strategy").loc["global", "evaluation_mase"] == pytest.approx(9)
    assert table["baseline_evaluation_mase"].iloc[0] == pytest.approx(10)


def test_windows_choose_before_the_test_start_and_score_from_it(daily) -> None:
    windows = plan_windows(daily, 28, pd.Timestamp("2025-03-01"))
    assert windows.test_start == pd.Timestamp("2025-03-01")
    assert windows.selection[-1] + 28 * daily.step <= windows.evaluation[0]  # no selection target after the test start
    assert (np.diff(windows.evaluation) == 28 * daily.step).all()
    assert windows.evaluation[-1] + 28 * daily.step <= daily.panel["ds"].max()
    with pytest.raises(InputError, match="less than one 28-step window"):
        plan_windows(daily, 28, pd.Timestamp("2025-12-20"))


def _windows_frame(parts: list[tuple[str, str, dict[str, float]]], series: str) -> pd.DataFrame:
    """One window per (part, cutoff, errors) entry, each model off by a fixed amount."""
    rows = []
    for part, cutoff, errors in parts:
        for step in range(1, 8):
            row = {"series_id": series, "cutoff": pd.Timestamp(cutoff),
                   "ds": pd.Timestamp(cutoff) + pd.Timedelta(days=step), "step": step, "y": 100.0, "part": part}
            row.update({m: 100.0 + e for m, e in errors.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def test_the_default_strategy_is_picked_without_reading_the_evaluation_windows() -> None:
    # Series A: theta wins the first selection window, ets the second; B: ets throughout. Chosen on the first
    # window, per-series (theta for A) loses the second window to one global model (ets).
    a = _windows_frame([("selection", "2024-01-01", {"seasonal_naive": 10, "ets": 3, "theta": 2}),
                        ("selection", "2024-01-15", {"seasonal_naive": 10, "ets": 1, "theta": 6}),
                        ("evaluation", "2024-02-01", {"seasonal_naive": 10, "ets": 1, "theta": 1})], "A/cpu")
    b = _windows_frame([("selection", "2024-01-01", {"seasonal_naive": 10, "ets": 1, "theta": 4}),
                        ("selection", "2024-01-15", {"seasonal_naive": 10, "ets": 1, "theta": 4}),
                        ("evaluation", "2024-02-01", {"seasonal_naive": 10, "ets": 1, "theta": 1})], "B/cpu")
    frame = pd.concat([a, b], ignore_index=True)
    scales = {"A/cpu": 1.0, "B/cpu": 1.0}
    default, inner = pick_strategy(frame, ["ets", "theta"], scales)
    assert default == "global" and inner["global"] < inner["per_series"]
    rewritten = frame.copy()
    rewritten.loc[rewritten["part"] == "evaluation", "ets"] = 500.0  # the evaluation windows now favour theta
    assert pick_strategy(rewritten, ["ets", "theta"], scales)[0] == default
