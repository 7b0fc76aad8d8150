"""Errors a user can act on, shown where they happened instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from core.errors import HeadroomError

T = TypeVar("T")


def show_errors(call: Callable[[], T], prefix: str = "") -> T | None:
    """``call()``, or None after showing its ``HeadroomError`` to the user."""
    try:
        return call()
    except HeadroomError as exc:
        st.error(f"{prefix}{exc.message}")
        return None
