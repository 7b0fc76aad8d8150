"""Read-only views for the page and Home: cheap queries shaped for display."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from core.energy.config import DOMAIN, MODEL_NAME
from core.energy.health import GREY
from core.energy.service import HOUR, ModelComparison, comparison_of, daily_health, sim_time
from core.ml.registry import ModelRegistry
from core.storage import energy_repo as repo

METRIC_COLUMNS = ["n_scored", "rmse", "mape", "bias", "baseline_rmse", "rmse_ratio"]


@dataclass(frozen=True)
class Device:
    device_id: int
    name: str
    timezone: str
    base_load: float  # kW
    profile: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.timezone}, {self.profile})"


def devices(engine: Engine) -> list[Device]:
    """Every device, by id, as the selector and the device editor show it."""
    return [Device(int(r.device_id), str(r.name), str(r.timezone), float(r.base_load), str(r.profile))
            for r in repo.list_devices(engine).itertuples(index=False)]


@dataclass(frozen=True)
class DeviceView:
    name: str
    timezone: str
    history: pd.DataFrame  # ts_local, ts_utc, value: the last 24 readings
    past_forecasts: pd.DataFrame  # ts_local, y_pred, model_id over the same hours
    next_forecast: dict[str, Any] | None  # ts_local, y_pred, lower, upper, model_id for the hour after the clock


def device_view(engine: Engine, device_id: int, hours: int = 24) -> DeviceView | None:
    """The last ``hours`` readings before the simulated clock and the next-hour forecast,
    in the device's local time."""
    clock = sim_time(engine)
    with engine.connect() as conn:
        devices = repo.list_devices(conn)
        row = devices[devices["device_id"] == device_id]
        if row.empty or clock is None:
            return None
        tz = str(row["timezone"].iloc[0])
        history = repo.load_readings(conn, clock - hours * HOUR, clock, [device_id]).sort_values("ts_utc")
        fc = repo.load_forecasts(conn, clock - hours * HOUR, clock + HOUR, [device_id])
    deployed = fc.sort_values("created_at").groupby("ts_utc", as_index=False).tail(1).sort_values("ts_utc")
    history["ts_local"] = history["ts_utc"].dt.tz_convert(tz)
    deployed["ts_local"] = deployed["ts_utc"].dt.tz_convert(tz)
    nxt = deployed[deployed["ts_utc"] == clock]
    past = deployed[deployed["ts_utc"] < clock][["ts_local", "y_pred", "model_id"]]
    next_forecast = None
    if not nxt.empty:
        r = nxt.iloc[-1]
        next_forecast = {"ts_local": r["ts_local"], "y_pred": float(r["y_pred"]), "lower": float(r["lower"]),
                         "upper": float(r["upper"]), "model_id": str(r["model_id"])}
    return DeviceView(str(row["name"].iloc[0]), tz, history[["ts_local", "ts_utc", "value"]].reset_index(drop=True),
                      past.reset_index(drop=True), next_forecast)


def health_grid(engine: Engine, days: int = 7) -> pd.DataFrame:
    """Every device × each of the last ``days`` complete UTC days: status and metrics
    (grey where nothing was scored)."""
    clock = sim_time(engine)
    with engine.connect() as conn:
        devices = repo.list_devices(conn)
        if clock is None or devices.empty:
            return pd.DataFrame(columns=["device_id", "device", "day", "status", "model_id", *METRIC_COLUMNS])
        daily = daily_health(conn, clock, days)
    ends = pd.date_range(clock.floor("D") - (days - 1) * pd.Timedelta(days=1), clock.floor("D"), freq="D")
    grid = pd.MultiIndex.from_product([devices["device_id"], ends], names=["device_id", "window_end"]).to_frame(index=False)
    if not daily.empty:
        grid = grid.merge(daily[["device_id", "window_end", "status", "model_id", *METRIC_COLUMNS]],
                          on=["device_id", "window_end"], how="left")
    else:
        grid = grid.assign(status=None, model_id=None, **{c: float("nan") for c in METRIC_COLUMNS})
    grid["status"] = grid["status"].fillna(GREY)
    grid["n_scored"] = grid["n_scored"].fillna(0).astype(int)
    grid["device"] = grid["device_id"].map(devices.set_index("device_id")["name"])
    grid["day"] = (grid["window_end"] - pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
    return grid[["device_id", "device", "day", "status", "model_id", *METRIC_COLUMNS]]


def health_table(engine: Engine, device_id: int, days: int = 30) -> pd.DataFrame:
    """Stored health windows of one device (every model version), newest first."""
    clock = sim_time(engine)
    if clock is None:
        return pd.DataFrame()
    with engine.connect() as conn:
        frame = repo.load_health(conn, clock - pd.Timedelta(days=days))
    frame = frame[frame["device_id"] == device_id].sort_values("window_end", ascending=False)
    frame["window_end"] = frame["window_end"].dt.strftime("%Y-%m-%d %H:%M UTC")
    return frame[["window_end", "model_id", "status", *METRIC_COLUMNS]].reset_index(drop=True)


def model_table(registry: ModelRegistry) -> pd.DataFrame:
    """Every next-hour model version with the held-out scores of its own retrain and the window they
    cover; the deployed one marked. Versions of different retrains were scored on different windows:
    ``last_comparison`` has the like-for-like scores."""
    rows = []
    for r in registry.list(DOMAIN, MODEL_NAME):
        m = r.metrics or {}
        rows.append({"model_id": r.model_id, "algorithm": r.algorithm, "status": r.status,
                     "validation_rmse_ratio": m.get("rmse_ratio"), "validation_rmse": m.get("rmse"),
                     "validation_mape": m.get("mape"), "n_validation": m.get("n_validation"),
                     "validation_window": _window_text(m.get("validation_start") or m.get("cutoff"),
                                                       m.get("validation_end")),
                     "created_at": r.created_at})
    return pd.DataFrame(rows, columns=["model_id", "algorithm", "status", "validation_rmse_ratio", "validation_rmse",
                                       "validation_mape", "n_validation", "validation_window", "created_at"])


def _window_text(start: str | None, end: str | None) -> str | None:
    if not start:
        return None
    first = f"{pd.Timestamp(start).tz_convert('UTC'):%Y-%m-%d %H:%M}"
    return f"{first} to {pd.Timestamp(end).tz_convert('UTC'):%Y-%m-%d %H:%M} UTC" if end else f"from {first} UTC"


def last_comparison(registry: ModelRegistry) -> ModelComparison | None:
    """The last retrain's comparison: new models and the one deployed before, on the same held-out hours."""
    return comparison_of(registry.list(DOMAIN, MODEL_NAME))


def lag_text(lag_hours: float | None) -> str:
    """The simulated clock against the wall clock in words: "2.0 h behind", "48 h ahead", "on time"."""
    if lag_hours is None:
        return "–"
    size = abs(lag_hours)
    if size < 0.05:
        return "on time"
    amount = f"{size:.0f}" if size >= 10 else f"{size:.1f}"
    return f"{amount} h {'behind' if lag_hours > 0 else 'ahead'}"


def worst_devices(grid: pd.DataFrame, limit: int, include: int | None = None) -> pd.DataFrame:
    """The grid rows of at most ``limit`` devices, most red days first (plus ``include``),
    so a fleet of hundreds still gives a readable grid."""
    if grid["device_id"].nunique() <= limit:
        return grid
    red_days = grid.assign(red=grid["status"].eq("red")).groupby("device_id")["red"].sum()
    keep = list(red_days.sort_values(ascending=False, kind="stable").index[:limit])
    if include is not None and include not in keep:
        keep[-1] = include
    return grid[grid["device_id"].isin(keep)]
