"""Global models: one model over many series, behind the same small surface as a local ``Forecaster``.

A *wide panel* holds many series on one regular time grid: ``values[i, t]`` is series ``i`` at
``grid[t]``, NaN where it is missing (``WidePanel``; ``wide_panel`` builds one from the long
``series_id, ds, y`` frame of ``core.forecast.panel``). A ``GlobalForecaster`` fits once on a whole
panel and forecasts ``horizon`` steps from any (series, origin) pairs (``PanelOrigins``), reading
each series only up to its origin, like ``Forecaster`` does for one series. A model learned across
series (boosted trees, a recurrent network) implements it directly; ``PerSeries`` runs any local
``Forecaster`` (the baselines, say) one series at a time behind it.

The rest is what an honest evaluation of a global model needs:

- ``holdout_split``: a time-ordered holdout. Each series trains on the grid before its cut and is
  tested from it: one common cut by default, so no series trains on a time another one is tested on
  (common shocks would leak), or each series' own span (``per_series``) when series start and end at
  different times. ``hide_from`` blanks what a model must not see while it fits.
- ``forecast_frame``: forecasts from panel origins as the long ``series_id, cutoff, ds, step, y,
  <model>...`` frame the rest of the core reads.
- ``choose_global``: one model for the whole panel, chosen with the rule of
  ``core.forecast.selection.choose_per_series`` (lowest MAE on the earlier part, only if it beats the
  baseline there, ties to the model listed first) and scored on the later part.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.panel import validate_panel
from core.forecast.protocol import Forecaster, Seasons
from core.forecast.seasons import infer_step, season_lengths
from core.forecast.selection import choose_per_series

POOLED = "all series"  # the series_id of the one group ``choose_global`` hands to choose_per_series


class WidePanel(Protocol):
    """Many series on one regular grid (read-only view)."""

    @property
    def grid(self) -> pd.DatetimeIndex:
        """The common time grid, regular, oldest first."""
        ...

    @property
    def series_ids(self) -> pd.Index:
        """One id per row of ``values``."""
        ...

    @property
    def values(self) -> np.ndarray:
        """``(n_series, len(grid))`` floats; NaN = no value (missing stays missing, never zero)."""
        ...


@dataclass(frozen=True)
class Wide:
    """A plain ``WidePanel``."""

    grid: pd.DatetimeIndex
    series_ids: pd.Index
    values: np.ndarray


def wide_panel(panel: pd.DataFrame) -> Wide:
    """The long panel ``series_id, ds, y`` on one regular grid spanning every series (the most common
    step); intervals a series has no row for are NaN."""
    panel = validate_panel(panel)
    stamps = pd.DatetimeIndex(panel["ds"])
    step = infer_step(stamps.unique().sort_values())
    grid = pd.date_range(stamps.min(), stamps.max(), freq=step)
    ids = pd.Index(panel["series_id"].unique())
    rows = ids.get_indexer(panel["series_id"])
    cols = grid.get_indexer(stamps)
    on_grid = cols >= 0  # a stamp off the common step has no cell; it is dropped, not rounded
    values = np.full((len(ids), len(grid)), np.nan)
    values[rows[on_grid], cols[on_grid]] = panel["y"].to_numpy(dtype=float)[on_grid]
    return Wide(grid, ids, values)


def panel_seasons(panel: WidePanel) -> Seasons:
    """The seasons of the panel's grid (``season_lengths`` of its step, kept if the grid covers them twice)."""
    return Seasons(season_lengths(infer_step(panel.grid), len(panel.grid)))


@dataclass(frozen=True)
class PanelOrigins:
    """Forecast origins across a panel: row ``series[i]`` forecasts from grid position ``at[i]``, the
    last position it may read (a one-step forecast of position ``t`` has its origin at ``t - 1``)."""

    series: np.ndarray
    at: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", np.asarray(self.series, dtype=int))
        object.__setattr__(self, "at", np.asarray(self.at, dtype=int))
        if self.series.shape != self.at.shape or self.series.ndim != 1:
            raise ValueError("origins need one grid position per series row")

    def __len__(self) -> int:
        return len(self.series)

    @classmethod
    def before(cls, series: np.ndarray, targets: np.ndarray) -> PanelOrigins:
        """The origins of one-step forecasts of the cells ``(series[i], targets[i])``."""
        return cls(np.asarray(series), np.asarray(targets) - 1)


P = TypeVar("P", bound=WidePanel, contravariant=True)


class GlobalForecaster(Protocol[P]):
    """Fit once on a panel, then forecast ``horizon`` steps from any (series, origin) pairs.

    ``forecast`` may read row ``origins.series[i]`` only up to ``origins.at[i]`` (inclusive); to fit on
    the past only, pass a panel whose later values are hidden (``hide_from``). The panel type is a
    parameter: a model that needs more than values (a time zone or a category per series) takes a
    richer panel that still is a ``WidePanel``."""

    @property
    def name(self) -> str: ...

    def fit(self, panel: P, seasons: Seasons) -> GlobalForecaster[P]: ...

    def forecast(self, panel: P, origins: PanelOrigins, horizon: int) -> np.ndarray:
        """A ``len(origins) × horizon`` array of point forecasts (NaN where a model cannot forecast)."""
        ...


def _row(panel: WidePanel, i: int) -> pd.Series:
    return pd.Series(panel.values[i], index=panel.grid, dtype=float)


@dataclass
class PerSeries:
    """Any local ``Forecaster`` as a ``GlobalForecaster``: one model per series, each fit on its own history.

    ``factory`` makes an unfitted model (a class such as ``SeasonalNaive`` pickles; a lambda does not).
    A series ``fit`` never saw (added since) is fit when it is forecast, on its history up to its first
    origin there, so it too reads nothing after an origin."""

    factory: Callable[[], Forecaster]
    name: str = ""
    models: dict[Hashable, Forecaster] = field(default_factory=dict)
    seasons: Seasons | None = None

    def __post_init__(self) -> None:
        self.name = self.name or str(getattr(self.factory(), "name", "per_series"))

    def fit(self, panel: WidePanel, seasons: Seasons) -> PerSeries:
        self.seasons = seasons
        self.models = {}
        for i, series_id in enumerate(panel.series_ids):
            y = _row(panel, i)
            if y.notna().any():
                self.models[series_id] = self.factory().fit(y, seasons)
        return self

    def forecast(self, panel: WidePanel, origins: PanelOrigins, horizon: int) -> np.ndarray:
        if self.seasons is None:
            raise ValueError(f"{self.name}: call fit first")
        out = np.full((len(origins), horizon), np.nan)
        for row in np.unique(origins.series):
            pick = np.flatnonzero(origins.series == row)
            y = _row(panel, int(row))
            model = self.models.get(panel.series_ids[row])
            if model is None:
                model = self.factory().fit(y.iloc[: int(origins.at[pick].min()) + 1], self.seasons)
            out[pick] = model.forecast(y, panel.grid[origins.at[pick]], horizon)
        return out


# --- the time-ordered holdout ----------------------------------------------------------------------

def holdout_cut(first: int, last: int, test_share: float) -> int:
    """The first held-out position of the span ``first..last`` (inclusive): the last ``test_share`` of
    it is held out, at least one position on each side."""
    if not 0 < test_share < 1:
        raise InputError("the held-out share must be between 0 and 1")
    span = last - first + 1
    if span < 2:
        raise InputError("a holdout needs at least two time steps (one to train on, one to test)")
    return first + min(span - 1, max(1, int(np.floor(span * (1 - test_share)))))


def holdout_split(panel: WidePanel, test_share: float, *, per_series: bool = False,
                  min_history: int = 0) -> np.ndarray:
    """The first held-out grid position of each series: positions before it train, the rest are held
    out, so every training time of a series comes before every test time of it.

    The span is from the first observed position (not before ``min_history``, the first position a
    model can forecast) to the last: over all series at once (one common cut, the default) or over
    each series' own (``per_series``; a series observed at fewer than two positions holds nothing out)."""
    if not 0 < test_share < 1:
        raise InputError("the held-out share must be between 0 and 1")
    observed = ~np.isnan(panel.values)
    observed[:, :min_history] = False
    n_series = observed.shape[0]
    if not observed.any():
        raise InputError(f"nothing to split: no value after the first {min_history} time steps")
    if not per_series:
        columns = np.flatnonzero(observed.any(axis=0))
        return np.full(n_series, holdout_cut(int(columns[0]), int(columns[-1]), test_share))
    cuts = np.full(n_series, observed.shape[1])
    for i in np.flatnonzero(observed.any(axis=1)):
        columns = np.flatnonzero(observed[i])
        if columns[-1] > columns[0]:
            cuts[i] = holdout_cut(int(columns[0]), int(columns[-1]), test_share)
    return cuts


def hide_from(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """A copy of ``values`` with each row NaN from its cut on: what a model may see while it fits."""
    hidden = np.array(values, dtype=float, copy=True)
    hidden[np.arange(hidden.shape[1])[None, :] >= np.asarray(cuts)[:, None]] = np.nan
    return hidden


# --- forecasts as the core's long frame, and one choice for a whole panel --------------------------

def forecast_frame(panel: WidePanel, origins: PanelOrigins, forecasts: Mapping[str, np.ndarray],
                   horizon: int) -> pd.DataFrame:
    """Columns ``series_id, cutoff, ds, step, y`` and one per model (each ``len(origins) × horizon``, or a
    vector when ``horizon`` is 1), as ``core.forecast.backtest.cross_validation`` returns them."""
    step = infer_step(panel.grid)
    steps = np.arange(1, horizon + 1)
    target = origins.at[:, None] + steps[None, :]
    inside = target < len(panel.grid)
    truth = np.full(target.shape, np.nan)
    truth[inside] = panel.values[np.broadcast_to(origins.series[:, None], target.shape)[inside], target[inside]]
    cutoff = panel.grid[origins.at].repeat(horizon)
    frame = pd.DataFrame({
        "series_id": np.repeat(np.asarray(panel.series_ids)[origins.series], horizon),
        "cutoff": cutoff,
        "ds": cutoff + pd.to_timedelta(np.tile(steps, len(origins)) * step),
        "step": np.tile(steps, len(origins)),
        "y": truth.ravel(),
    })
    for name, values in forecasts.items():
        frame[name] = np.asarray(values, dtype=float).reshape(len(origins), horizon).ravel()
    return frame


@dataclass(frozen=True)
class GlobalChoice:
    """The one model chosen for a panel, and which rows of the frame scored it."""

    chosen: str
    table: pd.DataFrame  # choose_per_series's row: selection and evaluation MAE, best in hindsight
    evaluation: np.ndarray  # bool per frame row: the later part (the rows the choice never saw)
    selection_start: pd.Timestamp
    evaluation_start: pd.Timestamp


def choose_global(frame: pd.DataFrame, models: Sequence[str], *, baseline: str,
                  select_share: float = 0.5) -> GlobalChoice:
    """One model for every series of ``frame`` (a ``forecast_frame``), chosen on the earlier part of its
    target times and scored on the later part.

    The target times are split with ``holdout_cut`` (the first ``select_share`` of their span chooses),
    then the parts go to ``choose_per_series`` as its two windows, pooled over all series: the lowest MAE
    on the earlier part wins only if it beats ``baseline`` there, ties go to the model listed first."""
    if frame.empty:
        raise InputError("no forecasts to choose from")
    ds = pd.DatetimeIndex(frame["ds"])
    times = ds.unique().sort_values()
    if len(times) < 2:
        raise InputError("honest selection needs at least two target times (one to choose on, one to score on)")
    positions = np.asarray(np.round((ds - times[0]) / infer_step(times)), dtype=int)
    cut = holdout_cut(0, int(positions.max()), 1 - select_share)
    later = positions >= cut
    selection_start, evaluation_start = ds[~later].min(), ds[later].min()
    cutoff = pd.Series(np.where(later, 1, 0), index=frame.index).map({0: selection_start, 1: evaluation_start})
    windows = frame.assign(series_id=POOLED, cutoff=cutoff)
    table = choose_per_series(windows, models, baseline=baseline, select_share=select_share)
    return GlobalChoice(str(table["chosen"].iloc[0]), table, later, selection_start, evaluation_start)
