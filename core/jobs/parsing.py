"""Parsers and formatters for job runtimes and memory sizes.

Runtime accepts ``HH:MM:SS`` (hours may exceed 23), ``MM:SS(.ss)``, ``D-HH:MM:SS``
(Slurm style), ``3 days, 02:03:04`` (Python and pandas timedeltas as text), numbers with
units (``62.5s``, ``1h 2m 3s``, ``5 min``, ``250ms``) and plain seconds. Memory accepts a
number with a K/M/G/T unit, with or without ``B``/``iB`` (all binary multiples, as schedulers
such as Slurm count them), or a plain number in a unit the user chooses. Results are in
seconds and MB.

Every parser returns ``(values, bad)``: ``bad`` marks cells that are present but not a
valid value (they are reported and excluded, never guessed); missing cells are NaN
and not bad, so the caller decides whether a missing value is acceptable.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from core.io.csv_reader import MISSING_TOKENS

# Units a plain memory number can be in, as MB multipliers.
MEMORY_UNITS: dict[str, float] = {"B": 1.0 / 1024**2, "K": 1.0 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2}
DEFAULT_MEMORY_UNIT = "M"

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_HMS = re.compile(rf"^(\d+):(\d{{2}}):({_NUMBER})$")
_DHMS = re.compile(rf"^(\d+)-(\d{{1,2}}):(\d{{2}}):({_NUMBER})$")
_MS = re.compile(rf"^(\d+):({_NUMBER})$")
_PLAIN = re.compile(rf"^{_NUMBER}(?:[eE][+-]?\d+)?$")
_DAYS_HMS = re.compile(rf"^(\d+) days?,? (\d+):(\d{{2}}):({_NUMBER})$")
# Longer unit names first, so "ms" and "min" are not read as "m".
_DURATION_UNITS = {"ms": 0.001, "msec": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
                   "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
                   "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
                   "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
                   "d": 86400.0, "day": 86400.0, "days": 86400.0}
_UNIT = "|".join(sorted(_DURATION_UNITS, key=len, reverse=True))
_DURATION_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})(?![a-z])")
_DURATION = re.compile(rf"^(?:{_NUMBER}\s*(?:{_UNIT})(?![a-z])[\s,]*)+$")
_MEMORY = re.compile(rf"^({_NUMBER})\s*([KMGTkmgt])?(?:i?[Bb])?$")
_BYTES = re.compile(rf"^({_NUMBER})\s*[Bb]$")


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip().lower() in MISSING_TOKENS


def _runtime_seconds(value: object) -> float | None:
    """Seconds for one present cell, or None when it is not a valid duration."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) and number >= 0 else None
    text = str(value).strip()
    if _PLAIN.match(text):
        return float(text)
    match = _DHMS.match(text) or _DAYS_HMS.match(text)
    if match:
        days, hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3]), float(match[4])
        if hours >= 24 or minutes >= 60 or seconds >= 60:
            return None
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    match = _HMS.match(text)
    if match:
        hours, minutes, seconds = int(match[1]), int(match[2]), float(match[3])
        if minutes >= 60 or seconds >= 60:
            return None
        return hours * 3600 + minutes * 60 + seconds
    match = _MS.match(text)
    if match:
        minutes, seconds = int(match[1]), float(match[2])
        if seconds >= 60:
            return None
        return minutes * 60 + seconds
    lowered = text.lower()
    if _DURATION.match(lowered):
        parts = _DURATION_PART.findall(lowered)
        units = [unit for _, unit in parts]
        # Each unit once ("1h 1h" is a typo, not two hours).
        if len({_DURATION_UNITS[u] for u in units}) == len(units):
            return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    return None


def _memory_mb(value: object, plain_unit: str) -> float | None:
    """MB for one present cell, or None when it is not a valid size."""
    scale = MEMORY_UNITS[plain_unit]
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
        return number * scale if math.isfinite(number) and number >= 0 else None
    text = str(value).strip()
    if _PLAIN.match(text):
        return float(text) * scale
    match = _BYTES.match(text)
    if match:
        return float(match[1]) * MEMORY_UNITS["B"]
    match = _MEMORY.match(text)
    if match:
        unit = (match[2] or plain_unit).upper()
        return float(match[1]) * MEMORY_UNITS[unit]
    return None


def _parse(values: pd.Series, one) -> tuple[pd.Series, pd.Series]:  # type: ignore[no-untyped-def]
    out = np.full(len(values), np.nan)
    bad = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values.tolist()):
        if _is_missing(value):
            continue
        parsed = one(value)
        if parsed is None:
            bad[i] = True
        else:
            out[i] = parsed
    return pd.Series(out, index=values.index, name=values.name), pd.Series(bad, index=values.index)


def parse_runtime(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Durations to seconds. Returns (seconds, bad); missing cells are NaN and not bad."""
    return _parse(values, _runtime_seconds)


def parse_memory(values: pd.Series, *, plain_unit: str = DEFAULT_MEMORY_UNIT) -> tuple[pd.Series, pd.Series]:
    """Memory sizes to MB; unit-less numbers are in ``plain_unit`` (B, K, M, G or T)."""
    if plain_unit not in MEMORY_UNITS:
        raise ValueError(f"plain_unit must be one of {', '.join(MEMORY_UNITS)}")
    return _parse(values, lambda v: _memory_mb(v, plain_unit))


def format_runtime(seconds: float) -> str:
    """Seconds as ``HH:MM:SS`` (hours grow past 24); empty for NaN."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    total = int(round(max(seconds, 0.0)))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def format_memory(mb: float) -> str:
    """MB as ``512.3M`` (the format the flow logs use); empty for NaN."""
    if mb is None or not math.isfinite(mb):
        return ""
    return f"{max(mb, 0.0):.1f}M"
