"""Energy domain operations on a database: devices, seeding, training, ticks, backfill, health.

The tick is the unit of work: for simulated hour boundary T it stores the reading of the hour
that just ended (T - 1 h) and every device's forecast for the hour starting at T, plus the
daily health at midnight UTC, all in ONE transaction, so a crash never leaves half an hour.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from core.energy import backtest as metered
from core.energy.config import (
    ALGORITHMS,
    BACKFILL_MAX_DAYS,
    BASE_LOAD_MAX_KW,
    BASE_LOAD_MIN_KW,
    DEFAULT_ALGORITHMS,
    DEVICE_NAME_MAX_CHARS,
    DOMAIN,
    MODEL_NAME,
    PROFILES,
    EnergyConfig,
    energy_config,
)
from core.energy.features import LEVEL_HOURS, HourlyPanel, build_panel
from core.energy.generator import DeviceSpec, as_utc, generate_frame
from core.energy.health import RED, HealthMetrics, score_window
from core.energy.models import (
    BASELINE,
    YESTERDAY,
    Candidate,
    Comparison,
    NextHourForecaster,
    Progress,
    train_and_compare,
)
from core.errors import HeadroomError, InputError
from core.ml.fingerprint import data_fingerprint
from core.ml.registry import ModelRecord, ModelRegistry
from core.storage import energy_repo as repo
from core.storage import ensure_schema

log = logging.getLogger(__name__)
HOUR = pd.Timedelta(hours=1)
HISTORY_HOURS = LEVEL_HOURS + 2  # readings a forecast needs behind it
SEED_DEVICES = (("Device A", "America/New_York", 4.0, "residential"),
                ("Device B", "Europe/Berlin", 12.0, "commercial"))


class LeaseLost(HeadroomError):
    """Another process holds the simulator's writer lease."""


def utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{threading.get_native_id()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Lease:
    """Who writes: ticks renew the lease inside their own transaction and fail if it was lost."""

    holder: str
    seconds: float


# --- devices --------------------------------------------------------------------------------

def specs(devices: pd.DataFrame) -> list[DeviceSpec]:
    return [DeviceSpec(int(r.device_id), str(r.timezone), float(r.base_load), str(r.profile), int(r.seed))
            for r in devices.itertuples(index=False)]


def _validate_device(name: str, timezone: str, base_load: float, profile: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > DEVICE_NAME_MAX_CHARS:
        raise InputError(f"a device needs a name of 1 to {DEVICE_NAME_MAX_CHARS} characters")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"'{timezone}' is not an IANA time zone (e.g. Europe/Berlin)") from None
    if not (isinstance(base_load, (int, float)) and np.isfinite(base_load)
            and BASE_LOAD_MIN_KW <= base_load <= BASE_LOAD_MAX_KW):
        raise InputError(f"base load must be between {BASE_LOAD_MIN_KW:g} and {BASE_LOAD_MAX_KW:,.0f} kW")
    if profile not in PROFILES:
        raise InputError(f"profile must be one of {', '.join(PROFILES)}")
    return name


def add_device(engine: Engine, name: str, timezone: str, base_load: float, profile: str, *,
               history_days: int | None = None, config: EnergyConfig | None = None) -> int:
    """Add a device with ``history_days`` of readings up to the simulated clock; returns its id."""
    config = config or energy_config()
    name = _validate_device(name, timezone, base_load, profile)
    days = config.seed_history_days if history_days is None else history_days
    with engine.begin() as conn:
        if repo.device_name_taken(conn, name):
            raise InputError(f"a device named '{name}' already exists")
        device_id = repo.insert_device(conn, {
            "name": name, "timezone": timezone, "base_load": float(base_load), "profile": profile,
            "seed": zlib.crc32(name.encode()) & 0x7FFFFFFF, "created_at": datetime.now(UTC)})
        if device_id is None:
            raise InputError(f"a device named '{name}' already exists")
        state = repo.read_state(conn)
        end = state["sim_time"] if state and state.get("sim_time") is not None else utc_now().floor("h")
        device = repo.list_devices(conn).query("device_id == @device_id")
        if days > 0:
            repo.insert_readings(conn, generate_frame(specs(device), end - pd.Timedelta(days=days), end))
    return device_id


def edit_device(engine: Engine, device_id: int, *, name: str, timezone: str, base_load: float, profile: str) -> None:
    """Change a device; readings already stored stay as they were."""
    name = _validate_device(name, timezone, base_load, profile)
    with engine.begin() as conn:
        if repo.device_name_taken(conn, name, except_id=device_id):
            raise InputError(f"a device named '{name}' already exists")
        if not repo.update_device(conn, device_id, {"name": name, "timezone": timezone,
                                                    "base_load": float(base_load), "profile": profile}):
            raise InputError(f"device {device_id} does not exist")


def remove_device(engine: Engine, device_id: int) -> None:
    """Remove a device with its readings, forecasts and health."""
    with engine.begin() as conn:
        if not repo.delete_device(conn, device_id):
            raise InputError(f"device {device_id} does not exist")


def list_devices(engine: Engine) -> pd.DataFrame:
    """Every device (device_id, name, timezone, base_load, profile, seed, created_at), by id."""
    return repo.list_devices(engine)


# --- seeding and models -------------------------------------------------------------------

def ensure_seeded(engine: Engine, config: EnergyConfig | None = None, now: pd.Timestamp | None = None) -> bool:
    """First start only: two devices with ``seed_history_days`` of readings and a simulated clock
    at the current hour. Safe from several processes: one claims the seed, in one transaction."""
    config = config or energy_config()
    ensure_schema(engine)
    clock = as_utc(now if now is not None else utc_now()).floor("h")
    with engine.begin() as conn:
        if not repo.claim_meta(conn, "seeded", clock.isoformat()):
            return False
        for name, tz, base, profile in SEED_DEVICES:
            repo.insert_device(conn, {"name": name, "timezone": tz, "base_load": base, "profile": profile,
                                      "seed": zlib.crc32(name.encode()) & 0x7FFFFFFF, "created_at": datetime.now(UTC)})
        devices = repo.list_devices(conn)
        repo.insert_readings(conn, generate_frame(specs(devices), clock - pd.Timedelta(days=config.seed_history_days),
                                                  clock))
        repo.ensure_state_row(conn)
        repo.update_state(conn, {"sim_time": clock.to_pydatetime()})
    return True


def sim_time(engine_or_conn: Engine | Connection) -> pd.Timestamp | None:
    """The simulated clock (the last completed tick, UTC); None before the first start."""
    state = repo.read_state(engine_or_conn)
    return state["sim_time"] if state else None


def training_panel(engine: Engine, config: EnergyConfig,
                   end: pd.Timestamp | None = None) -> tuple[HourlyPanel, pd.DataFrame]:
    """The last ``train_days`` of every device as a panel, and the readings it was built from."""
    end = end if end is not None else (sim_time(engine) or utc_now().floor("h"))
    start = end - pd.Timedelta(days=config.train_days)
    with engine.connect() as conn:
        devices = repo.list_devices(conn)
        readings = repo.load_readings(conn, start, end)
    if devices.empty:
        raise InputError("there are no devices to train on")
    return build_panel(readings, devices, start, end), readings


@dataclass(frozen=True)
class ModelComparison:
    """The candidates of one retrain and the model deployed before it: chosen on the earlier held-out
    hours (from ``choice_start``), scored on the same later ones (``start`` to ``end``)."""

    table: pd.DataFrame  # model_id, algorithm, role, rmse_ratio, mape, rmse, hours, choice_mae, winner
    start: pd.Timestamp | None  # first and last scored held-out hour (UTC)
    end: pd.Timestamp | None
    hours: int  # device-hours every model was scored on
    devices: int
    notes: tuple[str, ...]
    compared_at: datetime
    # First held-out hour the choice was made on. None: a retrain stored before the choice and the scores
    # had hours of their own (it chose on the scored hours).
    choice_start: pd.Timestamp | None = None

    @property
    def winner(self) -> pd.Series:
        return self.table[self.table["winner"]].iloc[0]


COMPARISON_COLUMNS = ["model_id", "algorithm", "role", "rmse_ratio", "mape", "rmse", "hours", "choice_mae", "winner"]
NEW, DEPLOYED_BEFORE = "new", "deployed before"
CHOSEN_NOTE = "chosen on earlier held-out hours"  # the registry note of the version a retrain chose


def comparison_of(records: list[ModelRecord]) -> ModelComparison | None:
    """The comparison stored with the newest retrain among ``records`` (newest first), or None."""
    latest = next((r for r in records if isinstance((r.metrics or {}).get("comparison"), dict)), None)
    if latest is None:
        return None
    stored = latest.metrics["comparison"]
    same_run = {r.algorithm: r.model_id for r in records
                if isinstance((r.metrics or {}).get("comparison"), dict) and r.metrics["comparison"].get("id") == stored["id"]}
    table = pd.DataFrame(stored["rows"], columns=[c for c in COMPARISON_COLUMNS if c != "model_id"] + ["model_id"])
    new = table["role"] == NEW
    table.loc[new, "model_id"] = table.loc[new, "algorithm"].map(same_run)
    table["winner"] = table["winner"].astype(bool)
    for column in ("rmse_ratio", "mape", "rmse", "choice_mae"):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    hours = int(table["hours"].iloc[0]) if len(table) else 0

    def stamp(value: str | None) -> pd.Timestamp | None:
        return pd.Timestamp(value) if value else None

    return ModelComparison(table[COMPARISON_COLUMNS], stamp(stored.get("start")), stamp(stored.get("end")), hours,
                           int(latest.metrics.get("validation_devices") or 0), tuple(stored.get("notes") or ()),
                           latest.created_at, stamp(stored.get("choice_start")))


@dataclass(frozen=True)
class Retraining:
    """What a retrain saved, how the models compared, and which model is deployed after it."""

    records: list[ModelRecord]  # the new versions
    comparison: ModelComparison
    deployed: str | None  # model id

    @property
    def summary(self) -> str:
        w = self.comparison.winner
        verdict = "stays deployed" if w["role"] == DEPLOYED_BEFORE else (
            "is deployed" if w["model_id"] == self.deployed else "was not deployed")
        who = f"the deployed model ({w['algorithm']})" if w["role"] == DEPLOYED_BEFORE else f"new {w['algorithm']}"
        return (f"Trained {len(self.records)} model(s); {who} was chosen on the earlier held-out hours and "
                f"{verdict} (scored on the later {self.comparison.hours:,} held-out hours)")


def _incumbent(registry: ModelRegistry) -> tuple[Candidate | None, list[str]]:
    """The deployed model as a candidate, scored only after the hours it trained on."""
    record = registry.deployed(DOMAIN, MODEL_NAME)
    if record is None:
        return None, []
    try:
        model = load_model(registry, record.model_id)
    except Exception as exc:  # noqa: BLE001 - a model nobody can load must not block a retrain
        log.warning("deployed model %s could not be loaded: %s", record.model_id, exc)
        return None, [f"the deployed model {record.model_id} could not be loaded, so it was not compared"]
    cutoff = (record.metrics or {}).get("cutoff")
    return Candidate(f"{record.algorithm} {record.model_id}", model, record.model_id,
                     as_utc(cutoff) if cutoff else None), []


def _hindsight_note(comparison: Comparison) -> list[str]:
    """Says so when another model did better on the scored hours than the one chosen before them."""
    best = comparison.best_in_hindsight
    chosen = comparison.winner
    if best in (chosen.label, YESTERDAY if chosen.algorithm == BASELINE else None):
        return []
    other = next((c for c in comparison.candidates if c.label == best), None)
    who = best if other is None else (f"the deployed model ({other.algorithm})" if other.model_id else
                                      f"new {other.algorithm}")
    return [f"In hindsight {who} did better on the scored hours (lower MAE); the choice was made on the earlier "
            "hours only, so it was not chosen"]


def retrain(engine: Engine, registry: ModelRegistry, algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
            *, config: EnergyConfig | None = None, progress: Progress | None = None,
            deploy: bool = True) -> Retraining:
    """Train on stored history (the seasonal-naive baseline always beside ``algorithms``), then choose
    among the new models AND the deployed one on the same held-out hours (``train_and_compare``); save
    the new versions with their scores and deploy the chosen one (if it is new)."""
    config = config or energy_config()
    algorithms = tuple(dict.fromkeys(algorithms))
    if not algorithms:
        raise InputError("choose at least one algorithm to train")
    unknown = [a for a in algorithms if a not in ALGORITHMS]
    if unknown:
        raise InputError(f"unknown algorithm '{unknown[0]}' (choose from {', '.join(ALGORITHMS)})")
    panel, readings = training_panel(engine, config)
    incumbent, notes = _incumbent(registry)
    run = train_and_compare(panel, algorithms, config, progress, incumbent)
    comparison = run.comparison
    rows = [{"algorithm": c.algorithm, "model_id": c.model_id, "role": NEW if c.model_id is None else DEPLOYED_BEFORE,
             "rmse_ratio": s.rmse_ratio, "mape": s.mape, "rmse": s.rmse, "hours": s.n_scored, "choice_mae": m,
             "winner": c is comparison.winner}
            for c, s, m in zip(comparison.candidates, comparison.scores, comparison.choice_mae, strict=True)]

    def iso(stamp: pd.Timestamp | None) -> str | None:
        return None if stamp is None else stamp.isoformat()

    stored = {"id": uuid.uuid4().hex, "choice_start": iso(comparison.choice_start), "start": iso(comparison.start),
              "end": iso(comparison.end), "notes": notes + run.notes + _hindsight_note(comparison), "rows": rows}
    fingerprint = data_fingerprint(readings)
    records = []
    for item, candidate in zip(run.trained, comparison.candidates, strict=False):
        won = candidate is comparison.winner
        record = registry.save(DOMAIN, item.model, algorithm=item.algorithm, params=item.params,
                               metrics={**item.metrics, "validation_devices": comparison.devices, "comparison": stored},
                               fingerprint=fingerprint, name=MODEL_NAME, notes=CHOSEN_NOTE if won else None)
        records.append(record)
        if deploy and won:
            registry.deploy(record.model_id)
    deployed = registry.deployed(DOMAIN, MODEL_NAME)
    result = comparison_of(records)
    assert result is not None
    return Retraining(records, result, deployed.model_id if deployed else None)


def train_and_register(engine: Engine, registry: ModelRegistry, algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
                       *, config: EnergyConfig | None = None, progress: Progress | None = None,
                       deploy: bool = True) -> list[ModelRecord]:
    """``retrain``, returning only the new model versions."""
    return retrain(engine, registry, algorithms, config=config, progress=progress, deploy=deploy).records


def ensure_model(engine: Engine, registry: ModelRegistry, config: EnergyConfig | None = None) -> ModelRecord:
    """The deployed next-hour model, training LightGBM and the baseline first if there is none."""
    record = registry.deployed(DOMAIN, MODEL_NAME)
    if record is None:
        train_and_register(engine, registry, config=config)
        record = registry.deployed(DOMAIN, MODEL_NAME)
    assert record is not None
    return record


def bootstrap(engine: Engine, registry: ModelRegistry, config: EnergyConfig | None = None,
              now: pd.Timestamp | None = None) -> None:
    """Seed on first start, make sure a model is deployed, and on first start forecast the
    last ``seed_forecast_days`` (held out from that model's training) so the grid has days."""
    config = config or energy_config()
    seeded = ensure_seeded(engine, config, now)
    ensure_model(engine, registry, config)
    if seeded:
        clock = sim_time(engine)
        assert clock is not None
        backfill(engine, registry, clock - pd.Timedelta(days=config.seed_forecast_days), clock, config=config)


_MODEL_CACHE: OrderedDict[tuple[str, str], NextHourForecaster] = OrderedDict()
_MODEL_CACHE_LOCK = threading.Lock()


def load_model(registry: ModelRegistry, model_id: str) -> NextHourForecaster:
    """A registry model, kept in a small per-process cache (artifacts never change)."""
    key = (str(registry.model_dir), model_id)
    with _MODEL_CACHE_LOCK:
        if key in _MODEL_CACHE:
            _MODEL_CACHE.move_to_end(key)
            return _MODEL_CACHE[key]
    model = registry.load(model_id)
    with _MODEL_CACHE_LOCK:
        _MODEL_CACHE[key] = model
        while len(_MODEL_CACHE) > 3:
            _MODEL_CACHE.popitem(last=False)
    return model


# --- forecasting, ticks and backfill ------------------------------------------------------------

def forecast_hours(conn: Connection, model: NextHourForecaster, model_id: str, devices: pd.DataFrame,
                   targets: list[pd.Timestamp], extra_readings: pd.DataFrame | None = None) -> pd.DataFrame:
    """Forecasts of every device for each target hour, from readings strictly before it."""
    if devices.empty or not targets:
        return pd.DataFrame(columns=["device_id", "ts_utc", "model_id", "y_pred", "lower", "upper"])
    first, last = min(targets), max(targets)
    start = first - HISTORY_HOURS * HOUR
    stored = repo.load_readings(conn, start, last, devices["device_id"])
    if extra_readings is not None and len(extra_readings):
        stored = pd.concat([stored, extra_readings]).drop_duplicates(["device_id", "ts_utc"], keep="first")
    panel = build_panel(stored, devices, start, last + HOUR)
    cols = np.array([panel.index_of(t) for t in targets])
    d = np.repeat(np.arange(panel.n_devices), len(cols))
    h = np.tile(cols, panel.n_devices)
    point, lower, upper = model.predict(panel, d, h)
    frame = pd.DataFrame({"device_id": devices["device_id"].to_numpy()[d], "ts_utc": panel.hours[h],
                          "model_id": model_id, "y_pred": point, "lower": lower, "upper": upper})
    return frame[np.isfinite(frame["y_pred"])]


def compute_health(conn: Connection, window_end: pd.Timestamp, config: EnergyConfig | None = None,
                   device_ids: list[int] | None = None) -> pd.DataFrame:
    """Health of the 24 h before ``window_end`` per device and model version; stored and returned."""
    config = config or energy_config()
    end = as_utc(window_end)
    start = end - 24 * HOUR
    actual = repo.load_readings(conn, start - 24 * HOUR, end, device_ids)
    fc = repo.load_forecasts(conn, start, end, device_ids)
    if fc.empty:
        return pd.DataFrame()
    values = actual.set_index(["device_id", "ts_utc"])["value"]
    fc["actual"] = values.reindex(pd.MultiIndex.from_arrays([fc["device_id"], fc["ts_utc"]])).to_numpy()
    fc["baseline"] = values.reindex(pd.MultiIndex.from_arrays([fc["device_id"], fc["ts_utc"] - 24 * HOUR])).to_numpy()
    rows = []
    for (device_id, model_id), group in fc.groupby(["device_id", "model_id"], sort=False):
        m = score_window(group["actual"].to_numpy(), group["y_pred"].to_numpy(), group["baseline"].to_numpy(), config)
        rows.append({"device_id": int(device_id), "window_end": end, "model_id": model_id, **m.__dict__})
    frame = pd.DataFrame(rows)
    repo.upsert_health(conn, frame, datetime.now(UTC))
    return frame


def red_streak_devices(conn: Connection, until: pd.Timestamp, days: int) -> list[int]:
    """Devices whose last ``days`` daily windows (best-covered model each day) are all red."""
    if days < 1:
        return []
    frame = daily_health(conn, until, days)
    if frame.empty:
        return []
    red = frame.groupby("device_id")["status"].apply(lambda s: len(s) == days and bool((s == RED).all()))
    return [int(d) for d, is_red in red.items() if is_red]


def daily_health(conn: Connection, until: pd.Timestamp, days: int) -> pd.DataFrame:
    """One health row per device and UTC day (the day's model with most scored hours)."""
    last_midnight = as_utc(until).floor("D")
    frame = repo.load_health(conn, last_midnight - (days - 1) * pd.Timedelta(days=1), last_midnight)
    if frame.empty:
        return frame
    frame = frame[frame["window_end"].dt.hour == 0]
    frame = frame.sort_values(["device_id", "window_end", "n_scored", "created_at"])
    return frame.groupby(["device_id", "window_end"], as_index=False).tail(1).reset_index(drop=True)


@dataclass
class TickReport:
    hours: int = 0
    readings: int = 0
    forecasts: int = 0
    health_windows: int = 0
    red_devices: list[int] | None = None
    model_id: str | None = None


def run_hours(engine: Engine, registry: ModelRegistry, targets: list[pd.Timestamp], *,
              lease: Lease | None = None, config: EnergyConfig | None = None,
              before_commit: Callable[[pd.Timestamp], None] | None = None) -> TickReport:
    """Tick each hour boundary in ``targets`` in order, one transaction per tick.

    Readings are generated up front (the generator is a pure function of device and hour) so
    a long catch-up forecasts in one vectorised pass, then commits hour by hour."""
    config = config or energy_config()
    report = TickReport()
    targets = sorted(as_utc(t).floor("h") for t in targets)
    if not targets:
        return report
    record = ensure_model(engine, registry, config)
    model = load_model(registry, record.model_id)
    report.model_id = record.model_id
    with engine.connect() as conn:
        devices = repo.list_devices(conn)
        generated = pd.concat([generate_frame(specs(devices), t - HOUR, t) for t in targets]) if len(devices) else \
            pd.DataFrame(columns=["device_id", "ts_utc", "value"])
        predicted = forecast_hours(conn, model, record.model_id, devices, targets, generated)
    by_hour_readings = dict(tuple(generated.groupby("ts_utc"))) if len(generated) else {}
    by_hour_forecasts = dict(tuple(predicted.groupby("ts_utc"))) if len(predicted) else {}
    for target in targets:
        now = utc_now()
        with engine.begin() as conn:
            if lease is not None and not repo.take_lease(conn, lease.holder, now.to_pydatetime(),
                                                         (now + pd.Timedelta(seconds=lease.seconds)).to_pydatetime()):
                raise LeaseLost("another process holds the simulator lease")
            hour_readings = by_hour_readings.get(target - HOUR)
            if hour_readings is not None:
                report.readings += repo.insert_readings(conn, hour_readings)
            hour_forecasts = by_hour_forecasts.get(target)
            if hour_forecasts is not None:
                report.forecasts += repo.insert_forecasts(conn, hour_forecasts, now.to_pydatetime())
            if target.hour == 0:
                compute_health(conn, target, config)
                report.health_windows += 1
                report.red_devices = red_streak_devices(conn, target, config.red_days_to_retrain)
            state = repo.read_state(conn)
            current = state.get("sim_time") if state else None
            repo.ensure_state_row(conn)
            repo.add_to_counter(conn, "ticks", 1, last_tick_at=now.to_pydatetime(),
                                sim_time=max(current, target).to_pydatetime() if current is not None else target.to_pydatetime())
            if before_commit is not None:
                before_commit(target)
        report.hours += 1
    return report


def maybe_auto_retrain(engine: Engine, registry: ModelRegistry, report: TickReport, config: EnergyConfig) -> bool:
    """Retrain (LightGBM + baseline) when a device has been red ``red_days_to_retrain`` days,
    at most once per that many simulated days."""
    if not report.red_devices:
        return False
    state = repo.read_state(engine) or {}
    clock, last = state.get("sim_time"), state.get("last_auto_retrain")
    if clock is None or (last is not None and clock - last < pd.Timedelta(days=config.red_days_to_retrain)):
        return False
    log.info("devices %s red for %d days: retraining", report.red_devices, config.red_days_to_retrain)
    train_and_register(engine, registry, config=config)
    with engine.begin() as conn:
        repo.update_state(conn, {"last_auto_retrain": clock.to_pydatetime()})
    return True


@dataclass(frozen=True)
class BackfillReport:
    """Rows a backfill wrote (0 where everything was already stored)."""

    readings: int
    forecasts: int
    health_days: int


def backfill(engine: Engine, registry: ModelRegistry, start: Any, end: Any, *, config: EnergyConfig | None = None,
             max_days: int = BACKFILL_MAX_DAYS) -> BackfillReport:
    """Fill missing readings for hours in [start, end), forecasts of the deployed model for hour
    boundaries in [start, end] (from readings before each one), and daily health in range.
    Idempotent; never writes beyond the simulated clock."""
    config = config or energy_config()
    lo, hi = as_utc(start).floor("h"), as_utc(end).floor("h")
    clock = sim_time(engine)
    if clock is not None:
        hi = min(hi, clock)
    if hi <= lo:
        raise InputError("backfill needs 'from' before 'to' (and not after the simulated clock)")
    if hi - lo > pd.Timedelta(days=max_days):
        raise InputError(f"backfill at most {max_days} days at a time")
    record = ensure_model(engine, registry, config)
    model = load_model(registry, record.model_id)
    with engine.begin() as conn:
        devices = repo.list_devices(conn)
        readings = repo.insert_readings(conn, generate_frame(specs(devices), lo, hi))
        targets = list(pd.date_range(lo, hi, freq="h"))
        predicted = forecast_hours(conn, model, record.model_id, devices, targets)
        n_forecasts = repo.insert_forecasts(conn, predicted, datetime.now(UTC))
        windows = [t for t in targets if t.hour == 0 and t > lo]
        for t in windows:
            compute_health(conn, t, config)
    return BackfillReport(readings=readings, forecasts=n_forecasts, health_days=len(windows))


def health_now(engine: Engine, config: EnergyConfig | None = None) -> pd.DataFrame:
    """Health over the 24 h before the simulated clock, computed and stored now."""
    clock = sim_time(engine)
    if clock is None:
        raise InputError("the simulation has not started yet")
    with engine.begin() as conn:
        return compute_health(conn, clock, config)


def deploy(registry: ModelRegistry, model_id: str) -> None:
    """Make ``model_id`` the next-hour model the simulator forecasts with from its next tick."""
    record = registry.get(model_id)
    if record.domain != DOMAIN:
        raise InputError(f"model '{model_id}' is not an energy model")
    registry.deploy(model_id)


# --- backtest of uploaded metered readings ------------------------------------------------------

@dataclass(frozen=True)
class MeteredColumns:
    """The columns of a metered CSV as detected; None where nothing fits."""

    time: str | None
    load: str | None
    meter: str | None


@dataclass(frozen=True)
class MeteredBacktest:
    """Next-hour forecasts scored on the last 20% of each meter's time, beside same hour yesterday."""

    overall: HealthMetrics
    per_device: pd.DataFrame  # device, test_start and the health metrics, one row per meter
    predictions: pd.DataFrame  # held-out hours: time (the file's zone), meter, actual, forecast, yesterday
    notes: tuple[str, ...]  # what was skipped or assumed while reading the file
    report: dict[str, Any]  # the scores, JSON-ready (the CLI prints it)


def guess_metered_columns(frame: pd.DataFrame) -> MeteredColumns:
    """The time, load and meter columns a metered CSV most likely has (the page's defaults)."""
    return MeteredColumns(*metered.guess_columns(frame))


def metered_backtest(frame: pd.DataFrame, *, time_col: str | None = None, value_col: str | None = None,
                     device_col: str | None = None, detect_device: bool = False, timezone: str = "UTC",
                     file: str | None = None, config: EnergyConfig | None = None) -> MeteredBacktest:
    """Resample uploaded readings to hourly load per meter and backtest next-hour forecasts on them.

    With no ``device_col`` the file is one meter unless ``detect_device``; raises InputError on bad input."""
    readings, devices, notes = metered.metered_readings(frame, time_col=time_col, value_col=value_col,
                                                        device_col=device_col, detect_device=detect_device,
                                                        timezone=timezone, file=file)
    result, predictions = metered.backtest(readings, devices, config)
    return MeteredBacktest(overall=HealthMetrics(**result["overall"]), per_device=pd.DataFrame(result["per_device"]),
                           predictions=predictions, notes=tuple(notes), report={"notes": notes, **result})
