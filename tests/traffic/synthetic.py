"""Small synthetic traffic traces for fast tests (imported by the traffic tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def daily_traffic(days: int = 6, freq: str = "5min", seed: int = 0, tz: str = "-04:00") -> pd.DataFrame:
    """Counts with a daily cycle, a weekday effect and Poisson noise, in the NASA CSV's shape."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-03-04", periods=int(days * pd.Timedelta("1D") / pd.Timedelta(freq)), freq=freq,
                          tz=tz)
    hours = index.hour + index.minute / 60
    level = 120 + 90 * np.sin(2 * np.pi * (hours - 9) / 24) + 15 * (index.day_of_week < 5)
    counts = rng.poisson(np.maximum(level, 5) * pd.Timedelta(freq) / pd.Timedelta("5min"))
    return pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S%z").str.replace(r"(\d\d)(\d\d)$", r"\1:\2",
                                                                                        regex=True),
                         "request_count": counts})
