"""CSV exports that are safe to open in a spreadsheet.

A text cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab/carriage return)
is a formula to Excel and LibreOffice; we prefix it with ``'`` so it shows as
text. Numbers, including negative ones, are written unchanged.
"""

from __future__ import annotations

import re

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")


def _neutralise_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells cannot be run as spreadsheet formulas."""
    out = df.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_neutralise_cell)
    out.columns = [_neutralise_cell(str(c)) for c in out.columns]
    return out


def safe_csv_bytes(df: pd.DataFrame, *, index: bool = False) -> bytes:
    """Encode ``df`` as UTF-8 CSV with formula cells neutralised."""
    return neutralise_formulas(df).to_csv(index=index).encode("utf-8")
