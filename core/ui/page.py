"""Every page's first call: its browser title and icon, wide layout, and the sidebar menu.

The menu is a list of ``st.page_link``s built from ``core.ui.domains`` (Streamlit's own
auto-generated list is turned off in ``.streamlit/config.toml``), so every page, opened cold
by a deep link or from the menu, shows the same titles, icons and order.
"""

from __future__ import annotations

import streamlit as st

from core.ui.domains import PageEntry, menu_pages, page_entry


def setup_page(key: str) -> PageEntry:
    """Configure the page ``key`` ("home", "traffic", …, "models") and draw the menu."""
    entry = page_entry(key)
    title = "Headroom" if entry.key == "home" else f"{entry.title} · Headroom"
    st.set_page_config(page_title=title, page_icon=entry.icon, layout="wide")
    with st.sidebar:
        st.markdown("**Headroom**")
        for item in menu_pages():
            st.page_link(item.page, label=item.title, icon=item.icon)
    return entry
