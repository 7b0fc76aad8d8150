"""Cloud Demand & Capacity: defaults, limits, column names and help texts in one place.

The generator, the format readers, the CLI and (later) the page read them here, never as literals
of their own. Read them as ``config.NAME`` at call time so a test can patch one value everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

DOMAIN = "demand"

# ---- metrics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is: its label and unit, and the unit its capacity is bought in.

    ``percent_of_capacity``: the metric is already a share of installed capacity (CPU %), so 100 is the
    ceiling and the capacity table says how many ``capacity_unit`` that 100 % stands for.
    """

    label: str
    unit: str
    capacity_unit: str
    percent_of_capacity: bool = False


METRICS: dict[str, MetricInfo] = {
    "cpu": MetricInfo("CPU utilisation", "%", "vCPU", percent_of_capacity=True),
    "storage": MetricInfo("Storage used", "TB", "TB"),
    "users": MetricInfo("Active users", "users", "users"),
}
# The reference system's column names (``date, region, resource_type, usage_cpu, usage_storage,
# users_active``) and the metric each becomes.
REFERENCE_METRIC_COLUMNS: dict[str, str] = {"usage_cpu": "cpu", "usage_storage": "storage", "users_active": "users"}
# Units we can vouch for in imported data (the reference's storage has no stated unit).
IMPORTED_UNITS: dict[str, str] = {"cpu": "%", "cpu_pct": "%", "cpu_percent": "%", "users": "users",
                                  "storage_tb": "TB"}
WIDE_DEFAULT_METRIC = "demand"  # the metric of a one-column-per-region file when the user names none
QUALIFIER_SEPARATOR = ":"  # a label column such as resource_type splits a metric: "cpu:VM"

# ---- columns the readers recognise (case-insensitive, exact names) -----------------------------

REGION_COLUMN_NAMES = ("region", "region_name", "cloud_region", "location", "datacenter", "data_center", "dc",
                       "site", "zone", "area", "geo")
COUNTRY_AS_REGION_NAMES = ("country", "country_name")  # the region column when no region-named column exists
METRIC_COLUMN_NAMES = ("metric", "metric_name", "measure", "variable", "kpi", "resource")
VALUE_COLUMN_NAMES = ("value", "y", "usage", "demand", "load", "amount", "reading")
COUNTRY_COLUMN_NAMES = ("country", "country_code", "country_iso")
TIMEZONE_COLUMN_NAMES = ("timezone", "time_zone", "tz")
# Seconds from the start of a trace (0, 300, 600, ...) often come in columns with these names.
OFFSET_COLUMN_NAMES = ("offset", "offset_s", "offset_seconds", "seconds", "elapsed", "elapsed_s", "t")
IGNORED_COLUMN_NAMES = ("series_id", "unique_id", "unit", "units")  # derived or descriptive: never a metric split

# ---- reading limits -----------------------------------------------------------------------------

# Offsets from a trace start are read from this moment unless the caller passes another: a Monday at
# midnight, so weekdays and hours line up; its public holidays are not the trace's real ones.
TRACE_START = pd.Timestamp("2024-01-01 00:00")
MIN_TIMESTAMPS = 2  # a step needs two times; models need far more, the page says how many
MAX_SERIES = 500  # region x metric series in one file
MAX_GRID_POINTS = 5_000_000  # series x steps after missing intervals are filled in (a stray 1970 date explodes it)
MAX_STEP = pd.Timedelta(days=7)  # demand data is weekly or finer; monthly steps are not regular

# ---- generator ----------------------------------------------------------------------------------

DEFAULT_SEED = 17
GENERATOR_FREQS: dict[str, pd.Timedelta] = {"daily": pd.Timedelta(days=1), "hourly": pd.Timedelta(hours=1)}
GENERATOR_START: dict[str, pd.Timestamp] = {"daily": pd.Timestamp("2023-01-01"),
                                            "hourly": pd.Timestamp("2025-10-01", tz="UTC")}
GENERATOR_PERIODS: dict[str, int] = {"daily": 1096, "hourly": 90 * 24}  # 2023-2025 (2024 is a leap year); 90 days
DEFAULT_DATA_FILE = "cloud_demand_daily.csv"  # the bundled default data (generated daily, seed DEFAULT_SEED)
DEFAULT_CAPACITY_FILE = "cloud_demand_capacity.csv"
# Illustrative monthly prices of one unit of capacity (the capacity table's cost_per_unit_month).
UNIT_COST_MONTH: dict[str, float] = {"cpu": 22.0, "storage": 23.0, "users": 0.03}

# ---- help texts ---------------------------------------------------------------------------------

HELP = {
    "upload": "A CSV in one of three layouts: long (timestamp, region, metric, value); one column per metric "
              "(date, region, [resource_type,] usage_cpu, usage_storage, users_active); or one column per region "
              "(date, France, Germany, ...). Times may be ISO dates, day-first dates (31/12/2024), epoch seconds or "
              "seconds from a trace start (0, 300, 600, ...). Empty cells are missing data, never zero.",
    "metric": "The metric a one-column-per-region file measures (it has no metric column of its own).",
    "trace_start": "Times written as seconds from the start of a trace (0, 300, 600, ...) are read from this "
                   "moment. The default, 2024-01-01 00:00, is a Monday; holidays then fall on made-up dates.",
    "countries": "Each region's country decides its public holidays. It is guessed from the region's name "
                 "(France Central, eu-west-1, japaneast, ...); set a two-letter code (FR, DE, US) to correct it, "
                 "or 'none' for no holidays.",
    "capacity": "Installed capacity per region and metric: CPU in vCPUs (100 % utilisation = all of them), "
                "storage in TB, users as the number of active users the service is sized for.",
    "seed": "The generator's seed: the same seed gives the same data, to the last digit.",
}

# ---- analytics ----------------------------------------------------------------------------------

RECENT_DAYS = 30  # "recent" in the region comparison and utilisation: the last 30 days of each series
TREND_WINDOW_DAYS = 28  # trailing window of the trend line (four whole weeks, so weekdays weigh alike)
GROWTH_WINDOW_DAYS = 365  # the growth rate is fitted on at most the last year of daily values
GROWTH_MIN_DAYS = 14  # fewer daily values give no growth rate (a slope on a week is the weekly pattern)
YOY_DAYS = 28  # year-over-year compares the last 28 days with the same 28 days a year before
YEARLY_MIN_DAYS = 365  # a yearly profile needs a whole year of data
AT_RISK_LEVELS = ("high", "medium")  # plan risk levels counted as "regions at risk"

# ---- capacity planning --------------------------------------------------------------------------

PLAN_QUANTILE = 0.95  # the service level a plan covers by default: P95 demand
PLAN_HEADROOM = 0.2  # spare capacity kept above planned demand (0.2 = 20 %)
PLAN_LEAD_TIME_DAYS = 30  # days from an order to capacity that can take load
# Risk thresholds on peak utilisation = forecast demand (no headroom) / installed capacity.
RISK_HIGH = 0.95  # at or above: high
RISK_MEDIUM = 0.85  # at or above: medium
RISK_LOW = 0.25  # at or below: over-provisioned
CURRENCY_SYMBOL = "$"  # the currency of the capacity table's cost_per_unit_month, in recommendations
CAPACITY_HELP = {
    "quantile": "The demand level the plan covers: P95 means capacity runs short on about 1 interval in 20 if "
                "the forecast is calibrated.",
    "headroom": "Spare capacity kept above planned demand (20 % = buy 1.2 x the planned peak).",
    "lead_time": "Days between ordering capacity and being able to use it: the plan says to order this early.",
    "newsvendor": "Set the cost of one unit short and of one unit idle: the plan then covers the quantile "
                  "short / (short + idle), the level where one more unit costs as much as it saves.",
    "thresholds": "Peak utilisation (forecast demand without headroom / capacity) at or above 'high' or "
                  "'medium' is that risk; at or below 'low' the series is over-provisioned.",
}

# ---- backtest and model choice ----------------------------------------------------------------

# Models, simplest first (ties in the choice go to the simpler one). stats_mean is the mean of the
# ets, theta and arima forecasts; lightgbm, xgboost and lstm are global (one model across series).
LOCAL_MODELS = ("ets", "theta", "arima", "mstl", "prophet")
GLOBAL_MODELS = ("lightgbm", "xgboost", "lstm")
COMBINED_MODELS = ("stats_mean",)
BASELINE = "seasonal_naive"
ALL_MODELS = (BASELINE, *LOCAL_MODELS, *COMBINED_MODELS, *GLOBAL_MODELS)
DEFAULT_MODELS = (BASELINE, "ets", "theta", "arima", "mstl", "stats_mean", "prophet", "lightgbm")
MODEL_LABELS = {"seasonal_naive": "Seasonal naive", "ets": "ETS", "theta": "Theta", "arima": "ARIMA",
                "mstl": "MSTL", "stats_mean": "Mean of ETS/Theta/ARIMA", "prophet": "Prophet",
                "lightgbm": "LightGBM (global)", "xgboost": "XGBoost (global)", "lstm": "LSTM (global)"}
# A launch steps up the level of what is used (CPU, users); storage accumulates, so a launch changes its
# slope, not its level, and a level-step feature would rescale its whole curve (Japan storage: MASE 0.96 -> 2.73).
CUMULATIVE_METRICS = ("storage",)
DEFAULT_HORIZON = {"daily": 28, "hourly": 24}  # steps; other steps: a day of them, at least 7
# Windows are counted, with a floor in days so that short (hourly) windows still span two weeks: a week
# with a holiday in it would otherwise be the whole test.
SELECT_WINDOWS = (6, 14)  # (windows, days) before the test start on which the choice is made: the larger
DEFAULT_EVAL_WINDOWS = (6, 14)  # when no test start is given, the last windows scored: the larger
MAX_EVAL_WINDOWS = (13, 28)  # at most this many windows are scored from a test start: the larger
ENSEMBLE_SIZE = 3  # the ensemble: the mean of the best this many models on the selection windows
STRATEGIES = ("per_series", "global", "ensemble")
STRATEGY_LABELS = {"per_series": "Best model per series", "global": "One model for all series",
                   "ensemble": f"Mean of each series' best {ENSEMBLE_SIZE}"}
INTERVAL_LEVEL = 0.95  # the backtest's lo/hi
MIN_INTERVAL_SCORES = 20  # errors a window needs before it gets an interval
N_JOBS = 2  # local processes for per-series fits (one BLAS thread each)
# Metrics that add up across regions (a total is their sum); a percentage of each region's own capacity does not.
NON_ADDITIVE_UNITS = ("%",)
TOTAL_REGION = "All regions"

# ---- plan choices offered on the page ------------------------------------------------------------
PLAN_QUANTILES = (0.5, 0.8, 0.9, 0.95, 0.975, 0.99)  # service levels on the slider
# Planning horizons in days: hourly data spans about 90 days, and a plan looks at most a third of it ahead.
PLAN_HORIZONS_DAYS = {"daily": (30, 90, 180), "sub-daily": (7, 14, 30)}
