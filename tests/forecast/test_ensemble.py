"""Weights that follow recent errors lean on naive after a shift and move back when models recover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.forecast.ensemble import combine, recent_error_weights, stacking_weights


def _pool(n: int = 700) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    truth = pd.Series(100 + rng.normal(0, 5, n), index=index)
    truth.iloc[200:] += 300  # the level shifts at t = 200
    model = truth + rng.normal(0, 2, n)  # a good model ...
    stale = slice(200, min(n, 400))
    model.iloc[stale] = 100 + rng.normal(0, 2, len(model.iloc[stale]))  # ... misses the shift, then relearns
    naive = truth.shift(1).bfill()
    return pd.DataFrame({"naive": naive, "lightgbm": model}), truth


def test_weights_move_to_naive_after_a_shift_and_back_when_the_model_recovers() -> None:
    forecasts, truth = _pool()
    w = recent_error_weights(forecasts, truth, half_life=12)
    assert w["lightgbm"].iloc[150:200].mean() > 0.7  # the model is better before the shift
    assert w["naive"].iloc[230:400].mean() > 0.95  # the model keeps missing: naive carries it
    assert w["lightgbm"].iloc[550:].mean() > 0.7  # recovered
    ensemble = combine(forecasts, w)

    def rmse(p: pd.Series, start: int) -> float:
        return float(np.sqrt(np.mean((p - truth).iloc[start:] ** 2)))

    # The step after a jump nobody foresaw is split between the members (both just missed); a few
    # steps on, the ensemble is with naive, and far from the stale model.
    assert rmse(ensemble, 200) <= 1.2 * rmse(forecasts["naive"], 200)
    assert rmse(ensemble, 205) <= rmse(forecasts["naive"], 205)
    assert rmse(ensemble, 200) < 0.2 * rmse(forecasts["lightgbm"], 200)


def test_a_weight_uses_only_earlier_errors() -> None:
    forecasts, truth = _pool(300)
    w = recent_error_weights(forecasts, truth)
    changed = truth.copy()
    changed.iloc[250:] = -1e6
    w2 = recent_error_weights(forecasts, changed)
    pd.testing.assert_frame_equal(w.iloc[:251], w2.iloc[:251])  # row 250's weight predates its own error
    assert not w.iloc[251:].equals(w2.iloc[251:])


def test_the_pool_must_hold_naive_and_a_missing_member_gives_up_its_weight() -> None:
    forecasts, truth = _pool(50)
    with pytest.raises(ValueError, match="naive"):
        recent_error_weights(forecasts[["lightgbm"]], truth)
    forecasts.iloc[10, 1] = np.nan
    w = recent_error_weights(forecasts, truth)
    assert combine(forecasts, w).iloc[10] == pytest.approx(forecasts.iloc[10, 0])


@pytest.mark.parametrize("delay", [1, 3, 12])
def test_a_delayed_error_is_learned_only_delay_rows_later(delay: int) -> None:
    forecasts, truth = _pool(300)
    w = recent_error_weights(forecasts, truth, half_life=12, delay=delay)
    changed = truth.copy()
    changed.iloc[250] = -1e6  # row 250's truth, which a k-step forecast learns k rows later
    w2 = recent_error_weights(forecasts, changed, half_life=12, delay=delay)
    pd.testing.assert_frame_equal(w.iloc[: 250 + delay], w2.iloc[: 250 + delay])
    assert not w.iloc[250 + delay].equals(w2.iloc[250 + delay])
    if delay == 1:  # the default is the one-step case
        pd.testing.assert_frame_equal(w, recent_error_weights(forecasts, truth, half_life=12))
    with pytest.raises(ValueError, match="delay"):
        recent_error_weights(forecasts, truth, delay=0)


def test_stacking_gives_a_noisy_copy_of_the_better_member_little_weight():
    rng = np.random.default_rng(0)
    truth = 100 + 50 * np.sin(np.arange(400) / 20) + rng.normal(0, 5, 400)
    good = truth + rng.normal(0, 5, 400)
    noisy = good + rng.normal(0, 15, 400)  # the same forecast plus noise: nothing to add
    weights = stacking_weights(np.stack([good, noisy], axis=1), truth)
    assert weights[0] > 0.85 and weights[1] < 0.15
    # Too few rows with truth: no weights of its own (the step borrows the previous step's).
    thin = np.full(400, np.nan)
    thin[:3] = truth[:3]
    assert (stacking_weights(np.stack([good, noisy], axis=1), thin) == 0).all()
