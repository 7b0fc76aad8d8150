"""Rolling-origin backtests of global models: every series forecasts from every cutoff, as
``core.forecast.backtest.cross_validation`` does for one series, so the same metrics read both.

A global model is fit on the whole panel as it was at a cutoff (``hide_from``: every value after the cutoff
blanked, the cutoff itself visible), then forecasts each series from each cutoff of its refit group, reading
the full panel only up to each origin (the ``GlobalForecaster`` contract). ``refit_every`` works as in
``cross_validation``: 0 fits once before the first cutoff, k fits again every k cutoffs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.calendar_panel import CalendarPanel
from core.forecast.global_forecaster import GlobalForecaster, PanelOrigins, forecast_frame, hide_from, panel_seasons
from core.forecast.protocol import Seasons

GlobalFactory = Callable[[], GlobalForecaster[CalendarPanel]]


def cutoff_positions(panel: CalendarPanel, cutoffs: pd.DatetimeIndex) -> np.ndarray:
    """Grid positions of the cutoffs, oldest first; refuses a cutoff that is not a time of the grid."""
    cutoffs = pd.DatetimeIndex(cutoffs)
    if len(cutoffs) == 0:
        raise InputError("a backtest needs at least one cutoff")
    positions = panel.grid.get_indexer(cutoffs)
    if (positions < 0).any():
        raise InputError(f"cutoff {cutoffs[positions < 0][0]} is not a time of the panel's grid")
    return np.unique(positions)


def _refit_groups(n: int, refit_every: int) -> list[range]:
    """Consecutive cutoffs that share one fit (as in ``backtest._refit_groups``)."""
    size = n if refit_every == 0 else refit_every
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def _forecast_cutoffs(panel: CalendarPanel, factory: GlobalFactory, positions: np.ndarray, horizon: int,
                      refit_every: int, seasons: Seasons) -> tuple[np.ndarray, int]:
    """``(n_series * n_cutoffs, horizon)`` forecasts, series-major (as ``_origins`` orders them), and the fits."""
    n = len(panel.series_ids)
    out = np.full((n, len(positions), horizon), np.nan)
    fits = 0
    for group in _refit_groups(len(positions), refit_every):
        first = int(positions[group.start])
        seen = panel.with_values(hide_from(panel.values, np.full(n, first + 1)))  # the cutoff itself is visible
        model = factory().fit(seen, seasons)
        fits += 1
        at = positions[group.start : group.stop]
        origins = PanelOrigins(np.repeat(np.arange(n), len(at)), np.tile(at, n))
        out[:, group.start : group.stop] = model.forecast(panel, origins, horizon).reshape(n, len(at), horizon)
    return out.reshape(n * len(positions), horizon), fits


def global_cross_validation(panel: CalendarPanel, models: Mapping[str, GlobalFactory], *,
                            cutoffs: pd.DatetimeIndex, horizon: int, refit_every: int = 0,
                            seasons: Seasons | None = None) -> pd.DataFrame:
    """Forecasts of every model for every series from identical cutoffs: the long frame ``series_id, cutoff,
    ds, step, y`` and one column per model (``forecast_frame``), series by series then cutoff by cutoff,
    without the rows whose target lies past the grid. ``attrs["fits"]`` counts the fits of each model."""
    if horizon < 1:
        raise InputError("the horizon must be at least 1 step")
    if refit_every < 0:
        raise InputError("refit_every must be 0 (fit once) or a number of cutoffs")
    positions = cutoff_positions(panel, cutoffs)
    seasons = seasons or panel_seasons(panel)
    n = len(panel.series_ids)
    origins = PanelOrigins(np.repeat(np.arange(n), len(positions)), np.tile(positions, n))
    forecasts: dict[str, np.ndarray] = {}
    fits: dict[str, int] = {}
    for name, factory in models.items():
        forecasts[name], fits[name] = _forecast_cutoffs(panel, factory, positions, horizon, refit_every, seasons)
    frame = forecast_frame(panel, origins, forecasts, horizon)
    inside = (origins.at[:, None] + np.arange(1, horizon + 1)[None, :] < len(panel.grid)).ravel()
    frame = frame.loc[inside].reset_index(drop=True)
    frame.attrs["fits"] = fits
    return frame
