"""Defaults, limits, thresholds and help texts of the AutoML page: one place, read by the core, the
widgets and the tests, never restated as literals elsewhere."""

from __future__ import annotations

# Column roles. The model sees FEATURE (numeric or categorical by its values), DATETIME (expanded into
# parts) and TEXT (hashed token counts); every other role is left out of the model.
TARGET = "target"
FEATURE = "feature"
ID = "id"
CONSTANT = "constant"
HIGH_CARDINALITY = "high_cardinality"
DATETIME = "datetime"
TEXT = "text"
DROP = "drop"
ROLES = (FEATURE, ID, CONSTANT, HIGH_CARDINALITY, DATETIME, TEXT, DROP, TARGET)
MODEL_ROLES = (FEATURE, DATETIME, TEXT)
ROLE_HELP = {
    FEATURE: "used by the model (numeric or categorical from its values)",
    ID: "an identifier: unique per row, carries no pattern; left out",
    CONSTANT: "one value (or all missing); left out",
    HIGH_CARDINALITY: "a categorical with too many values to learn from; left out",
    DATETIME: "a date or time: expanded into year, month, day of week, hour, … and a trend",
    TEXT: "free text: hashed into token-count features",
    DROP: "left out by choice",
    TARGET: "what the model predicts",
}

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)

# The reference's automatic budget from the row count: (rows below, seconds).
BUDGET_TABLE = ((1_000, 120), (10_000, 300), (50_000, 600))
BUDGET_ABOVE = 1_200
MIN_BUDGET_SECONDS = 5
MAX_BUDGET_SECONDS = 3_600
# Total wall time may exceed the budget by at most this share (search, refit and export included).
BUDGET_TOLERANCE = 0.10

# Categorical handling: at most this many categories per column are kept (the most frequent); rarer and
# unseen ones become OTHER, missing ones MISSING (strings: ONNX cannot take a string NaN).
MAX_CATEGORIES = 50
OTHER = "__other__"
MISSING = "__missing__"
# Free text is hashed into this many token-count columns.
TEXT_HASH_BUCKETS = 16
# Parts a datetime column is expanded into (plus a day count from 1970 for the trend).
DATETIME_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "hour")

# Held-out test split (the last rows in time order when a time column is set; else stratified random).
TEST_SHARE = 0.2
CV_FOLDS = 5
DEFAULT_SEED = 0
# Raw test rows kept with a trained model, for the ONNX parity check that gates deploy.
KEPT_TEST_ROWS = 2_000
# Shares of the budget kept back from the search for the final refit and for the export (ONNX + parity).
REFIT_RESERVE_SHARE = 0.15
EXPORT_RESERVE_SHARE = 0.08
