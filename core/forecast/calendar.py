"""Calendar facts every model may read ahead of time: public holidays of a series' country, in its local time."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from core.errors import InputError


@lru_cache(maxsize=64)
def _holiday_dates(country: str, first_year: int, last_year: int) -> frozenset[object]:
    import holidays  # imported on first use: a few hundred country modules

    try:
        calendar = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    except NotImplementedError:
        raise InputError(f"no public-holiday calendar for country code '{country}' (use ISO codes like US, DE, FR)") \
            from None
    return frozenset(calendar.keys())


def holiday_flags(times: pd.DatetimeIndex, country: str) -> np.ndarray:
    """1.0 where the local calendar day of each time is a public holiday of ``country`` (ISO code), else 0.0."""
    if len(times) == 0:
        return np.zeros(0)
    days = times.tz_localize(None).normalize() if times.tz is not None else times.normalize()
    dates = _holiday_dates(country.upper(), int(days.year.min()), int(days.year.max()))
    return np.fromiter((d.date() in dates for d in days), dtype=float, count=len(days))
