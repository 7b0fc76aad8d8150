"""Defaults, limits and words of the Models page and ``python -m core models``: one place, read by
the service, the widgets and the CLI, never restated as literals in the UI."""

from __future__ import annotations

# Metrics are flattened generically, whatever the domain: numeric leaves of nested dicts down to
# this depth become columns named like ``runtime.r2_log``; lists (per-stage breakdowns) and deeper
# dicts stay in the registry row, shown in full by ``models show``.
METRIC_DEPTH = 2
PARAM_DEPTH = 2
FINGERPRINT_CHARS = 12

# The table's fixed columns, in order, before the metric columns.
TABLE_COLUMNS = ("model_id", "domain", "algorithm", "name", "status", "created_at", "fingerprint",
                 "size_mb", "artifact_present")
# Labels and help texts the page shows for those columns (metric columns keep their names).
COLUMN_LABELS = {
    "model_id": ("Model id", "The registry id; the command line takes it (python -m core models show ID). "
                             "AutoML: the job's id, as on the AutoML page."),
    "domain": ("Domain", "The page that trained the model."),
    "algorithm": ("Algorithm", None),
    "name": ("Name", "Models of one domain and name compete: deploying one puts the other back to trained. "
                     "AutoML: the job's name (its jobs do not compete)."),
    "status": ("Status", "trained: kept, not in use · deployed: in use by its page (one per domain and name; "
                         "AutoML may have several jobs deployed at once) · retired: kept, out of use"),
    "created_at": ("Trained at (UTC)", None),
    "fingerprint": ("Data fingerprint", "Short hash of the training data: equal fingerprints, same data."),
    "size_mb": ("Size on disk (MB)", None),
    "artifact_present": ("Artifact on disk", "Unticked: the row is listed but its files are missing from "
                                             "this model store, so it cannot be loaded or deployed."),
}

EMPTY_STATE = ("No models in the registry yet. The Demand, Energy and Jobs pages save the models they train "
               "here, and so does every finished job on the AutoML page.")
ALL_DOMAINS = "All domains"
METRICS_NOTE = ("Metric columns are the scores each model got on data held out from its training, named "
                "*target.metric* as its domain page recorded them (e.g. `runtime.r2_log`); an AutoML model's "
                "are its scores on its job's test rows (e.g. `accuracy`, `rmse`). A – means the model's domain "
                "does not report that score.")
DELETE_NOTE = ("Deleting removes the model's artifact files from the model store and its row from the "
               "registry. It cannot be undone.")

# AutoML keeps its own job registry (one model per finished job); the Models page lists those models
# beside the registry's under this domain key, and acts on them through the AutoML job registry.
AUTOML_DOMAIN = "automl"
# Test scores of the default LightGBM recorded beside the winner's (``default_rmse``): a baseline, not
# this model's score, so they are no metric columns (``models show`` keeps them).
AUTOML_BASELINE_PREFIX = "default_"
AUTOML_UNREADABLE = ("AutoML models are not listed: the AutoML job registry could not be read ({reason}). "
                     "Models of the other domains are listed below.")
DEPLOY_HELP = "Make it the model its page uses; the one deployed before goes back to trained."
RETIRE_HELP = "Take it out of use but keep it listed; it can be deployed again."
DELETE_DEPLOYED = "Yes, delete {model_id} although it is deployed: its domain will have no deployed model."
AUTOML_DEPLOY_HELP = ("Let the AutoML page predict with it; only a model whose ONNX export reproduced it can be "
                      "deployed. Other deployed AutoML models stay deployed.")
AUTOML_RETIRE_HELP = ("Undeploy it: the AutoML page stops predicting with it. It stays listed and can be "
                      "deployed again (AutoML models have no retired state).")
AUTOML_RETIRE_LABEL = "Undeploy"
AUTOML_DELETE_NOTE = ("Deleting an AutoML model deletes its job: the row, the trained model and its exported "
                      "files. It cannot be undone.")
AUTOML_DELETE_DEPLOYED = ("Yes, delete {model_id} although it is deployed: the AutoML page will no longer "
                          "predict with it.")
