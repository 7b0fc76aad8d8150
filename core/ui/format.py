"""Number formatting shared by the pages."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st


def number(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, or "n/a" when it is missing or not finite (an R² of runs
    that all took the same time, a ratio whose baseline was exact)."""
    return format(value, spec) if value is not None and math.isfinite(value) else "n/a"


def column_formats(frame: pd.DataFrame, formats: dict[str, str] | None = None,
                   default: str = "%.2f") -> dict[str, Any]:
    """``column_config`` for ``st.dataframe``: the named columns in their own format (a printf
    spec or a Streamlit preset such as "percent"), every other float column at ``default``.
    Display only: downloads keep full precision."""
    formats = formats or {}
    config: dict[str, Any] = {}
    for column in frame.columns:
        spec = formats.get(column)
        if spec is None and pd.api.types.is_float_dtype(frame[column]):
            spec = default
        if spec is not None:
            config[column] = st.column_config.NumberColumn(format=spec)
    return config


def show_table(frame: pd.DataFrame, formats: dict[str, str] | None = None, default: str = "%.2f",
               **kwargs: Any) -> None:
    """``st.dataframe`` without the index, floats at ``default`` unless ``formats`` says otherwise."""
    st.dataframe(frame, hide_index=True, column_config=column_formats(frame, formats, default), **kwargs)

