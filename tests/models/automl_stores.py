"""Real AutoML jobs beside the model registry on one database, for the Models tests: finished jobs are
recorded with ``JobRegistry.mark_done`` as the worker does, with a small logistic regression trained in
this process (no worker, no search: well under a second)."""

from __future__ import annotations

from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sqlalchemy import text

from core.automl import config as automl_config
from core.automl.artifact import TrainSpec
from core.automl.jobs import JobRegistry
from core.ml.registry import ModelRegistry
from core.storage import create_db_engine
from tests.automl.trained_models import ROLES, pipeline_for, tiny_frame, trained_model
from tests.models.conftest import SeededRegistry, seed


def _spec() -> TrainSpec:
    return TrainSpec(target="y", task=automl_config.CLASSIFICATION, roles=dict(ROLES), budget_seconds=30.0,
                     time_col="seen_at")


def done_job(jobs: JobRegistry, name: str, *, exportable: bool = True) -> str:
    """A finished AutoML job with its model saved, as the worker leaves one (exportable or refused)."""
    frame = tiny_frame(task=automl_config.CLASSIFICATION)
    dataset = jobs.store_dataset(frame, "tiny.csv")
    job_id = jobs.submit(dataset.dataset_id, _spec(), name)
    assert jobs.mark_running(job_id, "test-worker")
    model = trained_model(frame, automl_config.CLASSIFICATION,
                          lambda schema: pipeline_for(schema, "linear", LogisticRegression()), algorithm="logistic")
    model.test_scores["default_accuracy"] = 0.5  # the default LightGBM's score, recorded beside the winner's
    model.exportable = exportable
    model.parity = {"ok": exportable}
    assert jobs.mark_done(job_id, model, export_reason=None if exportable else "no ONNX converter for this learner")
    return job_id


class Stores:
    """The model registry (seeded with three models of two domains) and AutoML jobs on one database."""

    def __init__(self, url: str, model_dir: Path) -> None:
        engine = create_db_engine(url)
        self.engine = engine
        self.seeded: SeededRegistry = seed(ModelRegistry(engine, model_dir))
        self.registry = self.seeded.registry
        self.jobs = JobRegistry(engine, model_dir)
        self.refused = done_job(self.jobs, "refused export", exportable=False)
        self.job = done_job(self.jobs, "churn")  # the newest model of all
        self.queued = self.jobs.submit(self.jobs.list_datasets()[0].dataset_id, _spec(), "still queued")

    def break_automl_table(self) -> None:
        """Schema drift: a column the AutoML registry reads is gone (create_all does not repair it)."""
        with self.engine.begin() as conn:
            conn.execute(text("ALTER TABLE automl_jobs RENAME COLUMN metrics TO metrics_before"))
