"""A status box with a progress bar that long service calls report to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st


def progress_bar(label: str) -> tuple[Any, Callable[[float, str], None]]:
    """A status box with a progress bar, and the ``progress(fraction, text)`` callback the service reports to."""
    status = st.status(label, expanded=True)
    bar = status.progress(0.0, text="starting")

    def progress(frac: float, text: str) -> None:
        bar.progress(min(max(float(frac), 0.0), 1.0), text=text)

    return status, progress
