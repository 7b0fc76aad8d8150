"""What a prediction run stores in an output table: its columns and their values, pure.

The SQL that writes them lives in ``core.storage.jobs_repo``; ``core.jobs.service`` joins the two.
"""

from __future__ import annotations

import pandas as pd

TEXT_COLUMNS = ("model_id", "platform", "block", "stage", "predicted_runtime", "predicted_memory",
                "memory_request", "runtime_upper")
NUMBER_COLUMNS = ("row", "quantile", "predicted_runtime_s", "predicted_memory_mb", "memory_request_mb",
                  "runtime_upper_s")


def output_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """Predictions in the output table's columns (the quantile-named columns renamed)."""
    frame = predictions.copy()
    for prefix in ("memory_request_p", "runtime_upper_p"):
        named = [c for c in frame.columns if str(c).startswith(prefix)]
        if named:
            frame[prefix[:-2]] = frame[named[0]]
    return frame[[c for c in (*TEXT_COLUMNS, *NUMBER_COLUMNS) if c in frame.columns]]


def output_records(predictions: pd.DataFrame) -> list[dict[str, object]]:
    """One dict per prediction: text columns as text, numbers as floats, missing values as None."""
    rows = output_rows(predictions)
    return [{str(k): (None if pd.isna(v) else (str(v) if k in TEXT_COLUMNS else float(v))) for k, v in rec.items()}
            for rec in rows.to_dict("records")]
