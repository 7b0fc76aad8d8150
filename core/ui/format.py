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


# Fractions shown as percentages, always with one decimal: Streamlit's own "percent" preset drops
# trailing zeros, so "7.1%" stood next to "4.52%" in one column.
PERCENT = "percent"
PERCENT_FORMAT = "%.1f%%"


def column_formats(frame: pd.DataFrame, formats: dict[str, str] | None = None,
                   default: str = "%.2f") -> dict[str, Any]:
    """``column_config`` for ``st.dataframe``: the named columns in their own format (a printf
    spec, or "percent" for a fraction shown as a percentage), every other float column at
    ``default``. Display only: downloads keep full precision."""
    formats = formats or {}
    config: dict[str, Any] = {}
    for column in frame.columns:
        spec = formats.get(column)
        if spec is None and pd.api.types.is_float_dtype(frame[column]):
            spec = default
        if spec is not None:
            config[column] = st.column_config.NumberColumn(format=PERCENT_FORMAT if spec == PERCENT else spec)
    return config


def for_display(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy with the "percent" columns scaled from fractions to percentages (0.071 -> 7.1)."""
    percent = [c for c, spec in (formats or {}).items() if spec == PERCENT and c in frame.columns
               and pd.api.types.is_numeric_dtype(frame[c])]
    return frame.assign(**{c: frame[c] * 100.0 for c in percent}) if percent else frame


def show_table(frame: pd.DataFrame, formats: dict[str, str] | None = None, default: str = "%.2f",
               **kwargs: Any) -> None:
    """``st.dataframe`` without the index, floats at ``default`` unless ``formats`` says otherwise."""
    st.dataframe(for_display(frame, formats), hide_index=True, column_config=column_formats(frame, formats, default),
                 **kwargs)



def show_configured(frame: pd.DataFrame, column_config: dict[str, Any], **kwargs: Any) -> None:
    """``st.dataframe`` with a hand-made ``column_config``: number columns configured with the
    "percent" preset are shown as percentages with one decimal, like ``show_table``'s."""
    percent = {name for name, cfg in column_config.items()
               if isinstance(cfg, dict) and cfg.get("type_config", {}).get("format") == PERCENT}
    for name in percent:
        column_config[name]["type_config"]["format"] = PERCENT_FORMAT
    st.dataframe(for_display(frame, dict.fromkeys(percent, PERCENT)), hide_index=True, column_config=column_config,
                 **kwargs)
