"""Rolling-origin backtests: identical windows for every model, refits only when asked; honest selection."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast.backtest import cross_validation, origins, score
from core.forecast.baselines import Naive, SeasonalNaive
from core.forecast.protocol import Seasons
from core.forecast.selection import choose_per_series


def _daily(days: int = 14, *, seed: int = 0, step: str = "1h") -> pd.Series:
    index = pd.date_range("2024-01-01", periods=days * 24, freq=step, tz="UTC")
    rng = np.random.default_rng(seed)
    shape = 100 + 50 * np.sin(np.arange(len(index)) / 24 * 2 * np.pi)
    return pd.Series(shape + rng.normal(0, 3, len(index)), index=index)


@dataclass
class CountingMean:
    """The mean of the history at fit time: it records every fit and the last time it was fit on."""

    name: str = "mean"
    fitted_until: list[pd.Timestamp] = field(default_factory=list)
    level: float = 0.0

    def fit(self, y: pd.Series, seasons: Seasons) -> CountingMean:
        self.fitted_until.append(y.index[-1])
        self.level = float(y.mean())
        return self

    def forecast(self, y: pd.Series, origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
        return np.full((len(origins), horizon), self.level)


def test_every_model_is_scored_on_identical_windows() -> None:
    y = _daily()
    cv = cross_validation(y, {"naive": Naive, "seasonal_naive": SeasonalNaive}, horizon=6, n_windows=10, step=6)
    assert len(cv) == 60 and cv["cutoff"].nunique() == 10
    assert cv[["naive", "seasonal_naive"]].notna().all().all()
    assert (cv["ds"] > cv["cutoff"]).all()
    assert cv["ds"].max() == y.index[-1]  # the last window ends with the data
    assert np.array_equal(cv["y"].to_numpy(), y.reindex(cv["ds"]).to_numpy())
    board = score(cv, y, season=24)
    assert set(board["model"]) == {"naive", "seasonal_naive"} and (board["n"] == 60).all()
    assert board.iloc[0]["model"] == "seasonal_naive"  # a daily shape: yesterday beats the last value


@pytest.mark.parametrize(("refit_every", "fits"), [(1, 12), (3, 4), (5, 3), (0, 1)])
def test_refit_every_refits_when_asked_and_only_then(refit_every: int, fits: int) -> None:
    y = _daily()
    made: list[CountingMean] = []

    def factory() -> CountingMean:
        made.append(CountingMean())
        return made[-1]

    cv = cross_validation(y, {"mean": factory}, horizon=4, n_windows=12, step=4, refit_every=refit_every)
    assert cv.attrs["fits"] == {"mean": fits}
    cutoffs = sorted(cv["cutoff"].unique())
    group = len(cutoffs) if refit_every == 0 else refit_every
    assert [m.fitted_until[0] for m in made] == cutoffs[::group]  # each fit on data up to its first origin


def test_a_model_never_sees_data_after_its_origin() -> None:
    y = _daily()
    cv = cross_validation(y, {"naive": Naive, "seasonal_naive": SeasonalNaive}, horizon=3, n_windows=5, step=24)
    for cut in cv["cutoff"].unique():
        spoiled = y.where(y.index <= cut, y + 1000.0)  # this window's future, raised
        again = cross_validation(spoiled, {"naive": Naive, "seasonal_naive": SeasonalNaive}, horizon=3, n_windows=5,
                                 step=24)
        mine = cv["cutoff"] == cut
        for model in ("naive", "seasonal_naive"):
            assert np.allclose(cv.loc[mine, model], again.loc[mine, model])


def test_too_short_a_history_is_refused_clearly() -> None:
    with pytest.raises(InputError, match="too few"):
        origins(_daily(1), horizon=12, n_windows=20)


def _cv_of(errors: dict[str, list[float]], series_id: str = "a") -> pd.DataFrame:
    n = len(next(iter(errors.values())))
    cutoffs = pd.date_range("2024-01-01", periods=n, freq="1D", tz="UTC")
    frame = pd.DataFrame({"series_id": series_id, "cutoff": cutoffs, "ds": cutoffs + pd.Timedelta("1h"), "step": 1,
                          "y": 100.0})
    for model, err in errors.items():
        frame[model] = 100.0 + np.asarray(err)
    return frame


def test_selection_falls_back_to_the_baseline_when_nothing_beats_it() -> None:
    cv = _cv_of({"seasonal_naive": [1, 1, 1, 1], "lightgbm": [2, 2, 0, 0]})
    row = choose_per_series(cv, ["lightgbm"]).iloc[0]
    assert row["chosen"] == "seasonal_naive"
    assert row["best_in_hindsight"] == "lightgbm"  # better later, but chosen on the earlier windows


def test_selection_is_made_on_earlier_windows_and_scored_on_later_ones() -> None:
    cv = pd.concat([_cv_of({"seasonal_naive": [3, 3, 3, 3], "lightgbm": [1, 1, 5, 5], "ets": [2, 2, 2, 2]}, "a"),
                    _cv_of({"seasonal_naive": [3, 3, 3, 3], "lightgbm": [1, 1, 1, 1], "ets": [1, 1, 1, 1]}, "b")])
    table = choose_per_series(cv, ["ets", "lightgbm"]).set_index("series_id")
    assert table.loc["a", "chosen"] == "lightgbm" and table.loc["a", "evaluation_mae"] == 5.0
    assert table.loc["a", "best_in_hindsight"] == "ets"
    assert table.loc["b", "chosen"] == "ets"  # a tie goes to the simpler model, listed first


@pytest.mark.parametrize("values", [np.zeros(240), np.full(240, 7.0), np.eye(1, 240, 100).ravel(),
                                    np.linspace(0.01, 0.9, 240)], ids=["zeros", "constant", "one-spike", "below-one"])
def test_degenerate_series_run_every_model_without_error(values: np.ndarray) -> None:
    y = pd.Series(values, index=pd.date_range("2024-01-01", periods=240, freq="1h", tz="UTC"))
    cv = cross_validation(y, {"naive": Naive, "seasonal_naive": SeasonalNaive}, horizon=3, n_windows=5, step=3)
    assert cv[["naive", "seasonal_naive"]].notna().all().all()
    board = score(cv, y, season=24)  # a zero seasonal scale gives MASE NaN, not an error
    assert len(board) == 2


def test_backtest_intervals_come_from_earlier_windows_only_and_cover_about_their_level() -> None:
    from core.forecast.backtest import add_intervals

    y = _daily(days=40, seed=3)
    cv = cross_validation(y, {"seasonal_naive": SeasonalNaive}, horizon=2, n_windows=300, step=2)
    framed = add_intervals(cv, ["seasonal_naive"], level=0.8, scale="absolute")
    board = score(framed, y, season=24).set_index("model")
    assert 0.72 <= board.loc["seasonal_naive", "coverage"] <= 0.88 and board.loc["seasonal_naive", "width"] > 0
    assert framed.loc[framed["cutoff"] == framed["cutoff"].min(), "seasonal_naive_lo"].isna().all()  # nothing earlier
    # A window's interval ignores every truth after its cutoff: wrecking the last window changes no other interval.
    wrecked = cv.copy()
    last = wrecked["cutoff"] == wrecked["cutoff"].max()
    wrecked.loc[last, "y"] = 1e6
    again = add_intervals(wrecked, ["seasonal_naive"], level=0.8, scale="absolute")
    pd.testing.assert_series_equal(again.loc[~last, "seasonal_naive_hi"], framed.loc[~last, "seasonal_naive_hi"])
