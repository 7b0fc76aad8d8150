"""Download buttons for tables: CSV with spreadsheet formulas neutralised."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.io import safe_csv_bytes


def download_table(df: pd.DataFrame, file_name: str, *, label: str | None = None, key: str | None = None) -> None:
    """A CSV download button for ``df``; disabled with a note when there is nothing to download."""
    st.download_button(
        label or f"Download {file_name}",
        data=safe_csv_bytes(df) if not df.empty else b"",
        file_name=file_name,
        mime="text/csv",
        key=key or f"download-{file_name}",
        disabled=df.empty,
        icon=":material/download:",
    )
