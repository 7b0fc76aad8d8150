"""Models: every trained model of every domain; compare two, deploy, retire or delete one."""

import streamlit as st

from core.errors import HeadroomError
from core.models import service
from core.models.config import EMPTY_STATE, METRICS_NOTE
from core.ui import models_widgets as mw
from core.ui.downloads import download_table
from core.ui.page import setup_page
from core.ui.refresh import follow_background_work
from core.ui.resources import get_registry

setup_page("models")
st.title("Models")
st.caption(
    "Every model trained on any page, with the scores it got on data held out from its training. "
    "Compare two of one domain, choose which one its page uses (deploy), take one out of use (retire), "
    "or delete it with its files."
)
follow_background_work()
last_change = mw.last_change()

registry, automl = get_registry(), mw.automl_jobs()
catalog = service.catalog(registry, automl)
if catalog.problem:
    st.warning(catalog.problem)
if not catalog.domains:
    if last_change:
        st.success(last_change)
    st.info(EMPTY_STATE)
    st.stop()

domain = mw.domain_filter(catalog.domains)
table = catalog.table(domain)
mw.models_table(table)
st.caption(METRICS_NOTE)
download_table(table, "models.csv", label="Download this table (CSV)", key="models-download")

st.subheader("Compare two models")
pair = mw.comparison_picker(table)
if pair is not None:
    try:
        mw.comparison_table(service.compare(registry, *pair, automl=automl))
    except HeadroomError as exc:
        st.error(exc.message)

st.subheader("Deploy, retire or delete")
if last_change:
    st.success(last_change)
chosen = mw.model_picker(table)
action = mw.action_buttons(chosen)
if action is not None:
    try:
        change = service.apply(registry, action.kind, action.model_id, confirm_deployed=action.confirm_deployed,
                               automl=automl)
    except HeadroomError as exc:
        st.error(exc.message)
    else:
        mw.remember_change(change)
