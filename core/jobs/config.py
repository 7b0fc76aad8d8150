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
# benchmarks (docs/jobs.md), the ensemble and the network do not.
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

# Score columns of the jobs tables: rates as percentages, ratios with a "×".
SCORE_FORMATS = {
    **{name: "%.3f" for name in ("R² (log)", "R²", "r2_log", "r2")},
    **{name: "percent" for name in ("MAPE", "mape", "under_rate")},
    **{f"under_q{q}": "percent" for q in (90, 95, 99)},
    **{f"over_q{q}": "%.2f×" for q in (90, 95, 99)},
    "over_provision": "%.2f×", "calibration": "%.2f×", "quantile": "percent", "MAE": "%.1f", "mae": "%.1f",
}
# The model registry table prefixes each score with its target.
MODEL_TABLE_FORMATS = {f"{target}_{name}": spec for target in ("runtime", "memory")
                       for name, spec in SCORE_FORMATS.items()}
