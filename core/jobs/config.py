"""Defaults, limits and help texts of the Job Runtime & Memory page: one place, read by the
widgets and the page (and patched by tests), never restated as literals in the UI."""

from __future__ import annotations

from core.jobs.evaluation import DEFAULT_QUANTILE, QUANTILES
from core.jobs.parsing import DEFAULT_MEMORY_UNIT
from core.jobs.training import TrainConfig

# What the page trains with; the algorithms multiselect starts on ``TRAIN_CONFIG.algorithms``.
TRAIN_CONFIG = TrainConfig()
# Trained results kept per process (by data fingerprint + settings), bounded by count and memory,
# so a shared app does not grow with every file its users upload.
TRAINED_RESULTS_MAX_ITEMS = 4
TRAINED_RESULTS_MAX_MB = 256.0
# Models loaded for prediction, per process.
LOADED_MODELS_MAX = 4
# Rows read from a database table: a cached read lives this long.
TABLE_CACHE_SECONDS = 300
TABLE_CACHE_ENTRIES = 4
ROW_LIMIT_STEP = 1000

REQUEST_QUANTILES = QUANTILES
DEFAULT_REQUEST_QUANTILE = DEFAULT_QUANTILE
MEMORY_UNIT_DEFAULT = DEFAULT_MEMORY_UNIT
MEMORY_UNIT_LABELS = {"B": "bytes", "K": "KB", "M": "MB", "G": "GB", "T": "TB"}

DEFAULT_OUTPUT_TABLE = "job_predictions"
# The model offered first after a training run: LightGBM meets the request target in the
# benchmarks (docs/jobs.md), as the ensemble now does with adaptive requests (the network does not),
# and it trains in seconds without TensorFlow.
PREFERRED_ALGORITHM = "lightgbm"

ROLE_HELP = {
    "block": "design / block name",
    "stage": "flow stage",
    "runtime": "wall time (HH:MM:SS, MM:SS.ss, D-HH:MM:SS, 1h 2m 3s or seconds)",
    "memory": "peak memory (512.3M, 2GiB, or a plain number)",
    "cpu_time": "CPU time (optional; its history is a feature)",
    "run_date": "when the run started",
    "platform": "process platform / PDK (optional key)",
    "run_id": "run identifier (optional)",
}

# The unit of each target's absolute errors (the runs are parsed to seconds and MB).
TARGET_UNITS = {"runtime": "s", "memory": "MB"}
UNIT_WORDS = {"s": "seconds", "MB": "MB"}

# Score columns as the page names them; "{unit}" is the target's unit, so no MAE appears without one.
SCORE_LABELS = {
    "algorithm": "model", "n": "runs", "r2_log": "R² (log)", "r2": "R²", "mae": "MAE ({unit})", "mape": "MAPE",
    "calibration": "calibration",
    **{f"under_q{q}": f"runs above q{q} request" for q in (90, 95, 99)},
    **{f"over_q{q}": f"over-provision at q{q}" for q in (90, 95, 99)},
    "quantile": "request quantile", "under_rate": "runs above the request", "over_provision": "over-provision",
}
# Shown in the main score tables (in this order, where present); the other score columns (requests
# at 95% and 99%) sit in an expander and in the downloads, so the tables fit a 1400 px window.
SCORE_COLUMNS_SHOWN = ("algorithm", "n", "r2_log", "r2", "mae", "mape", "calibration", "under_q90", "over_q90")
# Per stage or per history basis the key column takes room: raw R² and over-provision go to the download.
BREAKDOWN_COLUMNS_SHOWN = ("stage", "history", "algorithm", "n", "r2_log", "mae", "mape", "calibration", "under_q90")
# The models table: these columns first; every column under "All columns" and in the download.
# (Newest first; when each was trained is in its id and under "All columns".)
MODEL_COLUMNS_SHOWN = ("model_id", "algorithm", "status", "runtime_r2_log", "runtime_mae", "memory_r2_log",
                       "memory_mae")
TRAINED_AT_FORMAT = "YYYY-MM-DD HH:mm"
MODEL_LABELS = {"model_id": "model", "created_at": "trained at"}
DEPLOYED_MARK = "deployed ✓"
STATUS_HELP = ("deployed ✓: the jobs model in use by default (one at a time, set with Deploy); "
               "trained: kept in the registry, not in use unless picked.")

# Number formats by raw score name: rates as percentages, ratios with a "×".
SCORE_FORMATS = {
    "r2_log": "%.3f", "r2": "%.3f", "mae": "%.1f", "mape": "percent", "calibration": "%.2f×",
    **{f"under_q{q}": "percent" for q in (90, 95, 99)},
    **{f"over_q{q}": "%.2f×" for q in (90, 95, 99)},
    "under_rate": "percent", "over_provision": "%.2f×", "quantile": "percent",
}
# One line each, shown as the "?" of cards and column headers.
_UNDER = ("Share of held-out runs that used more than the {q}% request (prediction × its margin): "
          "about {r}% is on target; more means runs killed or queued.")
_OVER = "Median request ÷ actual at the {q}% request: 1.30× means a typical run is given 30% more than it used."
SCORE_HELP = {
    "n": "Held-out runs scored (the latest runs, never seen in training).",
    "r2_log": "R² of log(1 + value) on held-out runs: small and large runs count alike (1 = perfect, 0 = the mean).",
    "r2": "R² of the raw values on held-out runs: dominated by the largest runs.",
    "mae": "Mean absolute error on held-out runs, in seconds (runtime) or MB (memory); lower is better.",
    "mape": "Mean absolute error as a share of the actual value (denominators floored at 1 s or 1 MB).",
    "calibration": "90th percentile of actual ÷ predicted on held-out runs, at least 1: the factor a "
                   "prediction needs so 9 runs in 10 fit (1.00× = predictions already high enough).",
    **{f"under_q{q}": _UNDER.format(q=q, r=100 - q) for q in (90, 95, 99)},
    **{f"over_q{q}": _OVER.format(q=q) for q in (90, 95, 99)},
    "quantile": ("The share of runs the request aims to cover. Request = prediction × the actual/predicted ratio "
                 "that covered this share of held-out runs with as much history, × a margin that follows recent "
                 "runs: each finished run above its request widens it, each run within it narrows it a little, so "
                 "about this share stays covered when tools drift. New runs get the margin reached on the latest "
                 "known runs."),
    "under_rate": "Share of held-out runs that used more than the request.",
    "over_provision": "Median request ÷ actual: what the safety margin costs.",
}
# How a caption names a score when the baseline beats the model on it.
SCORE_WORDS = {"r2_log": "R² on the log scale", "r2": "R²", "mae": "MAE", "mape": "MAPE"}
