import numpy as np
import pandas as pd

from core.energy.generator import DeviceSpec, generate, generate_frame

SPEC = DeviceSpec(1, "Europe/Berlin", 10.0, "commercial", 1234)
HOURS = pd.date_range("2026-12-20", periods=24 * 14, freq="h", tz="UTC")


def test_deterministic_and_any_hour_alone_matches_the_range() -> None:
    values = generate(SPEC, HOURS)
    assert np.array_equal(values, generate(SPEC, HOURS))
    for i in (0, 37, 200, len(HOURS) - 1):
        assert generate(SPEC, HOURS[i:i + 1])[0] == values[i]
    other = generate(DeviceSpec(1, "Europe/Berlin", 10.0, "commercial", 99), HOURS)
    assert not np.allclose(values, other)


def test_shape_is_in_local_time_with_holidays_and_positive() -> None:
    values = pd.Series(generate(SPEC, HOURS), index=HOURS.tz_convert("Europe/Berlin"))
    assert (values >= 0).all()
    workday = values["2026-12-22"]  # a Tuesday
    assert workday.between_time("10:00", "14:00").mean() > 2 * workday.between_time("01:00", "04:00").mean()
    christmas = values["2026-12-25"]  # a Friday and a German public holiday: offices closed
    assert christmas.between_time("10:00", "14:00").mean() < 0.6 * workday.between_time("10:00", "14:00").mean()


def test_frame_is_hourly_utc_per_device() -> None:
    specs = [SPEC, DeviceSpec(2, "America/New_York", 3.0, "residential", 7)]
    frame = generate_frame(specs, HOURS[0], HOURS[24])
    assert len(frame) == 48
    assert str(frame["ts_utc"].dt.tz) == "UTC"
    assert frame.groupby("device_id")["ts_utc"].apply(lambda s: s.diff().dropna().eq(pd.Timedelta("1h")).all()).all()
