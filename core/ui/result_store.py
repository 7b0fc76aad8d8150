"""Bounded stores for trained results, one per kind, shared by every session of the process.

A result (a backtest, a trained model set, a forward forecast) is kept under a key made of the
data fingerprint and the parameters, so new data or new settings mean a new result, never a
stale one. Each store is bounded by count *and* by memory: the oldest results go first, and a
long-running shared app no longer grows with every file its users upload.
"""

from __future__ import annotations

import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import fields, is_dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

V = TypeVar("V")
_NATIVE_MODEL_MODULES = {"lightgbm", "xgboost", "sklearn"}
_MB = 1024 * 1024


def approx_size(obj: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Bytes held by ``obj``, roughly: frames, arrays, containers and dataclasses are walked;
    anything else counts its shallow size. Good enough to bound a cache, cheap to compute."""
    seen = _seen if _seen is not None else set()
    if id(obj) in seen or _depth > 8:
        return 0
    seen.add(id(obj))
    if isinstance(obj, pd.Index):
        return int(obj.memory_usage(deep=True))
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        usage = obj.memory_usage(deep=True, index=True)
        return int(usage.sum() if isinstance(usage, pd.Series) else usage)
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    size = sys.getsizeof(obj, 64)
    if isinstance(obj, (str, bytes, int, float, bool)) or obj is None:
        return size
    if isinstance(obj, dict):
        return size + sum(approx_size(k, seen, _depth + 1) + approx_size(v, seen, _depth + 1) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return size + sum(approx_size(v, seen, _depth + 1) for v in obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return size + sum(approx_size(getattr(obj, f.name, None), seen, _depth + 1) for f in fields(obj))
    if type(obj).__module__.split(".")[0] in _NATIVE_MODEL_MODULES:
        # Fitted trees live in native memory the walk cannot see; their pickle is about that size.
        try:
            return size + len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:  # noqa: BLE001 - an unpicklable model still counts its Python part
            pass
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        return size + approx_size(attrs, seen, _depth + 1)
    return size


class ResultStore(Generic[V]):
    """Results by (key, size); ``find`` accepts any stored size >= the one needed (a backtest
    scored 12 steps ahead answers a request for 3). Thread-safe: sessions share it."""

    def __init__(self, max_items: int, max_mb: float) -> None:
        self.max_items = max_items
        self.max_bytes = int(max_mb * _MB)
        self._items: OrderedDict[tuple[Hashable, int], tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, key: Hashable, need: int = 0) -> V | None:
        with self._lock:
            sizes = [size for (k, size) in self._items if k == key and size >= need]
            if not sizes:
                return None
            found = (key, min(sizes))
            self._items.move_to_end(found)  # recently used stays longest
            return self._items[found][0]

    def put(self, key: Hashable, value: V, size: int = 0) -> V:
        nbytes = approx_size(value)
        with self._lock:
            self._items[(key, size)] = (value, nbytes)
            self._items.move_to_end((key, size))
            # The newest result always stays, even when it alone is above the memory bound.
            while len(self._items) > 1 and (len(self._items) > self.max_items or self.bytes > self.max_bytes):
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return sum(n for _, n in self._items.values())


@st.cache_resource(show_spinner=False)
def result_store(name: str, max_items: int = 6, max_mb: float = 512.0) -> ResultStore[Any]:
    """The process's store called ``name`` (created on first use with these bounds)."""
    return ResultStore(max_items, max_mb)
