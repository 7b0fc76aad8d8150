"""Reading user files robustly and writing safe exports."""

from core.io.csv_reader import parse_numeric, read_csv, require_numeric
from core.io.export import neutralise_formulas, safe_csv_bytes
from core.io.timestamps import detect_time_column, parse_timestamps

__all__ = [
    "read_csv",
    "require_numeric",
    "parse_numeric",
    "safe_csv_bytes",
    "neutralise_formulas",
    "parse_timestamps",
    "detect_time_column",
]
