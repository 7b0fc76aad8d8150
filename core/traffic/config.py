"""Defaults, limits and help texts of Traffic & Autoscaling: one place, read by the service, the
widgets and the page (and patched by tests), never restated as literals in the UI.

Read them as ``config.DEFAULTS.models`` (module attribute at call time), not ``from ... import
DEFAULTS``: a test or a benchmark that replaces ``config.DEFAULTS`` then reaches every reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from core.forecast.intervals import Scale
from core.traffic.autoscale import ScalingParams
from core.traffic.models import MODEL_NAMES
from core.traffic.planning import FRONTIER_QUANTILES
from core.traffic.series import BurstRule, ZeroRunRule


@dataclass(frozen=True)
class PageDefaults:
    freq: str = "5m"
    horizon: int = 1
    max_horizon: int = 12  # one hour at 5 minutes
    models: tuple[str, ...] = ("seasonal_naive", "naive", "lightgbm", "xgboost")
    slow_models: tuple[str, ...] = ("prophet", "hybrid")
    interval: float = 0.8
    forward_history_days: int = 2
    # One OpenMP thread per GBM: Streamlit trains in its script thread beside other sessions, and with
    # two spinning OpenMP threads on two shared cores LightGBM ran 10× slower there (measured: 94 s vs 4 s).
    n_jobs: int = 1


DEFAULTS = PageDefaults()
# Results kept per process, by data fingerprint + settings: store name -> (max items, max MB). Bounded
# by count and memory, so a shared app does not grow with every file its users upload.
RESULT_STORES: dict[str, tuple[int, float]] = {
    "traffic-overviews": (4, 256.0),  # bursts and the download table of a series
    "traffic-backtests": (6, 512.0),  # fitted models and every model's test-window paths
    "traffic-forwards": (6, 64.0),  # forecasts past the end of the data (at most a day)
    "traffic-studies": (8, 256.0),  # policy replays, one per parameter set and quantile
}
MODEL_CHOICES: tuple[str, ...] = MODEL_NAMES  # the models a user may pick
# The command line runs alone: two OpenMP threads per fit, and its forward forecast's quantile columns.
CLI_N_JOBS = 2
CLI_FORWARD_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.8, 0.9, 0.95, 0.99)
BURST_RULE = BurstRule()  # the overview's burst marks
ZERO_RUN_RULE = ZeroRunRule()  # zero runs read as collection gaps (missing unless the user keeps them)
CALIBRATION_DAYS = 3.0  # core.traffic.backtest's default calibration window
# Refits in backtests: the learned models are fit again on everything before each block of test origins this long
# (a production forecaster refits as data arrives), one day by default for data finer than a day; on REFIT_WORKERS
# processes with one thread each. "never" keeps the models fitted before the calibration window.
REFIT_EVERY = pd.Timedelta("1D")
REFIT_WORKERS = 2
REFIT_CHOICES: dict[str, pd.Timedelta | None] = {"daily": pd.Timedelta("1D"), "every 6 hours": pd.Timedelta("6h"),
                                                 "weekly": pd.Timedelta("7D"), "never": None}


def default_refit_every(step: pd.Timedelta) -> pd.Timedelta | None:
    """Daily refits for data finer than a day; none for daily data (one fit covers the test window)."""
    return REFIT_EVERY if step < REFIT_EVERY else None


def refit_label(every: pd.Timedelta | None) -> str:
    """'daily', 'every 6 hours', ... or the interval itself."""
    for label, value in REFIT_CHOICES.items():
        if value == every:
            return label
    return f"every {every}"


# The ensemble: its weights follow the members' errors with this half-life (one
# hour of traffic: a surge of 1–2 hours moves them, a single noisy interval does not), never under
# ADAPTIVE_MIN_HALF_LIFE_STEPS intervals (a mean of fewer errors is mostly noise: at 15 minutes a 4-interval
# half-life cost 0.6 RMSE on NASA against 12); its intervals' level moves by ADAPTIVE_GAMMA after each observation.
ADAPTIVE_HALF_LIFE = pd.Timedelta("1h")
ADAPTIVE_MIN_HALF_LIFE_STEPS = 12.0
ADAPTIVE_GAMMA = 0.02
# Weights ∝ (1 / recent mean absolute error) ** ADAPTIVE_POWER: 4 leans on the best member more than inverse-square
# weights do (NASA 5m, daily refits: RMSE 45.7 -> 45.4, still 0.89× naive with the level ×4 and 0.88× with surges).
ADAPTIVE_POWER = 4.0
# The scale interval widths and policy quantiles are learned on (core.forecast.intervals): "auto" estimates, on the
# calibration window, the one where errors have the same spread at every level (NASA: about a square root at 5m,
# nearer log at 1h, where counts are overdispersed); a fixed scale ("log", "sqrt") overrides it.
INTERVAL_SCALE: Scale | Literal["auto"] = "auto"


def adaptive_half_life(step: pd.Timedelta) -> float:
    """The ensemble's half-life in intervals of ``step``: one hour of them, at least 12."""
    return max(ADAPTIVE_MIN_HALF_LIFE_STEPS, ADAPTIVE_HALF_LIFE / step)

# The scenario: 50 requests per 5-minute interval per server (1/6 req/s), a 10-minute boot, $0.10 per
# server-hour, $0.001 per dropped request. NASA's busiest 5 minutes (~5 req/s) need 30 such servers.
SCENARIO = ScalingParams()
FORWARD_QUANTILES: tuple[float, ...] = tuple(sorted({0.1, 0.5, 0.8, 0.9, 0.95, 0.99, *FRONTIER_QUANTILES}))
QUANTILE_OPTIONS: tuple[float, ...] = FRONTIER_QUANTILES  # the predictive policy's quantile selector
AUTO_QUANTILE = "auto"  # the selector's default: the cheapest quantile that meets the SLO
SOURCES = ("Bundled NASA traffic (Jul–Aug 1995)", "Upload CSV")
TABS = ("Overview", "Forecast", "Autoscaling")
AUTO = "(auto-detect)"
HELP = {
    "upload": "A CSV with a timestamp column (ISO text with or without offset, or epoch seconds) and a request-count "
              "column (request_count, requests_count, requests, count, y or value). Other numeric columns are kept.",
    "freq": "Counts are summed into intervals of this size. An interval with no data stays missing, never zero; "
            "an interval with only part of its data is flagged as partial.",
    "test_start": "Models train on everything before this day and are scored on everything from it on. "
                  "The NASA default is the published split: test from 1995-08-23 (local time).",
    "horizon": "Score forecasts issued this many intervals ahead (multi-step forecasts are recursive).",
    "models": "seasonal naive (same time yesterday) and naive (last value) are the baselines. The ensemble (used "
              "for autoscaling) combines the other models and naive with weights that follow their errors over the "
              "last hour or so, and widens or narrows its interval after misses (adaptive conformal), through the "
              "test window: when the load shifts and the models start losing to naive, it leans on naive. "
              "ensemble_stacked keeps the weights (non-negative least squares) and interval widths fitted on the "
              "last days before the test window.",
    "refit": "How often the learned models are fit again during the test window, each time on everything before it, "
             "as a production forecaster would be. Daily refits keep up with a shifting load but take longer (one "
             "fit per model and day); never = the models fitted before the calibration days forecast the whole "
             "test window.",
    "slow": "Prophet takes a while to fit; the hybrid also imports TensorFlow (~5 s, ~700 MB) and trains an LSTM: "
            "expect minutes, not seconds.",
    "forward_steps": "How far past the end of the data to forecast, up to one day.",
    "quantile": "The predictive policy provisions for this quantile of the forecast. Higher = fewer overloads, more "
                "servers. auto = chosen before the test window, on the calibration window's forecasts: the cheapest "
                "quantile that meets the SLO there, or, when that window is too short to judge the SLO, the "
                "highest quantile it supports.",
    "zero_runs": "Runs of zero counts much longer than any quiet spell elsewhere in the series look like a log that "
                 "stopped, so they are treated as missing. Tick this if the service really had no traffic then.",
    "slo": "The largest share of intervals (with traffic) you accept overloaded, i.e. with more requests than the "
           "serving fleet can take. The oracle is the cheapest fleet path that meets it, the default quantile the "
           "cheapest that meets it on the calibration window (before the test window), and only policies that meet it are ranked.",
}
PARAM_FIELDS: dict[str, tuple[str, str]] = {  # ScalingParams field -> (label, help)
    "capacity_rps": ("Capacity per server (req/s)", "Requests per second one server serves. The replay converts it "
                                                    "to requests per interval at the granularity chosen above."),
    "min_servers": ("Min servers", "The fleet never shrinks below this."),
    "max_servers": ("Max servers", "The fleet never grows above this; demand above max × capacity is dropped."),
    "boot_minutes": ("Boot delay (minutes)", "Minutes between ordering a server and it serving traffic, rounded up "
                                             "to whole intervals in the replay. The predictive policy reads forecasts "
                                             "issued that far ahead."),
    "scale_in_minutes": ("Scale-in window (minutes)", "Reactive policy: scale in only to the highest recommendation "
                                                      "of this many past minutes (HPA stabilisation window)."),
    "cooldown_minutes": ("Cooldown (minutes)", "Reactive policy: minimum minutes between two scaling actions."),
    "target_utilisation": ("Target utilisation", "Reactive policy: desired = ceil(current × utilisation / target)."),
    "tolerance": ("Tolerance", "Reactive policy: no action while |utilisation / target − 1| ≤ tolerance."),
    "price_per_server_hour": ("Price per server-hour ($)", "Booting servers are paid too."),
    "penalty_per_dropped": ("Penalty per dropped request ($)", "The SLA cost of a request beyond capacity."),
}
# How the form shows each float field: (printf format, step). Integer fields step by 1.
PARAM_INPUTS: dict[str, tuple[str, float]] = {
    "capacity_rps": ("%.4f", 0.01), "boot_minutes": ("%.1f", 1.0), "scale_in_minutes": ("%.1f", 5.0),
    "cooldown_minutes": ("%.1f", 5.0), "target_utilisation": ("%.2f", 0.05), "tolerance": ("%.2f", 0.01),
    "price_per_server_hour": ("%.4f", 0.01), "penalty_per_dropped": ("%.4f", 0.001),
}
