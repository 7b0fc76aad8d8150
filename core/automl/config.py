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
EXPORT_MIN_SECONDS = 1.0  # ONNX conversion + parity of an ensemble, with the converters already imported

# --- Detection: problem type (the reference's table) and column roles -------------------------------------
# A target is classification when it is not numeric, or integer-valued with at most this many classes,
# or integer-valued with fewer than CLASS_MAX_UNIQUE values that are also under CLASS_MAX_UNIQUE_RATIO of
# the rows. Decimal values (35.5, 40.2) are continuous: regression, however few they are.
CLASS_MAX_INTEGER_UNIQUE = 10
CLASS_MAX_UNIQUE = 20
CLASS_MAX_UNIQUE_RATIO = 0.05
# Fewest rows with a target that a job accepts (5-fold CV plus a held-out test split need some rows).
MIN_ROWS = 20
# ID: a name whose token is one of these (``customer_id``, ``PassengerId``, ``uuid``; not ``user_valid``,
# ``idle_time``, ``paid``) and at least this share of distinct values among the present ones ...
ID_NAME_TOKENS = ("id", "ids", "uuid", "guid", "key", "index", "idx", "pk")
ID_MIN_UNIQUE_RATIO = 0.5
# ... or, whatever the name, integers covering a consecutive range once each (a row number) or strings
# different in every row, in at least ID_MIN_ROWS rows. Names with a time or quantity meaning
# (``year`` 1950..2020, one row a year) are never IDs by this second rule.
ID_MIN_ROWS = 20
ID_NEVER_TOKENS = ("year", "yr", "month", "week", "day", "hour", "minute", "second", "time", "date",
                   "period", "age", "step", "epoch", "count", "size")
# Datetime: at least this share of the present text values parse as dates (plain numbers never do).
DATETIME_MIN_SHARE = 0.95
DATETIME_SAMPLE = 2_000
# High cardinality: more than MAX_CATEGORIES distinct strings making up more than this share of the rows.
HIGH_CARDINALITY_RATIO = 0.5
# Free text: high-cardinality strings of at least this many words on average whose words recur across rows
# (distinct words at most this share of all words), so token counts carry a pattern whole values do not
# (titanic ``Name``: titles Mr/Mrs/Miss; mpg ``name``: the make).
TEXT_MIN_WORDS = 2.0
TEXT_MAX_VOCABULARY_RATIO = 0.5

# --- EDA report ---------------------------------------------------------------------------------------------
# Associations and correlations are computed on a deterministic sample of at most this many rows.
EDA_SAMPLE_ROWS = 50_000
EDA_HISTOGRAM_BINS = 20
EDA_TOP_VALUES = 10
# Numeric columns with at most this many distinct values are shown as counts per value, not a histogram.
EDA_DISCRETE_MAX_UNIQUE = 20
# Most numeric columns in the correlation matrix (the first ones in frame order).
EDA_MAX_CORRELATION_COLUMNS = 30
# Warnings: missing share above, |skewness| above, minority class share below.
WARN_MISSING_SHARE = 0.2
WARN_SKEW = 2.0
WARN_MINORITY_SHARE = 0.1

# --- Leakage scan -------------------------------------------------------------------------------------------
# One single-column shallow tree per model column, cross-validated on a sample; a column is flagged when that
# alone scores near-perfectly or it is a near-copy of the target.
LEAKAGE_SAMPLE_ROWS = 20_000
LEAKAGE_FOLDS = 3
LEAKAGE_TREE_DEPTH = 6
LEAKAGE_MIN_LEAF = 5
LEAKAGE_AUC = 0.99
LEAKAGE_R2 = 0.98
# Near-copy: with a numeric target, |Pearson| or |Spearman| (or η, the correlation ratio, for a column of
# few values) at least this; with classes, a column of at most MAX_CATEGORIES values each of which goes
# with one class in at least this share of its rows.
LEAKAGE_NEAR_COPY = 0.995

# ONNX export: ONNX Runtime computes in float32, so it must reproduce the pipeline on the kept test rows
# within these (class probabilities: max absolute difference; regression: this share of the target's sd).
PARITY_PROBA_TOLERANCE = 1e-5
PARITY_REGRESSION_RELATIVE = 1e-4

# Drift of a prediction batch against the training reference: population stability index per column over
# DRIFT_BINS quantile bins of the reference (numeric) or the kept categories (+ OTHER and MISSING);
# shares are floored at DRIFT_EPSILON so an empty bin does not make the index infinite.
DRIFT_BINS = 10
DRIFT_EPSILON = 1e-4
DRIFT_MODERATE_PSI = 0.10  # below: stable
DRIFT_MAJOR_PSI = 0.25  # at or above: major drift
DRIFT_STABLE = "stable"
DRIFT_MODERATE = "moderate"
DRIFT_MAJOR = "major"
DRIFT_NOT_MEASURED = "not measured"

# --- Search, budget and training (core/automl/search.py, budget.py, training.py) --------------------------
# Share of the budget kept back from the search for picking the winner, the test scores and the importance
# (besides REFIT_RESERVE_SHARE and EXPORT_RESERVE_SHARE above).
SCORING_RESERVE_SHARE = 0.05
# The search stops starting trials this long before its deadline; the kill only cuts a trial still running.
SEARCH_SOFT_MARGIN_SECONDS = 0.5
# A refit starts only if its estimate (the trial's fit time per fold, scaled to all training rows) times
# this factor fits in the time left; otherwise a cheaper finalist, then the default LightGBM, is refitted.
REFIT_SAFETY = 1.5
# Seconds per row x column for a default LightGBM (100 trees) on one thread, a generous guess (measured
# 3e-6 on diamonds on a busy 2-core machine): plans the search's start and a refit the search did not time.
LGBM_SECONDS_PER_CELL = 4e-6
# When the default LightGBM's cross-validation would take more than this share of the search time, FLAML's
# climb from 4 trees cannot reach models of its size in time: LightGBM's search starts at its defaults.
DEFAULT_START_SHARE = 0.05
# Cross-validation: CV_FOLDS folds up to CV_REDUCED_ROWS training rows, CV_REDUCED_FOLDS up to
# CV_HOLDOUT_ROWS, one holdout of HOLDOUT_SHARE above (in time order when a time column is set).
CV_REDUCED_ROWS = 20_000
CV_REDUCED_FOLDS = 3
CV_HOLDOUT_ROWS = 100_000
HOLDOUT_SHARE = 0.2
# Small data: the folds are repeated with other shuffles (CV_REPEATS times, up to CV_REPEAT_ROWS training rows),
# so that picking the best of hundreds of trials does not mostly pick one split's luck.
CV_REPEATS = 3
CV_REPEAT_ROWS = 2_000
# Metrics the search minimises: log loss for classification, RMSE for regression.
CLASSIFICATION_METRIC = "log_loss"
REGRESSION_METRIC = "rmse"
# Class imbalance: below this minority share the search also tries balanced sample weights (a searched switch,
# kept only where it lowers the cross-validated log loss).
IMBALANCE_SHARE = 0.2
# The ensemble averages the out-of-fold predictions of the best 2 .. ENSEMBLE_MAX_MEMBERS distinct models.
ENSEMBLE_MAX_MEMBERS = 3
# Only a blend of a candidate with the default LightGBM can replace the default (search.finalists); the default's
# share of the blend's average.
BLEND_DEFAULT_SHARE = 0.5
# Permutation importance on at most this many test rows and this many repeats, within the time left.
IMPORTANCE_ROWS = 2_000
IMPORTANCE_REPEATS = 5
# Accounting identity (regression): the target equals a signed sum of at most LEAKAGE_IDENTITY_TERMS numeric
# columns plus one of LEAKAGE_IDENTITY_OFFSETS fixed amounts in at least LEAKAGE_IDENTITY_SHARE of rows
# (taxis: tip = total - fare - tolls - a surcharge). Single-column scores miss this; the columns are
# flagged together. The LEAKAGE_IDENTITY_COLUMNS numeric columns most correlated with the target are tried.
LEAKAGE_IDENTITY_TERMS = 3
LEAKAGE_IDENTITY_OFFSETS = 5
LEAKAGE_IDENTITY_SHARE = 0.9
LEAKAGE_IDENTITY_COLUMNS = 10
# The default LightGBM is kept unless a blend's cross-validated loss is lower by more than this many
# standard errors of the paired per-fold differences (a one-standard-error rule against lucky winners; the
# error corrected for overlapping folds, search.corrected_standard_error).
DEFAULT_MARGIN_SE = 1.0
