"""The sample data sets the AutoML page offers beside an upload: real, public, each testing one part of
the flow. They live under ``<data_dir>/automl/`` (``Settings.data_dir``); the three scikit-learn sets
are written by ``scripts/export_sklearn_sets.py``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError

SAMPLES_DIR = "automl"


@dataclass(frozen=True)
class Sample:
    file: str
    title: str
    target: str  # the default target
    note: str  # where it comes from and what it holds
    tests: str  # what part of an AutoML flow it exercises


SAMPLES = (
    Sample("titanic.csv", "Titanic passengers", "Survived",
           "891 passengers of the Titanic (Kaggle/Stanford list, datasciencedojo/datasets)",
           "binary classification; ID-like columns (PassengerId an ID, Name free text, Ticket and Cabin high "
           "cardinality); missing ages and cabins"),
    Sample("penguins.csv", "Palmer penguins", "species",
           "344 penguins of three species on three islands (seaborn-data)",
           "multiclass classification, missing values, categoricals"),
    Sample("diamonds.csv", "Diamonds", "price",
           "53,940 diamonds with carat, cut, colour, clarity and size (ggplot2 via seaborn-data)",
           "regression on more than 30k rows, ordered categoricals (cut, color, clarity)"),
    Sample("taxis.csv", "NYC taxi trips, March 2019", "total",
           "6,433 trips with pickup/dropoff times, zones, fare, tip, tolls and total (seaborn-data); "
           "also try tip (regression) or payment (classification)",
           "datetimes and a time-ordered split; a leakage trap: total = fare + tip + tolls + surcharges"),
    Sample("mpg.csv", "Auto MPG", "mpg",
           "398 cars of 1970-82 with engine, weight and origin (UCI via seaborn-data)",
           "regression, missing horsepower, a free-text name (make and model)"),
    Sample("breast_cancer.csv", "Breast cancer (Wisconsin diagnostic)", "target",
           "569 tumours, 30 numeric measurements, malignant or benign (scikit-learn)",
           "binary classification with many correlated numeric features"),
    Sample("diabetes.csv", "Diabetes progression", "target",
           "442 patients, 10 baseline measurements (raw, unscaled), disease progression after a year "
           "(scikit-learn)",
           "regression on a small, noisy set: a model that beats the mean honestly is already good"),
    Sample("wine.csv", "Wine cultivars", "target",
           "178 wines from three cultivars, 13 chemical measurements (scikit-learn)",
           "multiclass classification on few rows"),
)


def sample_named(name: str) -> Sample:
    """A sample by file name or stem (``titanic.csv`` or ``titanic``)."""
    for sample in SAMPLES:
        if name in (sample.file, Path(sample.file).stem):
            return sample
    known = ", ".join(Path(s.file).stem for s in SAMPLES)
    raise InputError(f"there is no sample data set '{name}'; the samples are: {known}")


def sample_path(settings_data_dir: Path | str, name: str) -> Path:
    """Where a sample lives under the data directory. Only the listed names resolve, so a name can
    never reach another file."""
    sample = sample_named(name)
    return Path(settings_data_dir) / SAMPLES_DIR / sample.file
