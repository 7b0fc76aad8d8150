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


# Score columns shared by the tables: rates as percentages, ratios with a "×".
JOB_SCORE_FORMATS = {
    **{name: "%.3f" for name in ("R² (log)", "R²", "r2_log", "r2")},
    **{name: "percent" for name in ("MAPE", "mape", "under_rate")},
    **{f"under_q{q}": "percent" for q in (90, 95, 99)},
    **{f"over_q{q}": "%.2f×" for q in (90, 95, 99)},
    "over_provision": "%.2f×", "calibration": "%.2f×", "quantile": "percent", "MAE": "%.1f", "mae": "%.1f",
}
