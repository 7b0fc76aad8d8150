"""Number formatting shared by the pages."""

from __future__ import annotations

import math


def number(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, or "n/a" when it is missing or not finite (an R² of runs
    that all took the same time, a ratio whose baseline was exact)."""
    return format(value, spec) if value is not None and math.isfinite(value) else "n/a"
