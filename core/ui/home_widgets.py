"""Pieces of the Home overview: one card per domain with its status, the data sets, storage."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import service
from core.ui.domains import available_domains, status_line
from core.ui.refresh import follow_background_work
from core.ui.resources import app_settings, get_engine

__all__ = ["bundled_datasets", "domain_cards", "follow_background_work", "storage_line"]


@st.cache_data(show_spinner=False)
def _datasets(data_dir: str) -> pd.DataFrame:
    return service.bundled_datasets(app_settings())


def bundled_datasets() -> pd.DataFrame:
    return _datasets(str(app_settings().data_dir))


def domain_cards() -> None:
    """A card per installed domain: link, summary, and its status (failing ones in error style)."""
    domains = available_domains()
    if not domains:
        st.info("No domain pages are installed yet.")
    settings, engine = app_settings(), get_engine()
    for domain in domains:
        with st.container(border=True):
            st.page_link(domain.page, label=domain.title, icon=domain.icon)
            st.caption(domain.summary)
            status = status_line(domain, settings, engine)
            if status.ok:
                st.markdown(f"**Status:** {status.text}")
            else:
                st.error(f"**Status: failing.** {domain.title} could not report its status: {status.text}",
                         icon=":material/error:")


def storage_line() -> str:
    settings = app_settings()
    return f"Database: **{service.storage_description(get_engine())}**  \nModel store: `{settings.model_dir}`"
