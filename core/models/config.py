"""Defaults, limits and words of the Models page and ``python -m core models``: one place, read by
the service, the widgets and the CLI, never restated as literals in the UI."""

from __future__ import annotations

# Metrics are flattened generically, whatever the domain: numeric leaves of nested dicts down to
# this depth become columns named like ``runtime.r2_log``; lists (per-stage breakdowns) and deeper
# dicts stay in the registry row, shown in full by ``models show``.
METRIC_DEPTH = 2
PARAM_DEPTH = 2
FINGERPRINT_CHARS = 12
BYTES_PER_MB = 1024 * 1024

# The table's fixed columns, in order, before the metric columns.
TABLE_COLUMNS = ("model_id", "domain", "algorithm", "name", "status", "created_at", "fingerprint",
                 "size_mb", "artifact_present")
# Labels and help texts the page shows for those columns (metric columns keep their names).
COLUMN_LABELS = {
    "model_id": ("Model id", "The registry id; the command line takes it (python -m core models show ID)."),
    "domain": ("Domain", "The page that trained the model."),
    "algorithm": ("Algorithm", None),
    "name": ("Name", "Models of one domain and name compete: deploying one puts the other back to trained."),
    "status": ("Status", "trained: kept, not in use · deployed: the one its page uses · retired: kept, out of use"),
    "created_at": ("Trained at (UTC)", None),
    "fingerprint": ("Data fingerprint", "Short hash of the training data: equal fingerprints, same data."),
    "size_mb": ("Size on disk (MB)", None),
    "artifact_present": ("Artifact on disk", "Unticked: the row is listed but its files are missing from "
                                             "this model store, so it cannot be loaded or deployed."),
}

EMPTY_STATE = "No models in the registry yet: train one on a domain page."
ALL_DOMAINS = "All domains"
METRICS_NOTE = ("Metric columns are the scores each model got on data held out from its training, named "
                "*target.metric* as its domain page recorded them (e.g. `runtime.r2_log`). A – means the "
                "model's domain does not report that score.")
DELETE_NOTE = ("Deleting removes the model's artifact files from the model store and its row from the "
               "registry. It cannot be undone.")
