"""The demand models by name: local ones (one per series) and global ones (one across series), all
from ``core/forecast``.

Local models are factories per series because Prophet needs the series' own country for its
holidays. Global models read a ``CalendarPanel`` that carries each series' country, time zone,
known launches and metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.demand import config
from core.demand.data import DemandData
from core.errors import InputError
from core.forecast.baselines import SeasonalNaive
from core.forecast.calendar_models import ProphetModel
from core.forecast.global_forecaster import GlobalForecaster
from core.forecast.protocol import Forecaster
from core.forecast.stats_models import ARIMAModel, ETSModel, MSTLModel, ThetaModel

if TYPE_CHECKING:
    from core.forecast.calendar_panel import CalendarPanel

LOCAL: dict[str, Callable[[], Forecaster]] = {
    "seasonal_naive": SeasonalNaive, "ets": ETSModel, "theta": ThetaModel, "arima": ARIMAModel, "mstl": MSTLModel,
}
# stats_mean is not fitted: it is the mean of these columns, which the backtest already has.
MEAN_OF = {"stats_mean": ("ets", "theta", "arima")}


def check_models(names: tuple[str, ...]) -> tuple[str, ...]:
    """The requested models in the house order, the baseline always first; unknown names refused."""
    unknown = [n for n in names if n not in config.ALL_MODELS]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(config.ALL_MODELS)}")
    wanted = set(names) | {config.BASELINE}
    for combined, members in MEAN_OF.items():
        if combined in wanted:
            wanted |= set(members)
    return tuple(n for n in config.ALL_MODELS if n in wanted)


def local_factories(data: DemandData, names: tuple[str, ...]) -> Callable[[str], Mapping[str, Callable[[], Forecaster]]]:
    """For a series id, its local model factories (Prophet with the region's country)."""
    region_of = dict(zip(data.panel["series_id"], data.panel["region"], strict=False))

    def for_series(series_id: str) -> dict[str, Callable[[], Forecaster]]:
        out: dict[str, Callable[[], Forecaster]] = {n: LOCAL[n] for n in names if n in LOCAL}
        if "prophet" in names:
            region = region_of.get(series_id)
            out["prophet"] = partial(ProphetModel, country=data.country_of(region) if region else None)
        return out

    return for_series


def global_factories(names: tuple[str, ...], horizon: int) -> dict[str, Callable[[], GlobalForecaster[CalendarPanel]]]:
    """Factories of the requested global models, each able to forecast ``horizon`` steps."""
    from core.forecast.direct_gbm import DirectBoost

    out: dict[str, Callable[[], GlobalForecaster[CalendarPanel]]] = {}
    for library in ("lightgbm", "xgboost"):
        if library in names:
            out[library] = partial(DirectBoost, library=library, horizon=horizon)
    if "lstm" in names:
        from core.forecast.global_lstm import GlobalLSTM  # TensorFlow only when the LSTM is asked for

        out["lstm"] = partial(GlobalLSTM, horizon=horizon)
    return out


def demand_calendar_panel(data: DemandData, panel: pd.DataFrame) -> CalendarPanel:
    """The panel with each series' country, time zone, launches and metric, for global models."""
    from core.forecast.calendar_panel import calendar_panel

    ids = list(dict.fromkeys(panel["series_id"]))
    meta = data.panel.drop_duplicates("series_id").set_index("series_id")
    regions = data.regions.set_index("region")
    launches = data.launches
    countries, zones, steps, groups = [], [], [], []
    for sid in ids:
        region, metric = (meta.loc[sid, "region"], meta.loc[sid, "metric"]) if sid in meta.index else \
            (str(sid).rsplit("/", 1)[0], str(sid).rsplit("/", 1)[-1])
        country = regions["country"].get(region) if region in regions.index else None
        zone = regions["timezone"].get(region) if region in regions.index else None
        countries.append(None if country is None or pd.isna(country) else str(country))
        zones.append(None if zone is None or pd.isna(zone) else str(zone))
        own = launches[launches["region"] == region] if metric not in config.CUMULATIVE_METRICS else launches[:0]
        steps.append(tuple((pd.Timestamp(d), float(s)) for d, s in zip(own["date"], own["step"], strict=True)
                           if pd.notna(s)))
        groups.append(str(metric))
    return calendar_panel(panel, countries=dict(zip(ids, countries, strict=True)),
                          timezones=dict(zip(ids, zones, strict=True)), launches=dict(zip(ids, steps, strict=True)),
                          groups=dict(zip(ids, groups, strict=True)))


def add_means(frame: pd.DataFrame) -> pd.DataFrame:
    """The combined models' columns (stats_mean = the mean of ets, theta and arima) where their members ran."""
    for combined, members in MEAN_OF.items():
        if all(m in frame.columns for m in members):
            frame[combined] = np.mean([frame[m].to_numpy(dtype=float) for m in members], axis=0)
    return frame
