"""Content fingerprints: cache keys and registry records change when the data does."""

from __future__ import annotations

import hashlib

import pandas as pd


def data_fingerprint(df: pd.DataFrame | pd.Series) -> str:
    """A short stable hash of values, index and column names."""
    digest = hashlib.sha256()
    hashed = pd.util.hash_pandas_object(df, index=True)
    digest.update(hashed.to_numpy().tobytes())
    names = list(df.columns) if isinstance(df, pd.DataFrame) else [df.name]
    digest.update(repr(names).encode())
    return digest.hexdigest()[:16]
