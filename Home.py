"""Headroom entry point: page config, navigation over app_pages/, and the overview page.

The page files live in app_pages/, not pages/: Streamlit auto-lists a pages/ folder beside the
entry script, and a deep link (/traffic) then showed that raw list instead of st.navigation's.
"""

import pandas as pd
import streamlit as st

from core.datasets import summarize_bundled
from core.storage import describe_backend
from core.ui.domains import available_domains, status_line
from core.ui.resources import app_settings, get_engine

st.set_page_config(page_title="Headroom", page_icon=":material/speed:", layout="wide")


@st.cache_data(show_spinner=False)
def _datasets(data_dir: str) -> pd.DataFrame:
    return pd.DataFrame([s.__dict__ for s in summarize_bundled(data_dir)])


def overview() -> None:
    st.title("Headroom")
    st.markdown(
        "Forecast load and resource needs from your own data, and turn the forecasts into decisions: "
        "how many servers to run, whether a device's model is still healthy, how much memory to request for a job. "
        "Every number comes from a model scored on held-out data, next to a naive baseline."
    )
    settings = app_settings()
    engine = get_engine()

    st.subheader("Pages")
    domains = available_domains()
    if not domains:
        st.info("No domain pages are installed yet.")
    for domain in domains:
        with st.container(border=True):
            st.page_link(domain.page, label=domain.title, icon=domain.icon)
            st.caption(domain.summary)
            st.markdown(f"**Status:** {status_line(domain, settings, engine)}")

    st.subheader("Bundled data sets")
    datasets = _datasets(str(settings.data_dir))
    if datasets.empty:
        st.info(f"No bundled data found in {settings.data_dir}.")
    else:
        st.dataframe(
            datasets[["file", "title", "rows", "size_kb", "start", "end", "used_by", "source"]],
            hide_index=True,
            width="stretch",
        )

    st.subheader("Storage")
    st.markdown(f"Database: **{describe_backend(engine)}**  \nModel store: `{settings.model_dir}`")


pages = [st.Page(overview, title="Overview", icon=":material/home:", default=True)]
pages += [st.Page(d.page, title=d.title, icon=d.icon) for d in available_domains()]
st.navigation(pages).run()
