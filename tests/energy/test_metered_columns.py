"""Reading a metered CSV whose columns are not named: which is the time, the load, the meter."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.energy.backtest import guess_columns, metered_readings


def _hourly(meters: dict[str, float], days: int = 3) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=24 * days, freq="h").strftime("%Y-%m-%d %H:%M")
    parts = [pd.DataFrame({"when": stamps, "site": name, "kw": scale * (1 + np.arange(len(stamps)) % 24)})
             for name, scale in meters.items()]
    return pd.concat(parts, ignore_index=True).sort_values("when", kind="stable").reset_index(drop=True)


def test_meters_sharing_timestamps_are_kept_apart() -> None:
    frame = _hourly({"north": 1.0, "south": 10.0})
    assert guess_columns(frame) == ("when", "kw", "site")
    readings, devices, notes = metered_readings(frame)
    assert list(devices["name"]) == ["north", "south"]
    # Each meter keeps its own load: averaging the two would give 5.5× north's values.
    per_meter = readings.groupby("device_id")["value"].max()
    assert per_meter.tolist() == [24.0, 240.0]
    assert any("'site'" in n for n in notes)


def test_one_meter_file_is_one_device_and_a_descriptive_column_is_not_a_meter() -> None:
    frame = _hourly({"north": 1.0}).assign(site="north", note=lambda f: np.where(f.index % 2, "peak", "off"))
    assert guess_columns(frame)[2] is None
    _, devices, notes = metered_readings(frame, value_col="kw")
    assert len(devices) == 1 and notes == []


def test_numeric_meter_ids_are_named_as_integers_and_single_meter_is_honoured() -> None:
    frame = _hourly({"101": 1.0, "202": 2.0}).rename(columns={"site": "meter_id"})
    frame["meter_id"] = frame["meter_id"].astype(float)
    _, devices, _ = metered_readings(frame, value_col="kw")
    assert list(devices["name"]) == ["101", "202"]
    readings, devices, notes = metered_readings(frame, value_col="kw", detect_device=False)
    assert len(devices) == 1 and any("repeated a meter and timestamp" in n for n in notes)
    assert len(readings) == 72
