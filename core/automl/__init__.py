"""AutoML: any CSV to an EDA report, a leaderboard under a hard time budget, a deployed model,
predictions and an ONNX export.

Modules, in the order a job meets them:

- ``config``      roles, budget table, thresholds and help texts (one place, read by widgets and tests)
- ``detection``   problem type and column roles, each with the reason a user reads
- ``eda``         the EDA report (a dict of tables and figures, and one standalone HTML file)
- ``leakage``     columns that predict the target almost perfectly on their own
- ``schema``      the pinned input schema of a trained model (``Schema``): what predict checks against
- ``features``    raw frame -> model frame (datetime parts, hashed text, category sentinels) and the
                  in-fold preprocessors (one-hot for linear models, ordinal codes for trees)
- ``search``      the FLAML search with cross-validated scores, a default LightGBM as a standing
                  candidate, an ensemble of the best models, and the choice: only a blend with the
                  default LightGBM that beats it by more than the folds' noise replaces it
- ``budget``      the hard wall-time limit: the search runs in a subprocess killed at its deadline;
                  the ledger of seconds per phase
- ``training``    one whole job: split, search, refit, test score, importance -> ``TrainedModel``
- ``export``      joblib and ONNX export, and the parity check that gates deploy
- ``predict``     schema checks, single and batch predictions, the drift report
- ``jobs``        the job registry (datasets, jobs, deploy, tags, notes) on ``core.storage.automl_repo``
- ``worker``      the background worker that runs queued jobs
- ``service``     the facade pages, CLI and tests call
- ``cli``         ``python -m core automl train|predict``
"""
