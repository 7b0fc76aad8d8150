"""Reading user files robustly and writing safe exports."""

from core.io.csv_reader import read_csv, require_numeric, parse_numeric
from core.io.export import safe_csv_bytes, neutralise_formulas
from core.io.timestamps import parse_timestamps, detect_time_column

__all__ = [
    "read_csv",
    "require_numeric",
    "parse_numeric",
    "safe_csv_bytes",
    "neutralise_formulas",
    "parse_timestamps",
    "detect_time_column",
]
