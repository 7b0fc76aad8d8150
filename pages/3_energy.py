"""Energy Device Health: simulated devices, next-hour forecasts and a model-health grid."""

import streamlit as st

from core.energy import views
from core.errors import HeadroomError
from core.ui import energy_widgets as ew
from core.ui.page import setup_page
from core.ui.resources import get_engine

setup_page("energy")
st.title("Energy Device Health")
st.caption(
    "A background simulation meters every device each hour, stores the deployed model's forecast for the "
    "next hour, and scores it daily against the same hour yesterday."
)

try:
    sim = ew.simulator()
except HeadroomError as exc:
    st.error(exc.message)
    st.stop()

devices = views.devices(get_engine())
device_id = ew.device_selector(devices)

if device_id is not None:
    ew.live_panel(sim, device_id)
    with st.expander("Health metrics of this device"):
        ew.metrics_table(device_id)

st.subheader("Admin")
devices_tab, simulation_tab, models_tab, backtest_tab = st.tabs(["Devices", "Simulation", "Models", "Backtest a CSV"])
with devices_tab:
    ew.devices_admin(devices, device_id)
with simulation_tab:
    ew.simulation_admin(sim)
with models_tab:
    ew.models_admin()
with backtest_tab:
    ew.metered_backtest()
