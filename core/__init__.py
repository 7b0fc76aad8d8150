"""Headroom core: forecasting and capacity decisions, free of Streamlit (except core.ui)."""

__version__ = "0.1.0"
