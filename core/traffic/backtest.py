"""Fit, calibrate and evaluate traffic forecasters on a time-ordered split.

Protocol (no leakage, one test window for every model):
1. ``fit``: all complete intervals before ``calibration_start`` train every model.
2. ``calibration``: the last ``calibration_days`` before the test start. The fitted
   models forecast it from rolling origins; those held-out forecasts warm the ensemble and
   set split-conformal interval widths (log-ratio residual quantiles per step, so intervals
   widen with the level; ``core.forecast.intervals``).
3. ``test``: from ``test_start`` on, every model forecasts each interval from the origin
   ``horizon`` steps earlier. Lags read actual values up to the origin only. With
   ``refit_every`` (default: daily), the learned models are fit again on all data before each
   block of test origins, as a production forecaster would be; otherwise they stay as fitted.

Two ensembles (``core.forecast.ensemble``):
- ``ensemble`` (the default, used for autoscaling): per step k its weights follow the members'
  and naive's recent errors, and its intervals come from adaptive conformal inference, both run
  over the calibration window and on through the test window using only truths known when each
  forecast was issued (see ``adaptive_ensemble``). A shift that makes the members lose to naive
  moves the weight to naive within about an hour; the intervals widen after misses.
- ``ensemble_stacked``: weights fixed on the calibration window (non-negative least squares of
  the truth on the members' forecasts, per step) and split-conformal intervals.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.baselines import Naive
from core.forecast.ensemble import NAIVE, combine, normalise_rows, recent_error_weights, stacking_weights
from core.forecast.intervals import (
    AdaptiveConformal,
    Scale,
    grid_quantile,
    quantile_grid,
    residual_quantiles,
    signed_residuals,
    stabilising_power,
)
from core.forecast.parallel import run_tasks
from core.forecast.protocol import Forecaster, Seasons
from core.ml import metrics
from core.traffic.models import BASELINES, make_model
from core.traffic.series import TrafficSeries

QUANTILES: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99)
ENSEMBLE = "ensemble"  # recent-error weights and adaptive conformal intervals: the default
STACKED = "ensemble_stacked"  # weights and interval widths fixed on the calibration window
MIN_STEP_TRUTH = 8  # calibration points a step needs for its own weights and interval widths
PUBLISHED_TEST_START = pd.Timestamp("1995-08-23 00:00")
ProgressFn = Callable[[float, str], None]


def default_test_start(y: pd.Series) -> pd.Timestamp:
    """The published NASA split when the data covers it, else the day boundary at 85% of the span."""
    tz = y.index.tz
    published = PUBLISHED_TEST_START.tz_localize(tz) if tz is not None else PUBLISHED_TEST_START
    if y.index[0] + pd.Timedelta(days=7) < published <= y.index[-1]:
        return published
    start = y.index[0] + (y.index[-1] - y.index[0]) * 0.85
    floored = start.floor("D")
    return floored if floored > y.index[0] + (y.index[-1] - y.index[0]) * 0.5 else start.floor(y.index.freq or "h")


def to_local(ts: pd.Timestamp | str, y: pd.Series) -> pd.Timestamp:
    """A user-typed time ('1995-08-23') read in the data's own zone."""
    ts = pd.Timestamp(ts)
    tz = y.index.tz
    if tz is None:
        return ts.tz_localize(None) if ts.tzinfo is not None else ts
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


@dataclass
class Calibrated:
    """Fitted models with their ensemble weights and conformal residual quantiles per step."""

    models: dict[str, Forecaster]
    weights: pd.DataFrame  # rows = step 1..H, columns = member models
    residual_q: dict[str, np.ndarray]  # model -> H × len(QUANTILES), log1p-space residual quantiles
    calibration_rmse: pd.DataFrame  # rows = step, columns = model (incl. ensemble)
    horizon: int
    fit_end: pd.Timestamp
    calibration_end: pd.Timestamp
    fit_seconds: dict[str, float] = field(default_factory=dict)
    # The calibration window's own forecasts (rolling origins before the test window, every model and the
    # ensemble, n_origins × horizon): what a policy setting is chosen on before it is scored on the test window.
    calibration_origins: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([]))
    calibration_paths: dict[str, np.ndarray] = field(default_factory=dict)
    scale: Scale = "log"  # the scale interval widths and quantiles are learned on (see interval_scale)

    @property
    def members(self) -> list[str]:
        return list(self.weights.columns)

    def paths(self, y: pd.Series, origins: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        """Point forecasts n_origins × horizon for every model and the stacked ensemble."""
        out = {name: model.forecast(y, origins, self.horizon) for name, model in self.models.items()}
        if self.members:
            out[STACKED] = _combine(out, self.weights)
        return out

    def quantile(self, model: str, point: np.ndarray, q: float) -> np.ndarray:
        """The q-quantile forecast for points laid out n × H (or a column for step k via slicing)."""
        return grid_quantile(point, self.residual_q[model], QUANTILES, q, self.scale)


def _combine(paths: dict[str, np.ndarray], weights: pd.DataFrame) -> np.ndarray:
    stacked = np.stack([paths[m] for m in weights.columns], axis=2)  # n × H × M
    return np.einsum("nhm,hm->nh", stacked, weights.to_numpy())


def _check_split(series: TrafficSeries, start: pd.Timestamp, calibration_days: float) -> pd.Timestamp:
    y = series.y
    if start <= y.index[0]:
        raise InputError(f"the test start {start} is at or before the first data point {y.index[0]}")
    # Short uploads calibrate on the last quarter of their history instead of whole days.
    span = min(pd.Timedelta(days=calibration_days), (start - y.index[0]) * 0.25)
    calib_start = (start - span).ceil(series.step) if span > series.step else start - series.step
    fit_rows = int(series.usable()[y.index < calib_start].sum())
    cal_rows = int(series.usable()[(y.index >= calib_start) & (y.index < start)].sum())
    if fit_rows < 50 or cal_rows < 10:
        raise InputError(
            f"not enough history before {start}: {fit_rows} complete intervals to train and {cal_rows} to "
            f"calibrate (need 50 and 10); pick a later test start or a finer granularity"
        )
    return calib_start


def calibrate(series: TrafficSeries, start: pd.Timestamp, *, models: Sequence[str], horizon: int,
              calibration_days: float = 3.0, progress: ProgressFn | None = None, n_jobs: int = 2,
              max_calibration_points: int = 60_000) -> Calibrated:
    """Fit ``models`` on data before the calibration window, then measure them on it."""
    progress = progress or (lambda _f, _m: None)
    y, usable = series.y, series.usable()
    calib_start = _check_split(series, start, calibration_days)
    fit_y = y[y.index < calib_start]
    fitted: dict[str, Forecaster] = {}
    fit_seconds: dict[str, float] = {}
    for i, name in enumerate(models):
        progress(0.05 + 0.4 * i / max(len(models), 1), f"training {name}")
        started = time.perf_counter()
        fitted[name] = _new_model(series, name, n_jobs).fit(fit_y, seasons_of(series))
        fit_seconds[name] = time.perf_counter() - started
    progress(0.5, "calibrating on the last days before the test window")
    step = series.step
    cal_targets = y.index[(y.index >= calib_start) & (y.index < start)]
    stride = max(1, int(np.ceil(len(cal_targets) * horizon / max_calibration_points)))
    origins = pd.DatetimeIndex(cal_targets[::stride] - step)
    origins = origins[origins >= y.index[0]]
    known = y[y.index < start]
    paths = {name: m.forecast(known, origins, horizon) for name, m in fitted.items()}
    truth = _truth_matrix(y, usable, origins, horizon, step, end=start)
    # A step scored on fewer than MIN_STEP_TRUTH calibration points (the last steps of a long
    # horizon over a short window) gets no weights or widths of its own: it borrows the previous step's.
    thin = (~np.isnan(truth)).sum(axis=0) < MIN_STEP_TRUTH
    truth[:, thin] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps are handled below
        mse = {name: np.nanmean((p - truth) ** 2, axis=0) for name, p in paths.items()}
    members = [m for m in fitted if m not in BASELINES]
    weights = pd.DataFrame(index=pd.RangeIndex(1, horizon + 1, name="step"))
    if members:
        raw = np.stack([stacking_weights(np.stack([paths[m][:, k] for m in members], axis=1), truth[:, k],
                                         min_rows=MIN_STEP_TRUTH) for k in range(horizon)])
        weights = pd.DataFrame(normalise_rows(raw), columns=members, index=weights.index)
        paths[STACKED] = _combine(paths, weights)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mse[STACKED] = np.nanmean((paths[STACKED] - truth) ** 2, axis=0)
    scale = interval_scale(truth, paths[STACKED] if STACKED in paths else next(iter(paths.values())))
    residual_q = {name: quantile_grid(truth, p, QUANTILES, scale) for name, p in paths.items()}
    rmse_table = pd.DataFrame({name: np.sqrt(v) for name, v in mse.items()}, index=weights.index)
    return Calibrated(models=fitted, weights=weights, residual_q=residual_q, calibration_rmse=rmse_table,
                      horizon=horizon, fit_end=calib_start, calibration_end=start, fit_seconds=fit_seconds,
                      calibration_origins=origins, calibration_paths=paths, scale=scale)


def interval_scale(truth: np.ndarray, forecast: np.ndarray) -> Scale:
    """The scale interval widths and quantiles are learned on: ``config.INTERVAL_SCALE``, or with "auto" the
    one on which the calibration window's one-step errors have the same spread at every level (square root
    for Poisson-like counts, log when the spread grows in proportion to the level, a power between)."""
    from core.traffic import config  # config imports planning, which imports this module

    if config.INTERVAL_SCALE != "auto":
        return config.INTERVAL_SCALE
    return stabilising_power(truth[:, 0], forecast[:, 0])


def seasons_of(series: TrafficSeries) -> Seasons:
    """A day of intervals (the baselines' season), then a week."""
    return Seasons((series.season, 7 * series.season))


def _new_model(series: TrafficSeries, name: str, n_jobs: int) -> Forecaster:
    return make_model(name, n_jobs=n_jobs, usable=series.usable(), native=series.native, per_bin=series.per_bin)


def _truth_matrix(y: pd.Series, usable: pd.Series, origins: pd.DatetimeIndex, horizon: int, step: pd.Timedelta,
                  end: pd.Timestamp | None = None) -> np.ndarray:
    """Actual values laid out like the forecasts; NaN where unknown, incomplete or past ``end``."""
    clean = y.where(usable)
    out = np.full((len(origins), horizon), np.nan)
    for k in range(1, horizon + 1):
        targets = origins + k * step
        vals = clean.reindex(targets).to_numpy(dtype=float, copy=True)
        if end is not None:
            vals[targets >= end] = np.nan
        out[:, k - 1] = vals
    return out


@dataclass
class AdaptiveSource:
    """The adaptive ensemble's inputs (members' k-step paths on the calibration and test origins, the truth),
    and its weights per step once computed."""

    members: list[str]
    calibration_paths: dict[str, np.ndarray]
    test_paths: dict[str, np.ndarray]
    truth: pd.Series
    calibration_truth: np.ndarray  # n_calibration_origins × horizon
    half_life: float
    gamma: float
    power: float
    weights: dict[int, pd.DataFrame] = field(default_factory=dict)


@dataclass
class BacktestResult:
    """Every model's h-step forecasts on one test window, with intervals and scores.

    The derived tables (``predictions``, ``leaderboard``, ``error_by_hour``) are built once per
    step and kept on the result: a page rerun, or the leaderboard reading the predictions, reuses
    them. They are shared, so callers must not modify them in place."""

    series: TrafficSeries
    calibrated: Calibrated
    test_start: pd.Timestamp
    horizon: int
    interval: float
    origins: pd.DatetimeIndex
    paths: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    # Names this run, for caches of what is derived from it (a replay): equal settings retrained are a new run.
    # Models whose interval at ``interval`` is not a residual quantile of the calibration window: model ->
    # (lower, upper), laid out like ``paths`` (the adaptive ensemble's adaptive conformal bounds).
    bounds: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # What the adaptive ensemble's steps are computed from, each on first use (a day-long horizon has 288 steps
    # at 5m, ~0.25 s each, and the page scores one); its columns in ``paths`` and ``bounds`` are NaN until then.
    adaptive: AdaptiveSource | None = None
    refits: dict[str, int] = field(default_factory=dict)  # fits of each learned model during the test window
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex, init=False, compare=False)
    _derived: dict[tuple[str, int], pd.DataFrame] = field(default_factory=dict, init=False, repr=False, compare=False)
    _quantiles: dict[tuple[int, float], np.ndarray] = field(default_factory=dict, init=False, repr=False,
                                                            compare=False)

    @property
    def model_names(self) -> list[str]:
        return list(self.paths)

    def _once(self, kind: str, step: int, build: Callable[[int], pd.DataFrame]) -> pd.DataFrame:
        key = (kind, step)
        found = self._derived.get(key)
        if found is None:
            found = self._derived[key] = build(step)
        return found

    def step_forecast(self, model: str, step: int, q: float | None = None) -> pd.Series:
        """Forecast of each test interval issued ``step`` intervals before it (q = quantile). A model with its
        own ``bounds`` answers the interval's two tails from them, other quantiles from calibration residuals."""
        self._ensure(model, step)
        point = self.paths[model]
        tails = ((1 - self.interval) / 2, 1 - (1 - self.interval) / 2)
        if q is not None and model in self.bounds and min(abs(q - t) for t in tails) < 1e-9:
            values = self.bounds[model][0 if abs(q - tails[0]) < 1e-9 else 1][:, step - 1]
        elif q is not None and q >= 0.5 and model == ENSEMBLE and self.adaptive is not None:
            values = self._adaptive_quantile(step, q)
        elif q is not None:
            values = self.calibrated.quantile(model, point, q)[:, step - 1]
        else:
            values = point[:, step - 1]
        targets = self.origins + step * self.series.step
        s = pd.Series(values, index=targets, name=model)
        return s[(s.index >= self.test_start) & (s.index <= self.series.y.index[-1])]

    def calibration_forecast(self, model: str, step: int, q: float | None = None) -> pd.Series:
        """Forecast of each calibration-window interval issued ``step`` intervals before it (q = quantile): data
        before the test window only. Intervals the window's origins do not reach ``step`` ahead are left out."""
        self._ensure(model, step)
        cal = self.calibrated
        point = cal.calibration_paths[model]
        values = cal.quantile(model, point, q)[:, step - 1] if q is not None else point[:, step - 1]
        s = pd.Series(values, index=cal.calibration_origins + step * self.series.step, name=model)
        return s[(s.index >= cal.fit_end) & (s.index < self.test_start)]

    def adaptive_weights(self, step: int) -> pd.DataFrame:
        """The adaptive ensemble's weights for ``step``-ahead forecasts, one row per target time (the
        calibration window's, then the test window's), a column per member."""
        self._ensure(ENSEMBLE, step)
        if self.adaptive is None:
            raise KeyError(f"no {ENSEMBLE} in this backtest (it needs a learned model)")
        return self.adaptive.weights[step]

    def _adaptive_quantile(self, step: int, q: float) -> np.ndarray:
        """The ensemble's upper q-quantile forecasts on the test window (one per origin, NaN outside it) from
        one-sided adaptive conformal inference, so a policy's exceedance rate holds after a shift too. Its
        step size shrinks with the tail (gamma × (1 - q) / 0.1) so one miss cannot widen a q97.5 bound to
        infinity, and it is bounded by the largest error seen."""
        key = (step, round(q, 9))
        found = self._quantiles.get(key)
        if found is not None:
            return found
        self._ensure(ENSEMBLE, step)
        source, cal, k, start = self.adaptive, self.calibrated, step, self.test_start
        assert source is not None
        cal_targets, test_targets = cal.calibration_origins + k * self.series.step, self.origins + k * self.series.step
        cal_rows = np.flatnonzero((cal_targets >= cal.fit_end) & (cal_targets < start))
        warm = cal_rows[: max(len(cal_rows) - (k - 1), 0)]  # truths known when the first test forecast is issued
        test_rows = np.flatnonzero((test_targets >= start) & (test_targets <= self.series.y.index[-1]))
        point = self.paths[ENSEMBLE][:, k - 1]
        truth = source.truth.reindex(test_targets).to_numpy(dtype=float)
        aci = AdaptiveConformal(level=q, scale=cal.scale, gamma=source.gamma * (1 - q) / 0.1, side="upper",
                                bounded=True)
        out = np.full(len(self.origins), np.nan)
        for r in range(k):  # k interleaved streams: each forecast's predecessor's truth is known when it is issued
            rows = test_rows[r::k]
            if len(rows):
                out[rows] = aci.run(truth[rows], point[rows], calibration=source.calibration_truth[warm, k - 1],
                                    calibration_pred=cal.calibration_paths[ENSEMBLE][warm, k - 1])[1]
        self._quantiles[key] = out
        return out

    def ensemble_shares(self, step: int) -> dict[str, float]:
        """Each member's mean weight in the default ensemble over the test window (naive included)."""
        if self.adaptive is None:
            return {}
        weights = self.adaptive_weights(step)
        return weights[weights.index >= self.test_start].mean().to_dict()

    def _ensure(self, model: str, step: int) -> None:
        """Computes the adaptive ensemble's ``step`` on first use (every other model's paths are complete)."""
        source = self.adaptive
        if model != ENSEMBLE or source is None or step in source.weights:
            return
        if not 1 <= step <= self.calibrated.horizon:
            raise IndexError(f"step {step} is beyond this backtest's {self.calibrated.horizon} steps")
        cal, y, k, start = self.calibrated, self.series.y, step, self.test_start
        cal_targets, test_targets = cal.calibration_origins + k * self.series.step, self.origins + k * self.series.step
        cal_rows = (cal_targets >= cal.fit_end) & (cal_targets < start)
        test_rows = (test_targets >= start) & (test_targets <= y.index[-1])
        frame = pd.concat([
            pd.DataFrame({m: source.calibration_paths[m][cal_rows, k - 1] for m in source.members},
                         index=cal_targets[cal_rows]),
            pd.DataFrame({m: source.test_paths[m][test_rows, k - 1] for m in source.members},
                         index=test_targets[test_rows])])
        run = adaptive_ensemble(frame, source.truth, test_start=start, step=k, level=self.interval,
                                half_life=source.half_life, gamma=source.gamma, power=source.power, scale=cal.scale)
        lo, hi = self.bounds[ENSEMBLE]
        self.paths[ENSEMBLE][:, k - 1] = run.forecast.reindex(test_targets).to_numpy()
        lo[:, k - 1] = run.lower.reindex(test_targets).to_numpy()
        hi[:, k - 1] = run.upper.reindex(test_targets).to_numpy()
        cal_point = run.forecast.reindex(cal_targets).to_numpy()
        cal.calibration_paths[ENSEMBLE][:, k - 1] = cal_point
        found = residual_quantiles(signed_residuals(source.calibration_truth[:, k - 1], cal_point, cal.scale),
                                   QUANTILES)
        # Quantiles other than the interval's tails: this step's calibration residuals (or none: zero width).
        cal.residual_q[ENSEMBLE][k - 1] = found if found is not None else 0.0
        source.weights[k] = run.weights

    def predictions(self, step: int | None = None) -> pd.DataFrame:
        """Long table: timestamp, model, y_true, y_pred, lo, hi (the CLI's --out format). Built once per step."""
        return self._once("predictions", step or self.horizon, self._predictions)

    def leaderboard(self, step: int | None = None) -> pd.DataFrame:
        """MAE, RMSE, sMAPE, MASE (vs the 1-day seasonal naive on training data) and coverage. Built once per step."""
        return self._once("leaderboard", step or self.horizon, self._leaderboard)

    def error_by_hour(self, step: int | None = None) -> pd.DataFrame:
        """RMSE per hour of day (local time) for each model: rows = hour, columns = model. Built once per step."""
        return self._once("error_by_hour", step or self.horizon, self._error_by_hour)

    def _predictions(self, step: int) -> pd.DataFrame:
        lo_q, hi_q = (1 - self.interval) / 2, 1 - (1 - self.interval) / 2
        frames = []
        for name in self.paths:
            pred = self.step_forecast(name, step)
            frames.append(pd.DataFrame({
                "timestamp": pred.index, "model": name, "y_true": self.series.y.reindex(pred.index).to_numpy(),
                "y_pred": pred.to_numpy(), "lo": self.step_forecast(name, step, lo_q).to_numpy(),
                "hi": self.step_forecast(name, step, hi_q).to_numpy()}))
        return pd.concat(frames, ignore_index=True)

    def _leaderboard(self, step: int) -> pd.DataFrame:
        preds = self.predictions(step)
        usable = self.series.usable()
        train = self.series.y[(self.series.y.index < self.test_start)]
        rows = []
        shares = self.ensemble_shares(step)
        for name, g in preds.groupby("model", sort=False):
            ok = g["y_true"].notna().to_numpy() & usable.reindex(g["timestamp"], fill_value=False).to_numpy(dtype=bool)
            g = g[ok]
            scores = metrics.forecast_scores(g["y_true"], g["y_pred"], lower=g["lo"], upper=g["hi"])
            scores["mase"] = _mase(g["y_true"].to_numpy(), g["y_pred"].to_numpy(), train, self.series.season)
            weight = shares.get(name, np.nan)
            rows.append({"model": name, **scores, "ensemble_weight": weight, "n": int(len(g)),
                         "baseline": name in BASELINES})
        table = pd.DataFrame(rows).sort_values("rmse").reset_index(drop=True)  # sMAPE is in percent already
        return table[["model", "mae", "rmse", "smape", "mase", "coverage", "ensemble_weight", "n", "baseline"]]

    def _error_by_hour(self, step: int) -> pd.DataFrame:
        preds = self.predictions(step).dropna(subset=["y_true"])
        hours = pd.DatetimeIndex(preds["timestamp"]).hour
        err = (preds["y_true"] - preds["y_pred"]) ** 2
        return err.groupby([hours, preds["model"]]).mean().pow(0.5).unstack().rename_axis("hour")


def _mase(y_true: np.ndarray, y_pred: np.ndarray, train: pd.Series, season: int) -> float:
    """MASE against the in-sample seasonal naive (NaN when the training part is too short or flat)."""
    if len(train) <= season:
        return float("nan")
    scale = metrics.seasonal_naive_scale(train.to_numpy(dtype=float), season)
    if not np.isfinite(scale) or scale == 0:
        return float("nan")
    return float(np.mean(np.abs(y_true - y_pred)) / scale)


def run_backtest(series: TrafficSeries, *, test_start: pd.Timestamp | str | None = None, horizon: int = 1,
                 models: Sequence[str] = ("seasonal_naive", "naive", "lightgbm", "xgboost"),
                 extra_steps: int = 0, calibration_days: float = 3.0, interval: float = 0.8,
                 progress: ProgressFn | None = None, n_jobs: int = 2,
                 adaptive_half_life: float | None = None, refit_every: pd.Timedelta | None = None,
                 workers: int = 1) -> BacktestResult:
    """Backtest ``models`` at ``horizon`` steps ahead; ``extra_steps`` keeps longer paths (for autoscaling).

    ``refit_every``: the learned models are fit again on everything before each block of test origins this
    long (None: never, they forecast the whole test window as fitted before the calibration window); the refits
    run on ``workers`` processes. With learned models the result holds ``ensemble`` (recent-error weights with
    a half-life in intervals, default ``config.adaptive_half_life``: one hour of intervals, at least 12; adaptive
    conformal intervals) and ``ensemble_stacked``."""
    if horizon < 1 or horizon > series.season:
        raise InputError(f"the horizon must be between 1 and {series.season} intervals (one day)")
    if not 0.5 <= interval < 1:
        raise InputError("the interval level must be between 0.5 and 0.99")
    unknown = [m for m in models if m not in ("seasonal_naive", "naive", "lightgbm", "xgboost", "prophet", "hybrid")]
    if unknown:
        raise InputError(f"unknown model(s): {', '.join(unknown)}")
    y = series.y
    start = to_local(test_start, y) if test_start is not None else default_test_start(y)
    if start > y.index[-1]:
        raise InputError(f"the test start {start} is after the last data point {y.index[-1]}")
    path_len = max(horizon, extra_steps)
    cal = calibrate(series, start, models=list(models), horizon=path_len, calibration_days=calibration_days,
                    progress=progress, n_jobs=n_jobs)
    if progress:
        progress(0.85, "forecasting the test window")
    first_origin = max(start - path_len * series.step, y.index[0])
    origins = y.index[(y.index >= first_origin) & (y.index < y.index[-1])]
    if refit_every is not None and refit_every <= pd.Timedelta(0):
        raise InputError("the refit interval must be positive (or never)")
    learned = [m for m in cal.models if m not in BASELINES]
    refits: dict[str, int] = {}
    if refit_every is None or not learned:
        paths = cal.paths(y, origins)
    else:
        paths = _refit_paths(series, cal, origins, start, refit_every, n_jobs=n_jobs, workers=workers,
                             progress=progress)
        refits = {m: len(refit_blocks(origins, start, refit_every)) for m in learned}
    bounds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    source = None
    if STACKED in paths:
        source = _adaptive_source(series, cal, origins, paths, start, adaptive_half_life)
        shape = paths[STACKED].shape
        paths[ENSEMBLE] = np.full(shape, np.nan)
        bounds[ENSEMBLE] = (np.full(shape, np.nan), np.full(shape, np.nan))
    result = BacktestResult(series=series, calibrated=cal, test_start=start, horizon=horizon, interval=interval,
                            origins=origins, paths=paths, bounds=bounds, adaptive=source, refits=refits)
    if source is not None:
        if progress:
            progress(0.95, "adapting the ensemble")
        result.adaptive_weights(horizon)  # the scored step now; others when first asked for
    if progress:
        progress(1.0, "done")
    return result


def refit_blocks(origins: pd.DatetimeIndex, start: pd.Timestamp, every: pd.Timedelta) -> list[np.ndarray]:
    """Positions of the origins that share one fit: blocks ``every`` long from the test start (origins
    before it, the first paths of a multi-step backtest, join the first block)."""
    block = np.maximum(np.floor((origins - start) / every), 0).astype(int)
    return [np.flatnonzero(block == b) for b in np.unique(block)]


@dataclass(frozen=True)
class RefitTask:
    """One model fit on everything up to a block's first origin, then forecasting the block's origins."""

    model: Forecaster  # unfitted
    fit_y: pd.Series
    forecast_y: pd.Series  # up to the block's last origin: later truth is out of reach
    seasons: Seasons
    origins: pd.DatetimeIndex
    horizon: int


def refit_and_forecast(task: RefitTask) -> np.ndarray:
    return task.model.fit(task.fit_y, task.seasons).forecast(task.forecast_y, task.origins, task.horizon)


def _refit_paths(series: TrafficSeries, cal: Calibrated, origins: pd.DatetimeIndex, start: pd.Timestamp,
                 every: pd.Timedelta, *, n_jobs: int, workers: int, progress: ProgressFn | None) -> dict[str, np.ndarray]:
    """Test-window paths with the learned models refit before each block; baselines need no fit."""
    y, horizon = series.y, cal.horizon
    paths = {name: np.full((len(origins), horizon), np.nan) for name in cal.models}
    for name in cal.models:
        if name in BASELINES:
            paths[name] = cal.models[name].forecast(y, origins, horizon)
    blocks = refit_blocks(origins, start, every)
    keys, tasks = [], []
    for name in (m for m in cal.models if m not in BASELINES):
        for block in blocks:
            first, last = origins[block[0]], origins[block[-1]]
            keys.append((name, block))
            # Several workers share the cores: one thread per fit then, or they fight over them.
            tasks.append(RefitTask(model=_new_model(series, name, n_jobs if workers == 1 else 1),
                                   fit_y=y.loc[:first], forecast_y=y.loc[:last], seasons=seasons_of(series),
                                   origins=origins[block], horizon=horizon))

    def done(finished: int, total: int) -> None:
        if progress:
            progress(0.55 + 0.35 * finished / total, f"refitting before each test block: {finished} of {total} fits")

    for (name, block), out in zip(keys, run_tasks(refit_and_forecast, tasks, n_jobs=workers, on_done=done), strict=True):
        paths[name][block] = out
    if cal.members:
        paths[STACKED] = _combine(paths, cal.weights)
    return paths


@dataclass
class AdaptiveRun:
    """The adaptive ensemble's k-step forecasts, one row per target time (calibration window, then test)."""

    forecast: pd.Series
    lower: pd.Series  # NaN before the test window
    upper: pd.Series
    weights: pd.DataFrame


def adaptive_ensemble(forecasts: pd.DataFrame, truth: pd.Series, *, test_start: pd.Timestamp, step: int,
                      level: float, half_life: float, gamma: float = 0.02, power: float = 2.0,
                      scale: Scale = "log") -> AdaptiveRun:
    """Recent-error weights and adaptive conformal intervals for ``step``-ahead forecasts.

    ``forecasts``: one row per target time, in order and one interval apart (the calibration window's
    forecasts, then the test window's), a column per member, naive among them. Row t's error is learned
    from ``step`` rows later (its truth arrives then), so the weights start warm at the test start and
    never read a truth that was unknown when a forecast was issued. (When a long horizon thinned the
    calibration origins, its rows are further apart: ``step`` rows back is then further back, still causal.)

    Intervals: adaptive conformal (on ``scale``) warmed on the calibration window's scores whose truth is
    known before the first test forecast was issued. For ``step`` > 1 the test rows are split into
    ``step`` interleaved streams (rows r, r+k, r+2k, ...): in each, the previous row's truth is known
    exactly when the next forecast is issued, so the level moves on observed misses only."""
    weights = recent_error_weights(forecasts, truth, half_life=half_life, delay=step, power=power)
    point = combine(forecasts, weights).rename(ENSEMBLE)
    y = truth.reindex(forecasts.index).to_numpy(dtype=float)
    p = point.to_numpy(dtype=float)
    in_test = (forecasts.index >= test_start)
    n_cal = int((~in_test).sum())
    warm = slice(0, max(n_cal - (step - 1), 0))  # calibration truths known when the first test forecast is issued
    lower, upper = np.full(len(p), np.nan), np.full(len(p), np.nan)
    test_rows = np.flatnonzero(in_test)
    aci = AdaptiveConformal(level=level, scale=scale, gamma=gamma)
    for r in range(step):
        rows = test_rows[r::step]
        if len(rows):
            lower[rows], upper[rows] = aci.run(y[rows], p[rows], calibration=y[warm], calibration_pred=p[warm])
    return AdaptiveRun(forecast=point, lower=pd.Series(lower, index=point.index),
                       upper=pd.Series(upper, index=point.index), weights=weights)


def _adaptive_source(series: TrafficSeries, cal: Calibrated, origins: pd.DatetimeIndex, paths: dict[str, np.ndarray],
                     start: pd.Timestamp, half_life: float | None) -> AdaptiveSource:
    """The adaptive ensemble's inputs: members (the learned models, their stacked combination, then naive), their
    calibration and test paths, the truth; its calibration paths and residual quantiles are set on ``cal``
    (NaN/zero until a step is computed)."""
    from core.traffic import config  # config imports planning, which imports this module

    y, step = series.y, series.step
    learned = [m for m in cal.members if m != NAIVE]
    # The stacked combination joins its members when there are several: often the best of them on steady data.
    members = learned + ([STACKED] if len(learned) > 1 else []) + [NAIVE]
    cal_paths = {m: cal.calibration_paths[m] for m in members if m in cal.calibration_paths}
    test_paths = {m: paths[m] for m in members if m in paths}
    if NAIVE not in cal_paths:  # naive is always in the pool, chosen or not
        cal_paths[NAIVE] = Naive().forecast(y[y.index < start], cal.calibration_origins, cal.horizon)
        test_paths[NAIVE] = Naive().forecast(y, origins, cal.horizon)
    cal.calibration_paths[ENSEMBLE] = np.full((len(cal.calibration_origins), cal.horizon), np.nan)
    cal.residual_q[ENSEMBLE] = np.zeros((cal.horizon, len(QUANTILES)))
    return AdaptiveSource(
        members=members, calibration_paths=cal_paths, test_paths=test_paths, truth=y.where(series.usable()),
        calibration_truth=_truth_matrix(y, series.usable(), cal.calibration_origins, cal.horizon, step, end=start),
        half_life=half_life if half_life is not None else config.adaptive_half_life(step),
        gamma=config.ADAPTIVE_GAMMA, power=config.ADAPTIVE_POWER)


def forward_forecast(series: TrafficSeries, *, steps: int, models: Sequence[str] = ("lightgbm", "xgboost"),
                     calibration_days: float = 3.0, quantiles: Sequence[float] = (0.1, 0.5, 0.8, 0.9, 0.95, 0.99),
                     progress: ProgressFn | None = None, n_jobs: int = 2) -> pd.DataFrame:
    """Forecast ``steps`` intervals past the end of the data with the ensemble (or the single model).

    Returns timestamp-indexed columns ``y_pred`` and ``q<level>`` per requested quantile.
    """
    if not 1 <= steps <= series.season:
        raise InputError(f"forward steps must be between 1 and {series.season} (one day)")
    y = series.y.copy()
    last_known = y.last_valid_index()
    if last_known is None:
        raise InputError("the series has no numbers to forecast from")
    y = y[:last_known]
    end = last_known + series.step
    trimmed = TrafficSeries(y=y, freq=series.freq, native_freq=series.native_freq, partial=series.partial[:last_known],
                            extra=series.extra, source=series.source, native=series.native)
    cal = calibrate(trimmed, end, models=list(models), horizon=steps, calibration_days=calibration_days,
                    progress=progress, n_jobs=n_jobs)
    origin = pd.DatetimeIndex([last_known])
    paths = cal.paths(y, origin)
    if STACKED in paths:
        source = _adaptive_source(trimmed, cal, origin, paths, end, None)
        paths[ENSEMBLE], cal.residual_q[ENSEMBLE] = _forward_adaptive(source, cal, end, series.step)
    name = ENSEMBLE if ENSEMBLE in paths else list(paths)[0]
    index = pd.DatetimeIndex([last_known + k * series.step for k in range(1, steps + 1)], name="timestamp")
    out = pd.DataFrame({"y_pred": paths[name][0]}, index=index)
    for q in quantiles:
        out[f"q{q:g}"] = cal.quantile(name, paths[name], q)[0]
    out.attrs["model"] = name
    return out


def _forward_adaptive(source: AdaptiveSource, cal: Calibrated, end: pd.Timestamp,
                      step: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
    """The adaptive ensemble's forecast from the one forward origin (1 × H) and its residual quantile grid.

    Per step k: the weights for the forward forecast follow every calibration error (all known by now);
    its quantiles come from the calibration window's own adaptive k-step forecasts, each weighted only
    by errors known when it was issued (as in the backtest)."""
    horizon = cal.horizon
    point, past = np.full((1, horizon), np.nan), np.full((len(cal.calibration_origins), horizon), np.nan)
    for k in range(1, horizon + 1):
        targets = cal.calibration_origins + k * step
        rows = targets < end
        frame = pd.DataFrame({m: source.calibration_paths[m][rows, k - 1] for m in source.members},
                             index=targets[rows])
        ahead = pd.DataFrame({m: source.test_paths[m][:, k - 1] for m in source.members},
                             index=pd.DatetimeIndex([end + (k - 1) * step]))
        weights = recent_error_weights(pd.concat([frame, ahead]), source.truth, half_life=source.half_life, delay=1,
                                       power=source.power)
        point[0, k - 1] = combine(ahead, weights.iloc[[-1]]).iloc[0]
        past[rows, k - 1] = combine(frame, recent_error_weights(frame, source.truth, half_life=source.half_life,
                                                                delay=k, power=source.power)).to_numpy()
    truth = source.calibration_truth.copy()
    truth[:, (~np.isnan(truth)).sum(axis=0) < MIN_STEP_TRUTH] = np.nan  # thin steps borrow an earlier step's widths
    grid = quantile_grid(truth, past, QUANTILES, cal.scale)
    return point, grid
