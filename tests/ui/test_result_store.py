"""The bounded result store every page keeps trained results in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.ui.result_store import ResultStore, approx_size


@dataclass
class _Result:
    predictions: pd.DataFrame
    weights: np.ndarray
    notes: list[str]


def _result(rows: int) -> _Result:
    return _Result(pd.DataFrame({"y": np.arange(rows, dtype=float), "model": "lightgbm"}),
                   np.zeros(rows), ["a note"])


def test_the_store_keeps_at_most_max_items_oldest_out_first() -> None:
    store: ResultStore[_Result] = ResultStore(max_items=3, max_mb=1000)
    for i in range(10):
        store.put(("fingerprint", i), _result(10))
    assert len(store) == 3
    assert store.find(("fingerprint", 6)) is None
    assert all(store.find(("fingerprint", i)) is not None for i in (7, 8, 9))


def test_the_store_keeps_its_memory_under_the_bound() -> None:
    one = approx_size(_result(100_000))
    assert one > 2 * 100_000 * 8  # the frame's float column and the array are both counted
    store: ResultStore[_Result] = ResultStore(max_items=100, max_mb=3.5 * one / 2**20)
    for i in range(20):
        store.put(i, _result(100_000))
    assert len(store) == 3
    assert store.bytes <= 3.5 * one


def test_the_newest_result_stays_even_when_alone_above_the_bound() -> None:
    store: ResultStore[_Result] = ResultStore(max_items=5, max_mb=0.001)
    store.put("big", _result(50_000))
    assert store.find("big") is not None


def test_a_lookup_accepts_a_larger_stored_size_and_keeps_used_results_longest() -> None:
    store: ResultStore[str] = ResultStore(max_items=2, max_mb=100)
    store.put("backtest", "scored 12 ahead", size=12)
    assert store.find("backtest", need=3) == "scored 12 ahead"
    assert store.find("backtest", need=13) is None
    store.put("other", "x")
    store.find("backtest", need=1)  # used: now the most recent
    store.put("third", "y")
    assert store.find("backtest") is not None and store.find("other") is None


def test_sizes_count_indexes_and_fitted_trees() -> None:
    import lightgbm

    index = pd.date_range("2024-01-01", periods=10_000, freq="5min", tz="UTC")
    assert approx_size(index) >= 10_000 * 8
    x = np.random.default_rng(0).normal(size=(2_000, 5))
    model = lightgbm.LGBMRegressor(n_estimators=50, verbose=-1).fit(x, x[:, 0])
    assert approx_size({"model": model}) > 50_000  # the trees, not just the wrapper object
