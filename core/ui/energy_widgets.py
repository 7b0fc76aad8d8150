"""Streamlit pieces of the energy page: the simulator singleton, the live panel, admin forms.

Each user action is one call into ``core.energy.service`` (or the simulator); defaults, limits
and help texts come from ``core.energy.config.PAGE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TypeVar

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from core.energy import service, views
from core.energy.config import (
    ALGORITHMS,
    BASE_LOAD_MAX_KW,
    BASE_LOAD_MIN_KW,
    DEVICE_NAME_MAX_CHARS,
    PAGE,
    PROFILES,
    TIMEZONES,
    energy_config,
)
from core.energy.service import ModelComparison
from core.energy.simulator import EnergySimulator, start_simulator
from core.energy.views import Device, DeviceView
from core.errors import HeadroomError
from core.ml.fingerprint import data_fingerprint
from core.ui.downloads import download_table
from core.ui.energy_figures import backtest_figure, health_grid_figure, history_figure
from core.ui.format import number, show_table
from core.ui.resources import app_settings, get_engine, get_registry
from core.ui.result_store import result_store

T = TypeVar("T")
ZONES = list(TIMEZONES)


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
    if sim.speed > 0:
        return max(PAGE.refresh_min_seconds, 60.0 / sim.speed)
    return PAGE.refresh_real_time_seconds


def device_selector(devices: list[Device]) -> int | None:
    """The selected device's id; None (with a hint) when there are no devices."""
    if not devices:
        st.info("No devices yet: add one under Admin → Devices.")
        return None
    labels = {d.device_id: d.label for d in devices}
    return st.selectbox("Device", list(labels), format_func=labels.__getitem__, key="energy-device")


# The clock and the admin version are in the keys, so a tick or an admin action means a fresh view.
@st.cache_data(show_spinner=False, ttl=PAGE.view_cache_seconds, max_entries=64)
def _device_view(_engine: Engine, device_id: int, clock: str, version: int) -> DeviceView | None:
    return views.device_view(_engine, device_id, hours=PAGE.history_hours)


@st.cache_data(show_spinner=False, ttl=PAGE.view_cache_seconds, max_entries=16)
def _grid(_engine: Engine, clock: str, version: int) -> pd.DataFrame:
    return views.health_grid(_engine, days=PAGE.grid_days)


def _version() -> int:
    return int(st.session_state.get("energy-version", 0))


def _changed() -> None:
    """After an admin action: drop cached views and rerun the page."""
    st.session_state["energy-version"] = _version() + 1
    st.rerun()


def status_panel(sim: EnergySimulator) -> None:
    # Words go in captions under the cards: a metric's delta would draw them with a green "up" arrow.
    s = sim.status()
    role = "writing" if s.writer else ("standby (another process writes)" if s.holder else "waiting for the lease")
    cols = st.columns([1, 1, 1.4, 1])  # "0.4 h behind" needs the widest card
    cols[0].metric("Simulator", "alive" if s.alive else "stopped", help=PAGE.help_simulator)
    cols[0].caption(role)
    cols[1].metric("Simulated time (UTC)", f"{s.sim_time:%H:%M}" if s.sim_time is not None else "–")
    if s.sim_time is not None:
        cols[1].caption(f"{s.sim_time:%a %d %b %Y}")
    cols[2].metric("Lag", views.lag_text(s.lag_hours), help=PAGE.help_lag)
    cols[2].caption(s.mode)
    cols[3].metric("Ticks / errors", f"{s.ticks} / {s.errors}", help=PAGE.help_ticks)
    cols[3].caption(f"last tick {s.last_tick_at:%H:%M:%S} UTC" if s.last_tick_at is not None else "no tick yet")
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
            st.markdown(f"**Last {PAGE.history_hours} readings** (local time, newest first)")
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
            shown = views.worst_devices(grid, PAGE.max_grid_devices, include=device_id)
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
    table = views.health_table(get_engine(), device_id, days=PAGE.health_table_days)
    if table.empty:
        st.info("No health windows stored for this device yet.")
        return
    shown = table.rename(columns={"window_end": "24 h up to", "model_id": "model", **METRIC_LABELS})
    show_table(shown, formats=PERCENT, default="%.3f")
    download_table(raw_mape(table), f"energy_health_device_{device_id}.csv", key="energy-health-download")


# MAPE is a fraction in the data: the page shows it as a percentage; downloads keep the fraction
# under a name that says so.
PERCENT = {"MAPE": "percent", "MAPE (own window)": "percent"}
METRIC_LABELS = {"n_scored": "scored hours", "rmse": "RMSE", "mape": "MAPE", "bias": "bias",
                 "baseline_rmse": "RMSE of same hour yesterday", "rmse_ratio": "RMSE ratio", "status": "status"}


def raw_mape(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"mape": "mape_fraction"})


def _run(action: Callable[[], T], success: Callable[[T], str]) -> None:
    """Run one service call; show its error, or toast its result and refresh the page."""
    try:
        result = action()
    except HeadroomError as exc:
        st.error(exc.message)
        return
    st.toast(success(result))
    _changed()


def _device_fields(prefix: str, current: Device | None) -> tuple[str, str, float, str]:
    """Name, time zone, base load and profile inputs, filled from ``current`` (or the defaults).

    When editing, every key ends in the device id: Streamlit keeps a keyed widget's value across
    reruns, so keys shared by all devices would show (and save) the previously selected one's values."""
    suffix = f"-{current.device_id}" if current else ""
    c = st.columns(4)
    name = c[0].text_input("Name", current.name if current else "", max_chars=DEVICE_NAME_MAX_CHARS,
                           help=PAGE.help_name, key=f"{prefix}-name{suffix}")
    zone = current.timezone if current else ZONES[0]
    tz = c[1].selectbox("Time zone", ZONES, index=ZONES.index(zone) if zone in ZONES else 0,
                        help=PAGE.help_timezone, key=f"{prefix}-tz{suffix}")
    base = c[2].number_input("Base load (kW)", BASE_LOAD_MIN_KW, BASE_LOAD_MAX_KW,
                             current.base_load if current else PAGE.base_load_default_kw, PAGE.base_load_step_kw,
                             help=PAGE.help_base_load, key=f"{prefix}-base{suffix}")
    profile = c[3].selectbox("Profile", PROFILES, index=PROFILES.index(current.profile) if current else 0,
                             help=PAGE.help_profile, key=f"{prefix}-profile{suffix}")
    return name, tz, float(base), profile


def devices_admin(devices: list[Device], device_id: int | None) -> None:
    engine = get_engine()
    with st.form("energy-add-device", clear_on_submit=True):
        st.markdown(f"**Add a device** (gets {energy_config().seed_history_days} days of history up to the "
                    "simulated clock)")
        name, tz, base, profile = _device_fields("energy-add", None)
        if st.form_submit_button("Add device"):
            _run(lambda: service.add_device(engine, name, tz, base, profile), lambda _: f"Added {name}")
    current = next((d for d in devices if d.device_id == device_id), None)
    if current is None:
        return
    with st.form(f"energy-edit-device-{current.device_id}"):
        st.markdown(f"**Edit {current.name}** (stored readings stay as they are)")
        name, tz, base, profile = _device_fields("energy-edit", current)
        if st.form_submit_button("Save changes"):
            _run(lambda: service.edit_device(engine, current.device_id, name=name, timezone=tz, base_load=base,
                                             profile=profile), lambda _: f"Saved {name}")
    confirm = st.checkbox(f"Yes, remove {current.name} and all its readings",
                          key=f"energy-remove-confirm-{current.device_id}")
    if st.button("Remove device", disabled=not confirm, key="energy-remove"):
        _run(lambda: service.remove_device(engine, current.device_id), lambda _: f"Removed {current.name}")


def simulation_admin(sim: EnergySimulator) -> None:
    engine, registry = get_engine(), get_registry()
    c = st.columns([1, 1, 2], vertical_alignment="bottom")
    hours = int(c[0].number_input("Hours to advance", PAGE.advance_hours_min, PAGE.advance_hours_max, PAGE.advance_hours_default,
                                  help=PAGE.help_advance, key="energy-advance-hours"))
    if c[1].button("Advance", key="energy-advance"):
        with st.spinner(f"Ticking {hours} hours…"):
            _run(lambda: sim.advance(hours), lambda report: f"Advanced {report.hours} hours")
    clock = service.sim_time(engine)
    today = clock.date() if clock is not None else dt.date.today()
    c = st.columns([1, 1, 2])
    start = c[0].date_input("Backfill from (UTC)", today - dt.timedelta(days=PAGE.backfill_default_days),
                            key="energy-backfill-from")
    end = c[1].date_input("to (UTC)", today, key="energy-backfill-to")
    if st.button("Backfill missing readings, forecasts and health", help=PAGE.help_backfill, key="energy-backfill"):
        with st.spinner("Backfilling…"):
            _run(lambda: service.backfill(engine, registry, pd.Timestamp(start, tz="UTC"),
                                          pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)),  # 'to' inclusive
                 lambda r: f"Backfill done: {r.readings} readings, {r.forecasts} forecasts, {r.health_days} health days")
    if st.button("Compute health for the last 24 h now", key="energy-health-now"):
        _run(lambda: service.health_now(engine),
             lambda health: f"Health computed for {0 if health.empty else health['device_id'].nunique()} device(s)")


def comparison_panel(comparison: ModelComparison) -> None:
    """The last retrain: every candidate and the model deployed before, chosen on earlier held-out hours
    and scored on the same later ones."""
    c = comparison
    window = (f"from {c.start:%Y-%m-%d %H:%M} to {c.end:%Y-%m-%d %H:%M} UTC" if c.start is not None and c.end is not None
              else "(no hour could be scored)")
    st.markdown(f"**Last retrain** ({c.compared_at:%Y-%m-%d %H:%M} UTC)")
    span = int((c.end - c.start) / pd.Timedelta(hours=1)) + 1 if c.start is not None and c.end is not None else 0
    per_device = f"{c.devices} devices × {span} h" if c.devices > 1 and c.hours == c.devices * span else \
        f"{c.devices} device(s)"
    if c.choice_start is not None and c.start is not None:
        st.caption(f"The new models and the model deployed before forecast the same held-out hours, which none of "
                   f"them trained on. The choice was made on the earlier ones, from {c.choice_start:%Y-%m-%d %H:%M} "
                   f"UTC ('MAE when chosen'): {PAGE.choice_rule} The other scores are from the later {c.hours:,} "
                   f"hours ({per_device}) {window}, which the choice never saw.")
    else:  # a retrain stored before the choice had its own hours
        st.caption(f"The new models and the model deployed before were compared on the same {c.hours:,} held-out "
                   f"hours ({per_device}) {window}, which none of them trained on. The lowest RMSE ratio vs same "
                   "hour yesterday won (✓) and was deployed.")
    for note in c.notes:
        st.caption(note)
    # The model deployed before first: the new ones are its challengers.
    shown = c.table.assign(winner=c.table["winner"].map({True: "✓", False: ""}))
    shown = shown.sort_values("role", key=lambda role: role != service.DEPLOYED_BEFORE, kind="stable")
    columns = ["model_id", "algorithm", "role", "winner", "rmse_ratio", "mape", "hours", "choice_mae"]
    if c.choice_start is None:
        columns.remove("choice_mae")
    shown = shown[columns].rename(
        columns={"model_id": "model", "role": "role in this retrain", "rmse_ratio": "RMSE ratio vs same hour yesterday",
                 "mape": "MAPE", "hours": "scored hours", "choice_mae": "MAE when chosen", "winner": "chosen"})
    show_table(shown, formats=PERCENT, default="%.3f")


def models_admin() -> None:
    engine, registry = get_engine(), get_registry()
    comparison = views.last_comparison(registry)
    if comparison is not None:
        comparison_panel(comparison)
    table = views.model_table(registry)
    if table.empty:
        st.info("No model trained yet.")
    else:
        st.markdown("**Model versions**")
        st.caption(PAGE.help_model_versions)
        show_table(table[list(MODEL_COLUMNS)].rename(columns=MODEL_COLUMNS), formats=PERCENT, default="%.3f")
    algorithms = st.multiselect("Algorithms", ALGORITHMS, list(PAGE.default_algorithms), key="energy-algorithms",
                                help=PAGE.help_algorithms)
    if st.button("Retrain", key="energy-retrain", disabled=not algorithms):
        bar = st.progress(0.0, text="training…")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        _run(lambda: service.retrain(engine, registry, tuple(algorithms), progress=progress),
             lambda retraining: retraining.summary)
    if not table.empty:
        algorithm_of = dict(zip(table["model_id"], table["algorithm"], strict=True))
        choice = st.selectbox("Deploy a specific version", list(algorithm_of), key="energy-deploy-choice",
                              format_func=lambda m: f"{m} ({algorithm_of[m]})")
        if st.button("Deploy", key="energy-deploy"):
            _run(lambda: service.deploy(registry, choice), lambda _: f"Deployed {choice}")


MODEL_COLUMNS = {"model_id": "model", "algorithm": "algorithm", "status": "status",
                 "validation_window": "held-out window (own)", "n_validation": "held-out hours",
                 "validation_rmse_ratio": "RMSE ratio (own window)", "validation_mape": "MAPE (own window)",
                 "created_at": "trained at"}


def metered_backtest() -> None:
    """Upload real metered data and score next-hour forecasts on its last 20% of time."""
    from core.ui.upload import csv_upload

    frame = csv_upload("Metered readings (CSV: time, load, optional meter id)", key="energy-backtest-upload")
    if frame is None:
        return
    columns = list(frame.columns)
    guessed = service.guess_metered_columns(frame)
    meters: list[str | None] = [None, *columns]

    def position(options: Sequence[str | None], guess: str | None, fallback: int) -> int:
        return options.index(guess) if guess is not None and guess in options else fallback

    c = st.columns(4)
    time_col = c[0].selectbox("Time column", columns, key="energy-bt-time", index=position(columns, guessed.time, 0))
    value_col = c[1].selectbox("Load column", columns, key="energy-bt-value",
                               index=position(columns, guessed.load, min(1, len(columns) - 1)))
    device_col = c[2].selectbox("Meter column", meters, key="energy-bt-device", index=position(meters, guessed.meter, 0),
                                format_func=lambda v: "(one meter)" if v is None else v, help=PAGE.help_meter_column)
    tz = c[3].selectbox("Time zone of the timestamps", ZONES, index=ZONES.index(PAGE.backtest_timezone),
                        help=PAGE.help_backtest_timezone, key="energy-bt-tz")
    store = result_store("energy-backtest", PAGE.backtest_results_max_items, PAGE.backtest_results_max_mb)
    key = (data_fingerprint(frame), time_col, value_col, device_col, tz)
    if st.button("Run backtest", key="energy-bt-run"):
        source = frame.attrs.get("csv")
        try:
            with st.spinner("Resampling, training on the first 80% and scoring the rest…"):
                store.put(key, service.metered_backtest(frame, time_col=time_col, value_col=value_col,
                                                        device_col=device_col, timezone=tz,
                                                        file=source.name if source else None))
        except HeadroomError as exc:
            st.error(exc.message)
            return
    result = store.find(key)
    if result is not None:
        backtest_result(result)


def backtest_result(result: service.MeteredBacktest) -> None:
    """Scores, a chart of the held-out hours of one meter, the per-meter table and both downloads."""
    for note in result.notes:
        st.info(note)
    overall = result.overall
    # No ratio when yesterday's value was exact every hour (a constant series): say so rather than crash.
    shown = number(overall.rmse_ratio, ".3f")
    if shown == "n/a":
        shown += " (same hour yesterday was exact)"
    st.markdown(f"LightGBM next-hour RMSE ratio vs same hour yesterday: **{shown}**, MAPE "
                f"**{number(overall.mape, '.1%')}** over {overall.n_scored:,} held-out hours ({overall.status}).")
    meters = sorted(result.predictions["meter"].unique())
    if meters:
        meter = meters[0] if len(meters) == 1 else st.selectbox("Meter to chart", meters, key="energy-bt-meter")
        st.plotly_chart(backtest_figure(result.predictions, meter), key="energy-bt-chart")
    per_meter = result.per_device.assign(
        test_start=pd.to_datetime(result.per_device["test_start"], utc=True).dt.strftime("%Y-%m-%d %H:%M"))
    show_table(per_meter.rename(columns={"device": "meter", "test_start": "held out from (UTC)", **METRIC_LABELS}),
               formats=PERCENT, default="%.3f")
    c = st.columns(2)
    with c[0]:
        download_table(raw_mape(result.per_device), "energy_backtest.csv", label="Download scores per meter (CSV)",
                       key="energy-bt-download")
    with c[1]:
        download_table(result.predictions, "energy_backtest_predictions.csv",
                       label="Download held-out predictions (CSV)", key="energy-bt-predictions")
