"""One CSV reader for every upload, file and CLI input.

It accepts what people actually export: UTF-8 with or without BOM, Latin-1,
CRLF, ``,`` ``;`` tab or ``|`` delimiters, decimal commas, thousands
separators, and "n/a"-style missing values. It refuses, with a message naming
the file (and column/row where there is one), empty files, header-only files,
binary files, files with no usable columns, ragged rows, and more rows than the
configured limit. Columns whose every non-missing value is a number come back
numeric; everything else stays text for the domain to interpret.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from core.errors import InputError

CsvSource = str | Path | bytes | BinaryIO

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"})
_DELIMITERS = [",", ";", "\t", "|"]
_SNIFF_BYTES = 64 * 1024
# A number written with a decimal comma, optionally with '.' or space thousands groups.
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}([. \u00a0]\d{3})+|\d+),\d+$")
_NUMBER_DOT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?$")


@dataclass
class CsvInfo:
    """How a file was read; attached to the frame as ``df.attrs['csv']``."""

    name: str
    encoding: str
    delimiter: str
    rows: int
    decimal_comma_columns: list[str] = field(default_factory=list)


def _read_bytes(source: CsvSource) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, "upload"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise InputError("file not found", file=str(path))
        if path.is_dir():
            raise InputError("is a folder, not a CSV file", file=str(path))
        return path.read_bytes(), path.name
    data = source.read()
    name = getattr(source, "name", "upload")
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data, str(name)


def _decode(data: bytes, name: str) -> tuple[str, str]:
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return data.decode("utf-16"), "utf-16"
            except UnicodeDecodeError:
                pass
        raise InputError("is not a CSV text file (it contains binary data)", file=name)
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        # Latin-1 decodes anything; control characters betray a binary file.
        controls = sum(1 for ch in text[:_SNIFF_BYTES] if ord(ch) < 32 and ch not in "\r\n\t")
        if controls > 0.01 * min(len(text), _SNIFF_BYTES):
            raise InputError("is not a CSV text file (it looks binary)", file=name) from None
        return text, "latin-1"


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text[:_SNIFF_BYTES].splitlines() if ln.strip()][:50]
    header = lines[0]
    best, best_score = ",", -1.0
    for delim in _DELIMITERS:
        counts = [len(next(csv.reader([ln], delimiter=delim))) for ln in lines]
        width = counts[0]
        if width < 2:
            continue
        consistent = sum(1 for c in counts if c == width) / len(counts)
        score = consistent * 10 + min(width, 50) / 50
        if score > best_score:
            best, best_score = delim, score
    if best_score < 0 and header.count(",") == 0:
        return ","  # a single-column file
    return best


def _is_missing(values: pd.Series) -> pd.Series:
    return values.isna() | values.astype(str).str.strip().str.lower().isin(MISSING_TOKENS)


def parse_numeric(values: pd.Series, *, decimal_comma: bool = False) -> tuple[pd.Series, pd.Series]:
    """Parse text to float. Returns (numbers, bad) where ``bad`` marks cells that are
    neither a number nor a missing token. Missing cells become NaN and are not bad."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float), pd.Series(False, index=values.index)
    text = values.astype("string").str.strip()
    missing = _is_missing(values)
    cleaned = text.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    if decimal_comma:
        cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        # Only a well-formed thousands grouping ("1,234.5") loses its commas; "1,2" stays bad.
        grouped = cleaned.str.fullmatch(_NUMBER_DOT.pattern).fillna(False).astype(bool)
        cleaned = cleaned.where(~grouped, cleaned.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(cleaned.where(~missing), errors="coerce").astype(float)
    bad = numbers.isna() & ~missing
    return numbers, bad


def _column_is_decimal_comma(text: pd.Series) -> bool:
    present = text[~_is_missing(text)].astype(str).str.strip()
    if present.empty:
        return False
    return bool(present.str.fullmatch(_DECIMAL_COMMA.pattern).any()) and bool(
        present.str.fullmatch(r"[+-]?[\d., \u00a0]+").all()
    )


def require_numeric(df: pd.DataFrame, column: str, *, file: str | None = None) -> pd.Series:
    """Return ``df[column]`` as floats or raise InputError naming the first bad row."""
    if column not in df.columns:
        raise InputError(f"has no column '{column}' (columns: {', '.join(map(str, df.columns))})", file=file)
    decimal_comma = column in df.attrs.get("csv", CsvInfo("", "", ",", 0)).decimal_comma_columns
    numbers, bad = parse_numeric(df[column], decimal_comma=decimal_comma)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"'{df[column].iloc[first]}' is not a number ({int(bad.sum())} such cells)",
            file=file or df.attrs.get("csv", CsvInfo("", "", ",", 0)).name or None,
            column=str(column),
            row=first + 2,
        )
    return numbers


def read_csv(source: CsvSource, *, name: str | None = None, max_rows: int | None = None) -> pd.DataFrame:
    """Read a CSV from a path, bytes or a file object into a DataFrame.

    Text columns stay as strings (stripped, missing tokens kept as written);
    columns where every present value is numeric are converted to float.
    ``df.attrs['csv']`` holds a :class:`CsvInfo` describing how it was read.
    """
    data, default_name = _read_bytes(source)
    name = name or default_name
    if not data.strip():
        raise InputError("is empty", file=name)
    text, encoding = _decode(data, name)
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise InputError("is empty", file=name)
    delimiter = _sniff_delimiter(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            nrows=None if max_rows is None else max_rows + 1,
            on_bad_lines="error",
            engine="c",
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        row = int(match.group(1)) if match else None
        raise InputError(f"rows have different numbers of fields ({exc})".split("\n")[0], file=name, row=row) from None
    except pd.errors.EmptyDataError:
        raise InputError("is empty", file=name) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    usable = [c for c in frame.columns if c and not c.startswith("Unnamed:")]
    if not usable:
        raise InputError("has no named columns in its header", file=name)
    frame = frame[usable]
    if frame.empty:
        raise InputError("has a header but no data rows", file=name)
    if max_rows is not None and len(frame) > max_rows:
        raise InputError(f"has more than {max_rows:,} rows, the limit for one upload", file=name)
    frame = frame.apply(lambda col: col.str.strip())
    comma_cols: list[str] = []
    for column in frame.columns:
        raw = frame[column]
        decimal_comma = delimiter != "," and _column_is_decimal_comma(raw)
        numbers, bad = parse_numeric(raw, decimal_comma=decimal_comma)
        if not bad.any() and numbers.notna().any():
            frame[column] = numbers
            if decimal_comma:
                comma_cols.append(column)
    frame.attrs["csv"] = CsvInfo(name, encoding, delimiter, len(frame), comma_cols)
    return frame
