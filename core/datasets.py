"""The bundled data sets: what they are and a summary the overview and `info` show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.io import parse_timestamps, read_csv


@dataclass(frozen=True)
class BundledDataset:
    file: str
    title: str
    time_column: str
    used_by: str
    source: str


BUNDLED = (
    BundledDataset(
        "nasa_http_5m.csv",
        "NASA Kennedy Space Center web traffic, requests per 5 minutes",
        "timestamp",
        "Traffic & Autoscaling",
        "public NASA-HTTP access logs, Jul/Aug 1995, aggregated",
    ),
    BundledDataset(
        "eda_stage_runs.csv",
        "OpenROAD flow stage runtime and peak memory logs",
        "run_date",
        "Job Runtime & Memory",
        "OpenROAD-flow-scripts published per-design metadata, 2021-05 to 2024-06",
    ),
    BundledDataset(
        "cloud_demand_daily.csv",
        "Regional cloud demand (CPU %, storage TB, active users), 6 regions, daily",
        "date",
        "Cloud Demand & Capacity (default data)",
        "generated: python -m core demand generate (seed 17), documented in docs/demand.md",
    ),
    BundledDataset(
        "cloud_demand_capacity.csv",
        "Installed capacity and monthly unit cost per region and metric (for the generated data)",
        "",
        "Cloud Demand & Capacity (default capacity)",
        "generated with the demand data",
    ),
    BundledDataset(
        "cloud_demand_launches.csv",
        "Product launches per region (a known level step from a date)",
        "date",
        "Cloud Demand & Capacity (launch feature)",
        "generated with the demand data",
    ),
    BundledDataset(
        "pjm_daily_load.csv",
        "PJM daily electricity load of two zones (AEP, DAYTON), MW",
        "date",
        "Cloud Demand & Capacity (benchmark: real daily load)",
        "PJM hourly zone loads as published (Kaggle 'Hourly Energy Consumption'), daily means, 2004-2018",
    ),
    BundledDataset(
        "azure_usage_sample.csv",
        "Regional cloud usage, format sample (simulated values)",
        "date",
        "Cloud Demand & Capacity (format tests only)",
        "cloud-demand reference system sample format",
    ),
    # AutoML samples (core/automl/samples.py lists their targets and what each tests).
    BundledDataset("automl/titanic.csv", "Titanic passengers (target Survived)", "", "AutoML (sample)",
                   "Kaggle/Stanford Titanic passenger list, as in datasciencedojo/datasets"),
    BundledDataset("automl/penguins.csv", "Palmer penguins (target species)", "", "AutoML (sample)",
                   "mwaskom/seaborn-data"),
    BundledDataset("automl/diamonds.csv", "Diamonds (target price)", "", "AutoML (sample)",
                   "ggplot2 diamonds, via mwaskom/seaborn-data"),
    BundledDataset("automl/taxis.csv", "NYC taxi trips, March 2019 (target total, tip or payment)", "pickup",
                   "AutoML (sample)", "mwaskom/seaborn-data"),
    BundledDataset("automl/mpg.csv", "Auto MPG (target mpg)", "", "AutoML (sample)",
                   "UCI Auto MPG, via mwaskom/seaborn-data"),
    BundledDataset("automl/breast_cancer.csv", "Breast cancer, Wisconsin diagnostic (target: malignant/benign)", "",
                   "AutoML (sample)", "scikit-learn, written by scripts/export_sklearn_sets.py"),
    BundledDataset("automl/diabetes.csv", "Diabetes progression (target)", "", "AutoML (sample)",
                   "scikit-learn (raw features), written by scripts/export_sklearn_sets.py"),
    BundledDataset("automl/wine.csv", "Wine cultivars (target: class)", "", "AutoML (sample)",
                   "scikit-learn, written by scripts/export_sklearn_sets.py"),
)


@dataclass(frozen=True)
class DatasetSummary:
    file: str
    title: str
    rows: int
    columns: int
    size_kb: float
    start: str
    end: str
    used_by: str
    source: str


def summarize_bundled(data_dir: Path) -> list[DatasetSummary]:
    """Rows, size and date range of each bundled file present in ``data_dir``."""
    out = []
    for item in BUNDLED:
        path = Path(data_dir) / item.file
        if not path.exists():
            continue
        frame = read_csv(path)
        stamps = (parse_timestamps(frame[item.time_column], column=item.time_column, file=item.file)
                  if item.time_column else pd.Series(pd.NaT, index=frame.index[:0]))
        out.append(
            DatasetSummary(
                file=item.file,
                title=item.title,
                rows=len(frame),
                columns=frame.shape[1],
                size_kb=round(path.stat().st_size / 1024, 1),
                start=str(stamps.min()) if len(stamps) else "",
                end=str(stamps.max()) if len(stamps) else "",
                used_by=item.used_by,
                source=item.source,
            )
        )
    return out
