"""Streamlit pieces of the energy page: the simulator singleton, the live panel, admin forms."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.energy import service, views
from core.energy.config import PROFILES, TIMEZONES, energy_config
from core.energy.models import ALGORITHMS
from core.energy.simulator import EnergySimulator, start_simulator
from core.errors import HeadroomError
from core.ui.downloads import download_table
from core.ui.energy_figures import health_grid_figure, history_figure
from core.ui.format import number, show_table
from core.ui.resources import app_settings, get_engine, get_registry

MAX_GRID_DEVICES = 40


@st.cache_resource(show_spinner="Starting the energy simulation (first start seeds two devices and trains a model)…")
def _simulator(url: str, model_dir: str, speed: float) -> EnergySimulator:
    # One per process: every session shares it. Keyed by URL so a new database gets its own.
    return start_simulator(get_engine(), get_registry(), speed=speed)


def simulator() -> EnergySimulator:
    """The process's simulator, started (with catch-up) on first use."""
    settings = app_settings()
    return _simulator(settings.database_url, str(settings.model_dir), settings.sim_speed)


def refresh_seconds(sim: EnergySimulator) -> float:
    """Poll about as often as ticks land: each simulated hour at demo speed, else every 30 s."""
    return max(2.0, 60.0 / sim.speed) if sim.speed > 0 else 30.0


def device_selector(devices: pd.DataFrame) -> int | None:
    if devices.empty:
        st.info("No devices yet: add one under Admin → Devices.")
        return None
    labels = {int(r.device_id): f"{r.name} ({r.timezone}, {r.profile})" for r in devices.itertuples()}
    return st.selectbox("Device", list(labels), format_func=labels.__getitem__, key="energy-device")


@st.cache_data(show_spinner=False, ttl=60, max_entries=64)
def _device_view(_engine, device_id: int, clock: str, version: int):  # type: ignore[no-untyped-def]
    return views.device_view(_engine, device_id)


@st.cache_data(show_spinner=False, ttl=60, max_entries=16)
def _grid(_engine, clock: str, version: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return views.health_grid(_engine, days=7)


def _version() -> int:
    return int(st.session_state.get("energy-version", 0))


def _changed() -> None:
    """After an admin action: drop cached views and rerun the page."""
    st.session_state["energy-version"] = _version() + 1
    st.rerun()


def status_panel(sim: EnergySimulator) -> None:
    s = sim.status()
    role = "writing" if s.writer else ("standby (another process writes)" if s.holder else "waiting for the lease")
    cols = st.columns(5)
    cols[0].metric("Simulator", "alive" if s.alive else "stopped", role, delta_color="off")
    cols[1].metric("Simulated time (UTC)", f"{s.sim_time:%H:%M}" if s.sim_time is not None else "–",
                   f"{s.sim_time:%a %d %b %Y}" if s.sim_time is not None else None, delta_color="off")
    lag = "–" if s.lag_hours is None else (f"{s.lag_hours:.1f} h" if s.lag_hours >= 0 else f"{s.lag_hours:.0f} h")
    cols[2].metric("Lag", lag, s.mode, delta_color="off",
                   help="Wall clock minus simulated clock; negative when demo speed or 'advance' ran ahead.")
    cols[3].metric("Ticks / errors", f"{s.ticks} / {s.errors}")
    cols[4].metric("Last tick (UTC)", f"{s.last_tick_at:%H:%M:%S}" if s.last_tick_at is not None else "–")
    if s.last_error:
        st.caption(f"Last tick error (the simulation went on): {s.last_error}")


def live_panel(sim: EnergySimulator, device_id: int) -> None:
    """Status, chart, readings and health grid; re-runs alone whenever a tick may have landed."""

    @st.fragment(run_every=refresh_seconds(sim))
    def _live() -> None:
        engine = get_engine()
        status_panel(sim)
        clock = str(service.sim_time(engine))
        view = _device_view(engine, device_id, clock, _version())
        left, right = st.columns([3, 1])
        with left:
            if view is None or view.history.empty:
                st.info("No readings yet for this device.")
            else:
                st.plotly_chart(history_figure(view), key="energy-history")
        with right:
            st.markdown("**Last 24 readings** (local time, newest first)")
            if view is not None:
                table = view.history.assign(time=view.history["ts_local"].dt.strftime("%a %H:%M"))
                st.dataframe(table[["time", "value"]].iloc[::-1].rename(columns={"value": "kW"}), hide_index=True,
                             height=320, column_config={"kW": st.column_config.NumberColumn(format="%.2f")})
                if view.next_forecast:
                    nxt = view.next_forecast
                    st.caption(f"Next hour {nxt['ts_local']:%H:%M}: {nxt['y_pred']:.2f} kW "
                               f"({nxt['lower']:.2f}–{nxt['upper']:.2f})")
        st.subheader("Health")
        grid = _grid(engine, clock, _version())
        if grid.empty:
            st.info("No health computed yet.")
        else:
            shown = views.worst_devices(grid, MAX_GRID_DEVICES, include=device_id)
            st.plotly_chart(health_grid_figure(shown), key="energy-grid")
            if len(shown) < len(grid):
                st.caption(f"Showing {shown['device_id'].nunique()} of {grid['device_id'].nunique()} devices: "
                           "those with the most red days, and the selected one.")
            cfg = energy_config()
            st.caption(f"Green: RMSE ratio ≤ {cfg.ratio_green} vs same hour yesterday, or MAPE ≤ {cfg.mape_green:.0%}; "
                       f"red otherwise; grey: fewer than {cfg.min_scored_hours} scored hours. "
                       + " · ".join(f":{c}[■] {s}" for s, c in (("green", "green"), ("red", "red"), ("grey", "gray"))))

    _live()


def metrics_table(device_id: int) -> None:
    table = views.health_table(get_engine(), device_id)
    if table.empty:
        st.info("No health windows stored for this device yet.")
        return
    show_table(table, default="%.3f")
    download_table(table, f"energy_health_device_{device_id}.csv", key="energy-health-download")


def _run(action, success: str) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except HeadroomError as exc:
        st.error(exc.message)
        return
    st.toast(success)
    _changed()


def devices_admin(devices: pd.DataFrame, device_id: int | None) -> None:
    engine = get_engine()
    zones = list(TIMEZONES)
    with st.form("energy-add-device", clear_on_submit=True):
        st.markdown("**Add a device** (gets 60 days of history up to the simulated clock)")
        c = st.columns(4)
        name = c[0].text_input("Name", key="energy-add-name")
        tz = c[1].selectbox("Time zone", zones, key="energy-add-tz")
        base = c[2].number_input("Base load (kW)", 0.1, 100000.0, 5.0, key="energy-add-base")
        profile = c[3].selectbox("Profile", PROFILES, key="energy-add-profile")
        if st.form_submit_button("Add device"):
            _run(lambda: service.add_device(engine, name, tz, float(base), profile), f"Added {name}")
    if device_id is None:
        return
    current = devices.set_index("device_id").loc[device_id]
    with st.form("energy-edit-device"):
        st.markdown(f"**Edit {current['name']}** (stored readings stay as they are)")
        c = st.columns(4)
        name = c[0].text_input("Name", current["name"], key="energy-edit-name")
        tz = c[1].selectbox("Time zone", zones, index=zones.index(current["timezone"]) if current["timezone"] in zones else 0,
                            key="energy-edit-tz")
        base = c[2].number_input("Base load (kW)", 0.1, 100000.0, float(current["base_load"]), key="energy-edit-base")
        profile = c[3].selectbox("Profile", PROFILES, index=PROFILES.index(current["profile"]), key="energy-edit-profile")
        if st.form_submit_button("Save changes"):
            _run(lambda: service.edit_device(engine, device_id, name=name, timezone=tz, base_load=float(base),
                                             profile=profile), "Saved")
    confirm = st.checkbox(f"Yes, remove {current['name']} and all its readings", key="energy-remove-confirm")
    if st.button("Remove device", disabled=not confirm, key="energy-remove"):
        _run(lambda: service.remove_device(engine, device_id), "Removed")


def simulation_admin(sim: EnergySimulator) -> None:
    engine, registry = get_engine(), get_registry()
    c = st.columns([1, 1, 2])
    hours = c[0].number_input("Hours", 1, 24 * 30, 24, key="energy-advance-hours")
    if c[1].button("Advance", key="energy-advance"):
        with st.spinner(f"Ticking {hours} hours…"):
            _run(lambda: sim.advance(int(hours)), f"Advanced {hours} hours")
    clock = service.sim_time(engine)
    today = clock.date() if clock is not None else dt.date.today()
    c = st.columns([1, 1, 2])
    start = c[0].date_input("Backfill from (UTC)", today - dt.timedelta(days=7), key="energy-backfill-from")
    end = c[1].date_input("to (UTC)", today, key="energy-backfill-to")
    if st.button("Backfill missing readings, forecasts and health", key="energy-backfill"):
        with st.spinner("Backfilling…"):
            _run(lambda: service.backfill(engine, registry, pd.Timestamp(start, tz="UTC"),
                                          pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)),  # 'to' inclusive
                 "Backfill done")
    if st.button("Compute health for the last 24 h now", key="energy-health-now"):
        _run(lambda: service.health_now(engine), "Health computed")


def models_admin() -> None:
    engine, registry = get_engine(), get_registry()
    table = views.model_table(registry)
    if table.empty:
        st.info("No model trained yet.")
    else:
        show_table(table, default="%.3f")
    algorithms = st.multiselect("Algorithms", ALGORITHMS, ["lightgbm", "seasonal-naive"], key="energy-algorithms",
                                help="GRU loads TensorFlow (slower); the best held-out RMSE ratio is deployed.")
    if st.button("Retrain", key="energy-retrain", disabled=not algorithms):
        bar = st.progress(0.0, text="training…")
        _run(lambda: service.train_and_register(engine, registry, tuple(algorithms),
                                                progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m)),
             "Retrained; the best model on held-out hours is deployed")
    if not table.empty:
        choice = st.selectbox("Deploy a specific version", list(table["model_id"]), key="energy-deploy-choice",
                              format_func=lambda m: f"{m} ({table.set_index('model_id').loc[m, 'algorithm']})")
        if st.button("Deploy", key="energy-deploy"):
            _run(lambda: service.deploy(registry, choice), f"Deployed {choice}")


def metered_backtest() -> None:
    """Upload real metered data and score next-hour forecasts on its last 20% of time."""
    from core.energy.backtest import backtest, guess_columns, metered_readings
    from core.ui.upload import csv_upload

    frame = csv_upload("Metered readings (CSV: time, load, optional meter id)", key="energy-backtest-upload")
    if frame is None:
        return
    columns = list(frame.columns)
    guessed_time, guessed_value, guessed_device = guess_columns(frame)
    meters = [None, *columns]

    def position(options: list, guess: str | None, fallback: int) -> int:
        return options.index(guess) if guess is not None and guess in options else fallback

    c = st.columns(4)
    time_col = c[0].selectbox("Time column", columns, key="energy-bt-time", index=position(columns, guessed_time, 0))
    value_col = c[1].selectbox("Load column", columns, key="energy-bt-value",
                               index=position(columns, guessed_value, min(1, len(columns) - 1)))
    device_col = c[2].selectbox("Meter column", meters, key="energy-bt-device", index=position(meters, guessed_device, 0),
                                format_func=lambda v: "(one meter)" if v is None else v,
                                help="Detected when timestamps repeat across a column's values: several meters' "
                                     "readings of one hour are never averaged together.")
    tz = c[3].selectbox("Time zone of the timestamps", list(TIMEZONES), index=list(TIMEZONES).index("UTC"),
                        key="energy-bt-tz")
    if not st.button("Run backtest", key="energy-bt-run"):
        return
    try:
        with st.spinner("Resampling, training on the first 80% and scoring the rest…"):
            source = frame.attrs.get("csv")
            readings, devices, notes = metered_readings(frame, time_col=time_col, value_col=value_col,
                                                        device_col=device_col, detect_device=False, timezone=tz,
                                                        file=source.name if source else None)
            result = backtest(readings, devices)
    except HeadroomError as exc:
        st.error(exc.message)
        return
    overall = result["overall"]
    for note in notes:
        st.info(note)
    ratio = overall["rmse_ratio"]
    # No ratio when yesterday's value was exact every hour (a constant series): say so rather than crash.
    shown = number(ratio, ".3f")
    if shown == "n/a":
        shown += " (same hour yesterday was exact)"
    st.markdown(f"LightGBM next-hour RMSE ratio vs same hour yesterday: **{shown}** "
                f"over {overall['n_scored']} held-out hours ({overall['status']}).")
    table = pd.DataFrame(result["per_device"])
    show_table(table, default="%.3f")
    download_table(table, "energy_backtest.csv", key="energy-bt-download")
