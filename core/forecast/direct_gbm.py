"""DirectBoost: one boosted-tree model for every step 1..horizon of every series of a panel (a *direct*,
*global* forecaster).

Each training row is a (series, origin, step k) triple. Values live on the shared scale of
``core.forecast.calendar_panel`` (signed log of the launch-free value: a step the launch calendar announces is
applied, not learned). The target is the change from an *anchor* (the level of the last season up to the
origin, plus its trend when the level has been moving steadily, which trees could not extrapolate) to the
value k steps later, in units of the series' typical seasonal change. That unit makes every series count
alike, as MASE does: one model serves a CPU share, a count of users and a storage curve.

The features read the series only up to the origin: recent values, rolling means and spread, the same time
one to four seasons before the target and, on daily grids, last years' values around the target's date
(alone and as a seasonal change from the origin's date back then). The calendar of the target (day of week
and of year, holidays of the series' country on its local clock, the launch factor) and of the origin
complete them, with the step k and the series' group.

Direct rather than recursive: errors do not feed back through the steps, and "the value a year before the
target" stays an observed value at every step. Trees are built by ``gbm.fit_boosted`` (time-ordered early
stopping on the rows with the latest targets, then a refit on all of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.calendar_panel import (
    CalendarPanel,
    LogPanel,
    calendar_features,
    grid_times,
    log_panel,
    signed_exp,
    signed_log,
    take,
    trailing_mean,
)
from core.forecast.gbm import BoostedTrees, Library, fit_boosted
from core.forecast.global_forecaster import PanelOrigins
from core.forecast.protocol import Seasons
from core.forecast.seasons import DAY

Loss = Literal["l2", "l1"]
YEAR_LAG_DAYS = 364  # 52 weeks: a year before the target on the same weekday
YEARS_BACK = 6  # past years averaged for the seasonal shape (PJM load, 3 evaluation years: MASE 0.85 with 3, 0.83 with 6)
MAX_LAGS = 48  # recent values read: a season and one, at most this many
SCALE_FLOOR = 1e-4  # the least change scale (log units): a constant series keeps finite targets
DEFAULT_SCALE = 0.05  # the change scale of a series too short to measure one (5 % per season)
TREND_SEASONS = 12  # seasons of level changes the trend and its steadiness are measured on
MIN_TREND_SEASONS = 4  # fewer known changes carry no trend: two or three agree by chance too easily
# The trend carried is weighted by steadiness to this power: storage measures ~1.0 (kept whole), load and
# users wander with the seasons at a median ~0.25 and up to ~0.8 (0.4 at most when raised to the 4th).
STEADINESS_POWER = 4
SAMPLE_POOL = 10  # the candidate rows a sample is drawn from, at most this many times the rows kept
MIN_TRAINING_ROWS = 50  # fewer (series, origin, step) rows fit no trees: the forecast is then the level
LONGEST_SHORT_SEASON_DAYS = 300  # seasons shorter than this get seasonal lags; a year gets the shape features

# Bigger trees than fit_boosted's defaults: one model spans many series, steps and calendars. With a 0.1
# learning rate, at most 500 rounds and 150k rows (18 daily series of 3 years at horizon 28 or 180) a fit
# (probe and refit) takes 9-15 s on 2 cores; 200k rows took 15-23 s and scored no better.
TREE_PARAMS: dict[Library, dict[str, Any]] = {
    "lightgbm": {"num_leaves": 31, "min_child_samples": 100},
    "xgboost": {"max_depth": 6, "min_child_weight": 100},
}
_LOSS_PARAMS: dict[tuple[Library, Loss], dict[str, Any]] = {
    ("lightgbm", "l1"): {"objective": "l1"},
    ("xgboost", "l1"): {"objective": "reg:absoluteerror"},
}


@dataclass(frozen=True)
class PanelLayout:
    """Which features a panel's grid supports: set at fit, reused at forecast so the columns match (the
    LSTM of ``global_lstm`` reads the same)."""

    season: int  # the primary season in steps (7 daily, 24 hourly): the level's window
    lags: int
    windows: tuple[int, ...]  # rolling means, relative to the level
    periods: tuple[int, ...]  # seasons read as "the same time j seasons before the target"
    year_lag: int  # steps in a year of same weekdays (daily grids), 0: no year features
    sub_daily: bool


def panel_layout(panel: CalendarPanel, seasons: Seasons) -> PanelLayout:
    s = max(seasons.primary, 1)
    step = panel.step
    short = tuple(p for p in seasons.periods if p * step < pd.Timedelta(days=LONGEST_SHORT_SEASON_DAYS)) or (s,)
    return PanelLayout(season=s, lags=min(s + 1, MAX_LAGS), windows=(4 * s, 12 * s, 52 * s), periods=short,
                   year_lag=YEAR_LAG_DAYS if step == DAY else 0, sub_daily=panel.sub_daily)


@dataclass(frozen=True)
class PreparedPanel:
    """A panel on the shared scale with the past-only statistics every row indexes (all trailing, so a
    row that reads them at its origin reads nothing later)."""

    scaled: LogPanel
    means: dict[int, np.ndarray]  # log of the trailing mean over each window
    spread: np.ndarray  # trailing std of the log values over four seasons
    scale: np.ndarray  # the typical seasonal change up to each position (see _change_scale)
    trend: np.ndarray  # the level's change per step carried forward from each position (see _steady_trend)
    smooth: np.ndarray  # log of the trailing mean over one season (read centred on a past target)
    holiday_share: np.ndarray  # the share of the level's window that fell on holidays (it is lower then)
    grid_calendar: dict[str, np.ndarray]  # calendar_features of every (series, grid time), shape (n, T) each


def _trailing_std(z: np.ndarray, window: int) -> np.ndarray:
    mean = trailing_mean(z, window)
    mean_sq = trailing_mean(z * z, window)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def _change_scale(z: np.ndarray, season: int) -> np.ndarray:
    """The mean absolute change over one season (log scale) among the last four seasons up to each position,
    else the last sixteen (an outage), floored. Targets and features are divided by it, so every series
    counts alike in the loss, as in MASE: a smooth storage curve's small changes are not lost next to a
    CPU share's swings."""
    change = np.abs(z - np.hstack([np.full((z.shape[0], season), np.nan), z[:, :-season]]))
    scale = trailing_mean(change, 16 * season)
    scale = np.where(np.isnan(scale), trailing_mean(change, 64 * season), scale)
    return np.maximum(np.nan_to_num(scale, nan=DEFAULT_SCALE), SCALE_FLOOR)


def _steady_trend(level: np.ndarray, season: int) -> np.ndarray:
    """The level's mean change per step over the last ``TREND_SEASONS`` seasons, times how steady it was
    (|mean change| / mean |change|: 1 when every season moved the same way, near 0 for noise) to the power
    ``STEADINESS_POWER``. A steadily growing series (storage filling up) has its trend carried to the target,
    which trees cannot extrapolate; a series whose level only wanders (load with the weather) keeps a flat
    anchor."""
    n, T = level.shape
    padded = np.hstack([np.full((n, (TREND_SEASONS + 1) * season), np.nan), level])
    start = (TREND_SEASONS + 1) * season
    changes = np.stack([padded[:, start - j * season: start - j * season + T]
                        - padded[:, start - (j + 1) * season: start - (j + 1) * season + T]
                        for j in range(TREND_SEASONS)])
    known = ~np.isnan(changes)
    count = known.sum(axis=0)
    filled = np.where(known, changes, 0.0)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    mean_abs = np.abs(filled).sum(axis=0) / np.maximum(count, 1)
    steady = np.divide(np.abs(mean), mean_abs, out=np.zeros_like(mean), where=mean_abs > 0)
    return np.where(count >= MIN_TREND_SEASONS, steady ** STEADINESS_POWER * mean / season, 0.0)


def prepare_panel(panel: CalendarPanel, layout: PanelLayout) -> PreparedPanel:
    scaled = log_panel(panel, layout.season)
    free = signed_exp(scaled.z)
    n, T = panel.values.shape
    rows = np.repeat(np.arange(n), T)
    calendar = calendar_features(panel, rows, panel.grid[np.tile(np.arange(T), n)])
    on_grid = {k: v.reshape(n, T) for k, v in calendar.items()}
    return PreparedPanel(
        scaled=scaled,
        means={w: signed_log(trailing_mean(free, w)) for w in layout.windows},
        spread=_trailing_std(scaled.z, 4 * layout.season),
        scale=_change_scale(scaled.z, layout.season),
        trend=_steady_trend(scaled.level, layout.season),
        smooth=signed_log(trailing_mean(free, layout.season)),
        holiday_share=trailing_mean(on_grid["is_holiday"], layout.season),
        grid_calendar=on_grid,
    )


def seasonal_columns(prep: PreparedPanel, layout: PanelLayout, rows: np.ndarray, origins: np.ndarray, steps: np.ndarray,
                      level: np.ndarray) -> dict[str, np.ndarray]:
    """The same time 1..4 seasons before the target, the latest one at or before the origin."""
    out: dict[str, np.ndarray] = {}
    z = prep.scaled.z
    target = origins + steps
    for p in layout.periods:
        back = p * np.ceil(steps / p).astype(int)
        ago = np.stack([take(z, rows, target - back - j * p) for j in range(4)], axis=1)
        out[f"same_{p}"] = ago[:, 0] - level
        out[f"same_{p}_mean4"] = _row_mean(ago) - level
    return out


def _row_mean(a: np.ndarray) -> np.ndarray:
    """Mean of each row's known entries, NaN where none is known (a missing past is a NaN feature)."""
    known = ~np.isnan(a)
    count = known.sum(axis=1)
    return np.where(count > 0, np.where(known, a, 0.0).sum(axis=1) / np.maximum(count, 1), np.nan)


def year_columns(prep: PreparedPanel, layout: PanelLayout, rows: np.ndarray, origins: np.ndarray, steps: np.ndarray,
                  level: np.ndarray) -> dict[str, np.ndarray]:
    """What the last years say about the target (daily grids): the same weekday a year before it, the
    week-smoothed value around its date j years back (alone, and relative to the level at the origin's date
    back then: last years' seasonal change from origin to target), and the growth since. Each is NaN where
    the history is too short or the position would be after the origin."""
    if not layout.year_lag:
        return {}
    Y, half = layout.year_lag, layout.season // 2
    lev = prep.scaled.level
    target = origins + steps
    year_ago = target - Y
    out = {"year_ago": np.where(year_ago <= origins, take(prep.scaled.z, rows, year_ago), np.nan) - level}
    around, then = [], []
    for j in range(1, YEARS_BACK + 1):
        centre = target - j * Y + half  # the trailing mean there is centred on the target's date j years back
        around.append(np.where(centre <= origins, take(prep.smooth, rows, centre), np.nan))
        then.append(take(lev, rows, origins - j * Y))
    around_, then_ = np.stack(around, axis=1), np.stack(then, axis=1)
    out["year_shape"] = around[0] - then[0]
    out["year_shape_mean"] = _row_mean(around_ - then_)
    out["year_growth"] = level - then[0]
    out["years_growth_mean"] = level - _row_mean(then_)
    out["years_target_mean"] = _row_mean(around_) - level
    return out


def target_calendar(panel: CalendarPanel, prep: PreparedPanel, rows: np.ndarray, origins: np.ndarray,
                     steps: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The target time's calendar features, and its launch factor (to put the forecast back on its scale)."""
    times = grid_times(panel.grid, origins + steps)
    calendar = calendar_features(panel, rows, times)
    factor = calendar.pop("launch_factor")
    calendar["launch_ratio"] = np.log(factor / take(prep.scaled.factor, rows, origins))
    return calendar, factor


def anchors(prep: PreparedPanel, layout: PanelLayout, rows: np.ndarray, origins: np.ndarray, steps: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log level at the origin, steady trend carried to the target, change scale) of each row: a model
    learns ``(log value - level - carried) / scale``."""
    level = take(prep.scaled.level, rows, origins)
    # The level is the mean of the last season, centred half a season before the origin.
    carried = take(prep.trend, rows, origins) * (steps + (layout.season - 1) / 2)
    return level, carried, take(prep.scale, rows, origins)


@dataclass(frozen=True)
class _Rows:
    """Feature rows and what turns a predicted change back into a value: the anchor is the log level at the
    origin plus the steady trend carried to the target; the change is in units of ``scale``; the launch
    factor of the target multiplies the result."""

    X: pd.DataFrame
    level: np.ndarray
    carried: np.ndarray
    scale: np.ndarray
    factor: np.ndarray

    @property
    def anchor(self) -> np.ndarray:
        return self.level + self.carried


def _features(panel: CalendarPanel, prep: PreparedPanel, layout: PanelLayout, groups: dict[str, int], rows: np.ndarray,
              origins: np.ndarray, steps: np.ndarray) -> _Rows:
    """The rows of (series, origin, step) triples. Reads values only up to each origin: every position below
    is ``origins - j`` or a target minus whole seasons, checked to be at or before the origin."""
    z = prep.scaled.z
    level, carried, scale = anchors(prep, layout, rows, origins, steps)
    relative: dict[str, np.ndarray] = {}
    for j in range(layout.lags):
        relative[f"lag_{j}"] = take(z, rows, origins - j) - level
    for w, mean in prep.means.items():
        relative[f"mean_{w}"] = take(mean, rows, origins) - level
    relative["drift"] = level - take(prep.scaled.level, rows, origins - layout.season)
    relative["trend_to_target"] = carried
    relative.update(seasonal_columns(prep, layout, rows, origins, steps, level))
    relative.update(year_columns(prep, layout, rows, origins, steps, level))
    cols: dict[str, np.ndarray] = {"step": steps.astype(float)}
    cols.update({k: v / scale for k, v in relative.items()})
    cols["scale"] = np.log(scale)
    cols["spread"] = take(prep.spread, rows, origins) / scale
    calendar, factor = target_calendar(panel, prep, rows, origins, steps)
    calendar["launch_ratio"] = calendar["launch_ratio"] / scale
    cols.update(calendar)
    cols["origin_dow"] = prep.grid_calendar["dow"][rows, origins]
    if layout.sub_daily:
        cols["origin_hour"] = prep.grid_calendar["hour"][rows, origins]
    cols["origin_is_holiday"] = prep.grid_calendar["is_holiday"][rows, origins]
    cols["holiday_share"] = prep.holiday_share[rows, origins]
    codes = np.array([groups.get(g, np.nan) for g in panel.groups], dtype=float)
    cols["group"] = codes[rows]
    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float32) for k, v in cols.items()})
    return _Rows(frame, level, carried, scale, factor)


def origin_pairs(known: np.ndarray, level: np.ndarray, season: int, horizon: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series, origin, how many steps after it are still inside the series) for every origin that has a
    season of history and a level: the origins a model may learn from."""
    pair_rows, pair_origins, pair_counts = [np.zeros(0, int)], [np.zeros(0, int)], [np.zeros(0, int)]
    for i in np.flatnonzero(known.any(axis=1)):
        seen = np.flatnonzero(known[i])
        first, last = int(seen[0]) + season - 1, int(seen[-1])
        origins = np.arange(first, last)
        origins = origins[np.isfinite(level[i, origins])]
        pair_rows.append(np.full(len(origins), i))
        pair_origins.append(origins)
        pair_counts.append(np.minimum(horizon, last - origins))
    rows, origins, counts = (np.concatenate(a) for a in (pair_rows, pair_origins, pair_counts))
    return rows, origins, counts


def _training_triples(z: np.ndarray, level: np.ndarray, season: int, horizon: int, max_rows: int,
                      half_life: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series, origin, step) rows whose target is known: all of them when they fit in ``max_rows``, else a
    sample without repeats favouring recent origins (weight halves every ``half_life`` steps back from the
    panel's end), so the rows spread over every series, weekday and step."""
    known = ~np.isnan(z)
    rows, origins, counts = origin_pairs(known, level, season, horizon)
    if counts.sum() > SAMPLE_POOL * max_rows:  # a huge panel: thin the origins first, evenly, to bound memory
        keep = rng.random(len(rows)) < SAMPLE_POOL * max_rows / counts.sum()
        rows, origins, counts = rows[keep], origins[keep], counts[keep]
    rows, origins = np.repeat(rows, counts), np.repeat(origins, counts)
    steps = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    has_target = known[rows, origins + steps]
    rows, origins, steps = rows[has_target], origins[has_target], steps[has_target]
    if len(rows) > max_rows:
        # Weighted sampling without replacement (Efraimidis-Spirakis): the largest log(u) / weight win.
        last_column = int(np.flatnonzero(known.any(axis=0))[-1])
        log_weight = np.log(0.5) * (last_column - origins) / max(half_life, 1.0)
        keys = np.log(rng.random(len(rows))) * np.exp(-log_weight)
        pick = np.sort(np.argpartition(-keys, max_rows - 1)[:max_rows])
        rows, origins, steps = rows[pick], origins[pick], steps[pick]
    return rows, origins, steps


@dataclass
class DirectBoost:
    """A global, direct multi-horizon LightGBM (or XGBoost) over a ``CalendarPanel``; see the module docstring.

    ``horizon`` is the longest horizon it will be asked for (it learns steps 1..horizon). ``max_rows`` caps
    the training rows (sampled, recent origins weighted by ``half_life_years``). A forecast reads each series
    only up to its origin; a series with nothing known by then forecasts NaN; output is clipped at 0 when the
    training values were all non-negative. With fewer than ``MIN_TRAINING_ROWS`` rows no trees are fit and the
    forecast is the level of the last season."""

    horizon: int = 28
    library: Library = "lightgbm"
    name: str = ""
    loss: Loss = "l2"
    max_rows: int = 150_000
    half_life_years: float = 3.0
    learning_rate: float = 0.1
    max_rounds: int = 500
    n_jobs: int = 2
    params: dict[str, Any] | None = None  # over TREE_PARAMS (then fit_boosted's defaults)
    seed: int = 0
    layout: PanelLayout | None = field(default=None, repr=False)
    groups: dict[str, int] = field(default_factory=dict)
    non_negative: bool = True
    trees: BoostedTrees | None = field(default=None, repr=False)
    rows_trained: int = 0

    def __post_init__(self) -> None:
        self.name = self.name or self.library
        if self.horizon < 1:
            raise InputError("the horizon must be at least 1 step")

    def fit(self, panel: CalendarPanel, seasons: Seasons) -> DirectBoost:
        layout = panel_layout(panel, seasons)
        self.layout = layout
        self.groups = {g: code for code, g in enumerate(sorted(set(panel.groups)))}
        known = panel.values[~np.isnan(panel.values)]
        self.non_negative = bool((known >= 0).all())
        prep = prepare_panel(panel, layout)
        half_life = self.half_life_years * pd.Timedelta(days=365.25) / panel.step
        rng = np.random.default_rng(self.seed)
        rows, origins, steps = _training_triples(prep.scaled.z, prep.scaled.level, layout.season, self.horizon,
                                                 self.max_rows, half_life, rng)
        self.rows_trained = len(rows)
        self.trees = None
        if len(rows) < MIN_TRAINING_ROWS:
            return self
        order = np.lexsort((rows, origins + steps))  # time-ordered: early stopping scores the latest targets
        rows, origins, steps = rows[order], origins[order], steps[order]
        features = _features(panel, prep, layout, self.groups, rows, origins, steps)
        target = (prep.scaled.z[rows, origins + steps] - features.anchor) / features.scale
        params = {**TREE_PARAMS[self.library], **_LOSS_PARAMS.get((self.library, self.loss), {}), **(self.params or {})}
        self.trees = fit_boosted(features.X, target, library=self.library, objective="l2", max_rounds=self.max_rounds,
                                 learning_rate=self.learning_rate, n_jobs=self.n_jobs, params=params, seed=self.seed)
        return self

    def forecast(self, panel: CalendarPanel, origins: PanelOrigins, horizon: int) -> np.ndarray:
        if self.layout is None:
            raise ValueError(f"{self.name}: call fit first")
        if horizon > self.horizon:
            raise InputError(f"{self.name} was trained for at most {self.horizon} steps ahead, not {horizon}")
        if len(origins) == 0:
            return np.zeros((0, horizon))
        prep = prepare_panel(panel, self.layout)
        steps = np.tile(np.arange(1, horizon + 1), len(origins))
        rows, at = np.repeat(origins.series, horizon), np.repeat(origins.at, horizon)
        features = _features(panel, prep, self.layout, self.groups, rows, at, steps)
        if self.trees is None:  # too little to learn from: the level, not a trend read off a few points
            log_value = features.level
        else:
            log_value = features.anchor + self.trees.predict(features.X) * features.scale
        out = signed_exp(log_value) * features.factor
        if self.non_negative:
            out = np.maximum(out, 0.0)
        return out.reshape(len(origins), horizon)
