"""Headroom: the overview of every domain, its status, the bundled data sets and the storage in use.

Streamlit's ``pages/`` folder beside this entry script holds the other pages; each one calls
``core.ui.page.setup_page`` for its title, icon and the sidebar menu.
"""

import streamlit as st

from core.ui import home_widgets as home
from core.ui.page import setup_page

setup_page("home")
st.title("Headroom")
st.markdown(
    "Forecast load and resource needs from your own data, and turn the forecasts into decisions: "
    "how many servers to run, whether a device's model is still healthy, how much memory to request for a job. "
    "Every number comes from a model scored on held-out data, next to a naive baseline."
)
home.follow_background_work()

st.subheader("Pages")
home.domain_cards()

st.subheader("Bundled data sets")
datasets = home.bundled_datasets()
if datasets.empty:
    st.info("No bundled data found in the data directory.")
else:
    st.dataframe(datasets[["file", "title", "rows", "size_kb", "start", "end", "used_by", "source"]],
                 hide_index=True, width="stretch")

st.subheader("Storage")
st.markdown(home.storage_line())
