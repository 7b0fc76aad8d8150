"""Download buttons for tables: CSV with spreadsheet formulas neutralised."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.io import safe_csv_bytes

# Above this many rows the CSV is written only when the button is clicked: a year of minutes
# (500k rows) takes seconds to write, and every rerun of the page would pay for it.
DEFERRED_ROWS = 50_000


def download_table(df: pd.DataFrame, file_name: str, *, label: str | None = None, key: str | None = None) -> None:
    """A CSV download button for ``df``; disabled with a note when there is nothing to download."""
    data: bytes | Callable[[], bytes]
    if df.empty:
        data = b""
    elif len(df) > DEFERRED_ROWS:
        data = lambda: safe_csv_bytes(df)  # noqa: E731  (Streamlit calls it on click, on its own thread)
    else:
        data = safe_csv_bytes(df)
    st.download_button(
        label or f"Download {file_name}",
        data=data,
        file_name=file_name,
        mime="text/csv",
        key=key or f"download-{file_name}",
        disabled=df.empty,
        icon=":material/download:",
    )
