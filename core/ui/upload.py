"""CSV upload widget: validated before any work starts, errors shown, nothing half-loaded."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import InputError
from core.io import read_csv
from core.ui.resources import app_settings


@st.cache_data(show_spinner=False, max_entries=8)
def _read_cached(data: bytes, name: str, max_rows: int) -> pd.DataFrame:
    return read_csv(data, name=name, max_rows=max_rows)


def csv_upload(label: str, *, key: str, help: str | None = None) -> pd.DataFrame | None:
    """A file uploader that returns the parsed frame, or None (nothing uploaded, or an
    error already shown to the user naming the file, column and row)."""
    uploaded = st.file_uploader(label, type=["csv", "txt", "tsv"], key=key, help=help)
    if uploaded is None:
        return None
    try:
        frame = _read_cached(uploaded.getvalue(), uploaded.name, app_settings().max_upload_rows)
    except InputError as exc:
        st.error(exc.message)
        return None
    info = frame.attrs.get("csv")
    if info is not None:
        delimiter = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(info.delimiter, info.delimiter)
        st.caption(f"{info.name}: {info.rows:,} rows, {frame.shape[1]} columns, {delimiter}-separated, {info.encoding}")
    return frame.copy()
