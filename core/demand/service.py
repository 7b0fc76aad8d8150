"""What the Cloud Demand & Capacity page, the CLI and tests call: one function per user action.

``load_default`` | ``load_upload`` -> ``with_countries`` -> ``backtest`` (stored; an unchanged data
fingerprint and settings reuse the stored result instead of retraining) -> ``plan`` -> downloads.
Analytics (``kpis``, ``holiday_impact``, profiles, correlations) read the data and, when given, the
backtest and the plan. No Streamlit here: caching across reruns is the UI's job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, replace
from typing import Any

import pandas as pd

from core import config as app_config
from core.config import Settings
from core.demand import analytics, config
from core.demand.backtest import Progress
from core.demand.capacity import PlanSettings, newsvendor_quantile
from core.demand.choice import CHOSEN
from core.demand.data import DemandData
from core.demand.evaluation import BacktestSettings, DemandBacktest, evaluate
from core.demand.formats import read_capacity, read_demand, read_demand_csv, read_launches
from core.demand.generator import generate_demand
from core.demand.planning import DemandPlan, PlanForecast, forecast_plan, make_plan
from core.errors import InputError
from core.io import read_csv
from core.ml.fingerprint import data_fingerprint
from core.ml.registry import ModelRegistry
from core.storage.engine import create_db_engine

REGISTRY_NAME = "backtest"

__all__ = ["BacktestSettings", "PlanSettings", "DemandBacktest", "DemandPlan", "newsvendor_quantile",
           "load_default", "load_upload", "at_frequency", "generate", "with_countries", "with_capacity", "backtest", "plan",
           "accuracy_history", "plan_forecast", "PlanForecast", "kpis", "holiday_impact", "weekday_profile", "yearly_profile", "growth_rates",
           "trends", "region_comparison", "correlations", "utilisation", "quantile_for"]

holiday_impact = analytics.holiday_impact
weekday_profile = analytics.weekday_profile
yearly_profile = analytics.yearly_profile
growth_rates = analytics.growth_rates
trends = analytics.trends
region_comparison = analytics.region_comparison
correlations = analytics.correlations
utilisation = analytics.utilisation


def load_default(settings: Settings | None = None) -> DemandData:
    """The bundled generated data (three years, daily) with its capacity table and launches."""
    settings = settings or app_config.get_settings()
    folder = settings.data_dir
    data = read_demand_csv(folder / config.DEFAULT_DATA_FILE)
    capacity_file, launches_file = folder / config.DEFAULT_CAPACITY_FILE, folder / "cloud_demand_launches.csv"
    if capacity_file.exists():
        data = replace(data, capacity=read_capacity(read_csv(capacity_file), data))
    if launches_file.exists():
        data = replace(data, launches=read_launches(read_csv(launches_file), data))
    return data


def load_upload(source: Any, *, name: str | None = None, metric: str | None = None, start: object | None = None,
                countries: Mapping[str, str] | None = None) -> DemandData:
    """An uploaded demand CSV in any of the three layouts: bytes, a path, an upload, or a frame the one CSV
    reader already read (not parsed twice)."""
    if isinstance(source, pd.DataFrame):
        csv = source.attrs.get("csv")
        return read_demand(source, metric=metric, start=start, countries=countries,
                           file=name or (csv.name if csv is not None else None))
    return read_demand_csv(source, name=name, metric=metric, start=start, countries=countries)


def generate(freq: str = "daily", seed: int = config.DEFAULT_SEED) -> DemandData:
    if freq not in config.GENERATOR_FREQS:
        raise InputError(f"freq must be one of {', '.join(config.GENERATOR_FREQS)}")
    return generate_demand(freq, seed=seed)  # type: ignore[arg-type]


def with_countries(data: DemandData, overrides: Mapping[str, str]) -> DemandData:
    return data.with_countries(overrides)


def with_capacity(data: DemandData, capacity: pd.DataFrame | Any) -> DemandData:
    """The data with a capacity table (a frame as edited on the page, or a CSV source), validated."""
    frame = capacity if isinstance(capacity, pd.DataFrame) else read_csv(capacity)
    return replace(data, capacity=read_capacity(frame, data))


def at_frequency(data: DemandData, freq: str | None) -> DemandData:
    """The data aggregated to daily (``D``) or hourly (``H``) means (a step with no value stays missing);
    unchanged when it already is at that step. Refuses to make coarser data finer."""
    if freq is None:
        return data
    step = {"D": pd.Timedelta(days=1), "H": pd.Timedelta(hours=1)}.get(freq.upper())
    if step is None:
        raise InputError(f"--freq must be D or H, not '{freq}'")
    if step == data.step:
        return data
    if step < data.step:
        raise InputError(f"the data is {data.freq_label}: it cannot be made {'hourly' if freq.upper() == 'H' else 'daily'}")
    panel = data.panel.set_index("ds")
    parts = []
    for (sid, region, metric), rows in panel.groupby(["series_id", "region", "metric"], sort=False):
        y = rows["y"].resample(step).mean()
        parts.append(pd.DataFrame({"series_id": sid, "ds": y.index, "y": y.to_numpy(), "region": region,
                                   "metric": metric}))
    resampled = pd.concat(parts, ignore_index=True)
    return replace(data, panel=resampled, step=step,
                   notes=(*data.notes, f"aggregated from {data.freq_label} to {'hourly' if freq.upper() == 'H' else 'daily'} means"))


def fingerprint(data: DemandData, settings: BacktestSettings) -> str:
    """What a stored backtest is keyed on: the panel, the regions' countries, launches and settings."""
    parts = [data_fingerprint(data.panel[["series_id", "ds", "y"]]),
             data_fingerprint(data.regions[["region", "country"]].astype(str)),
             data_fingerprint(data.launches.astype(str)) if len(data.launches) else "",
             json.dumps({k: str(v) for k, v in asdict(settings).items()}, sort_keys=True)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@contextmanager
def _registry(settings: Settings) -> Iterator[ModelRegistry]:
    engine = create_db_engine(settings.database_url)
    try:
        yield ModelRegistry(engine, settings.model_dir)
    finally:
        engine.dispose()


def backtest(data: DemandData, options: BacktestSettings | None = None, *, settings: Settings | None = None,
             progress: Progress | None = None, store: bool = True) -> DemandBacktest:
    """The backtest of ``options`` on ``data``. With ``store``, a run on the same data and settings as a
    stored one loads it (no retraining; ``reused`` in its summary), and a new run is stored with its
    scores per series and model, so accuracy can be tracked across runs."""
    settings = settings or app_config.get_settings()
    options = options or BacktestSettings()
    key = fingerprint(data, options)
    if store:
        with _registry(settings) as registry:
            for record in registry.list(config.DOMAIN, REGISTRY_NAME):
                if record.fingerprint == key:
                    try:
                        found: DemandBacktest = registry.load(record.model_id)
                        return replace(found, reused=True)
                    except (InputError, OSError, EOFError, ValueError, TypeError):
                        break  # a damaged artifact: train again
    result = evaluate(data, options, progress=progress)
    if not store:
        return result
    with _registry(settings) as registry:
        board = result.leaderboard
        scores = board[["series_id", "model", "mase", "wape", "chosen"]].to_dict("records")
        registry.save(config.DOMAIN, result, name=REGISTRY_NAME, algorithm=result.strategy,
                      params={"horizon": result.horizon, "test_start": str(result.windows.test_start),
                              "models": list(result.models), "source": data.source},
                      metrics={**result.summary, "scores": scores}, fingerprint=key)
    return result


def accuracy_history(settings: Settings | None = None) -> pd.DataFrame:
    """Every stored backtest, oldest first: when, on which data (fingerprint), the strategy, and the
    choice's and seasonal naive's mean MASE on the evaluation windows."""
    settings = settings or app_config.get_settings()
    rows = []
    with _registry(settings) as registry:
        records = registry.list(config.DOMAIN, REGISTRY_NAME)
    for record in records:
        m = record.metrics
        rows.append({"created_at": record.created_at, "fingerprint": record.fingerprint[:10],
                     "source": record.params.get("source", ""), "strategy": record.algorithm,
                     "horizon": record.params.get("horizon"), "chosen_mase": m.get("chosen_mase"),
                     "baseline_mase": m.get("baseline_mase"), "coverage": m.get("coverage")})
    frame = pd.DataFrame(rows, columns=["created_at", "fingerprint", "source", "strategy", "horizon", "chosen_mase",
                                        "baseline_mase", "coverage"])
    return frame.sort_values("created_at", kind="stable").reset_index(drop=True)


def quantile_for(quantile: float | None = None, shortage_cost: float | None = None,
                 idle_cost: float | None = None) -> float:
    """The plan's service level: given, or the newsvendor quantile short / (short + idle) from two costs."""
    if shortage_cost is not None or idle_cost is not None:
        if shortage_cost is None or idle_cost is None:
            raise InputError("give both the shortage cost and the idle cost, or neither")
        return newsvendor_quantile(shortage_cost, idle_cost)
    return config.PLAN_QUANTILE if quantile is None else float(quantile)


def plan_forecast(data: DemandData, result: DemandBacktest, horizon_days: int, *,
                  progress: Progress | None = None) -> PlanForecast:
    """The slow part of a plan (about a minute on the bundled data): the choice backtested at the planning
    horizon and forecast ahead. Keep it: every service level, headroom, lead time and capacity reuses it."""
    return forecast_plan(data, result, horizon_days, progress=progress)


def plan(data: DemandData, result: DemandBacktest, options: PlanSettings, horizon_days: int, *,
         capacity: pd.DataFrame | None = None, progress: Progress | None = None,
         forecast: PlanForecast | None = None) -> DemandPlan:
    """The capacity plan over ``horizon_days`` with the backtest's choice (``capacity`` overrides the data's).
    With ``forecast`` (a ``plan_forecast`` of the same data, backtest and horizon) it takes seconds."""
    if options.today is None:
        options = replace(options, today=pd.Timestamp(data.panel["ds"].max()))
    if forecast is None or forecast.horizon_days != horizon_days:
        forecast = forecast_plan(data, result, horizon_days, progress=progress)
    return make_plan(data, result, forecast, options, capacity=capacity)


def kpis(data: DemandData, result: DemandBacktest | None = None,
         plan_result: DemandPlan | None = None) -> dict[str, float | int | None]:
    evaluation = None
    if result is not None:
        evaluation = result.frame.loc[result.frame["part"] == "evaluation", ["series_id", "y", CHOSEN]]
    return analytics.kpis(data, backtest=evaluation, plan=None if plan_result is None else plan_result.table)
