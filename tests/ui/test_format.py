"""Table formats: fractions shown as percentages with one decimal, downloads untouched."""

from __future__ import annotations

import pandas as pd

from core.ui.format import column_formats, for_display


def test_percent_columns_are_scaled_and_shown_with_one_decimal() -> None:
    frame = pd.DataFrame({"coverage": [0.85, 0.9167], "rmse": [41.23, 45.0], "n": [10, 12]})
    shown = for_display(frame, {"coverage": "percent"})
    assert shown["coverage"].tolist() == [85.0, 91.67]
    assert frame["coverage"].tolist() == [0.85, 0.9167]  # the original (and its download) keeps fractions
    config = column_formats(frame, {"coverage": "percent"})
    assert config["coverage"]["type_config"]["format"] == "%.1f%%"
    assert config["rmse"]["type_config"]["format"] == "%.2f"
    assert "n" not in config
