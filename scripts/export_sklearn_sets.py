"""Write scikit-learn's bundled breast cancer, diabetes and wine sets as CSV samples for the AutoML page.

They ship inside scikit-learn (no download), so exporting them is deterministic: the same files for the
same scikit-learn version. Classification targets are written as class names (``malignant`` /
``benign``, ``class_0`` ...), so nothing reads the class codes as numbers; diabetes keeps its raw
(unscaled) features, which a user can read (age in years, BMI).

    .venv/bin/python scripts/export_sklearn_sets.py [--out-dir data/automl]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

ROOT = Path(__file__).resolve().parent.parent


def sklearn_sets() -> dict[str, pd.DataFrame]:
    """File name -> frame with a ``target`` column, in a fixed column order."""
    out: dict[str, pd.DataFrame] = {}
    for name, loader in (("breast_cancer.csv", load_breast_cancer), ("wine.csv", load_wine)):
        bunch = loader(as_frame=True)
        frame = bunch.frame.copy()
        frame["target"] = [str(bunch.target_names[code]) for code in bunch.target]
        out[name] = frame
    diabetes = load_diabetes(as_frame=True, scaled=False)
    out["diabetes.csv"] = diabetes.frame.copy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "data" / "automl")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in sklearn_sets().items():
        path = args.out_dir / name
        frame.to_csv(path, index=False, lineterminator="\n")
        print(f"{path}: {len(frame)} rows, {frame.shape[1]} columns")


if __name__ == "__main__":
    main()
