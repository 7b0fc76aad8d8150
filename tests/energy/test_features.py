import numpy as np
import pandas as pd
import pytest

from core.energy.features import (
    build_panel,
    rolling_mean_before,
    sequence_windows,
    tabular_features,
    target_cells,
)


def _panel(hours: int = 300):  # type: ignore[no-untyped-def]
    ts = pd.date_range("2026-01-01", periods=hours, freq="h", tz="UTC")
    # device 1 reads 1000+t, device 2 reads 5000+t: any mixing shows in the values
    readings = pd.concat([
        pd.DataFrame({"device_id": 1, "ts_utc": ts, "value": 1000.0 + np.arange(hours)}),
        pd.DataFrame({"device_id": 2, "ts_utc": ts, "value": 5000.0 + np.arange(hours)}),
    ])
    readings = readings[~((readings["device_id"] == 2) & (readings["ts_utc"] == ts[150]))]  # one gap
    devices = pd.DataFrame({"device_id": [1, 2], "timezone": ["America/New_York", "Europe/Berlin"],
                            "profile": ["residential", "commercial"], "base_load": [1.0, 5.0]})
    return build_panel(readings, devices)


def test_windows_never_span_two_devices() -> None:
    panel = _panel()
    d, h = target_cells(panel, min_history=48)
    seq, cal = sequence_windows(panel, d, h, 48)
    assert seq.shape == (len(d), 48) and cal.shape == (len(d), 48, 5)
    for row in range(len(d)):
        window = seq[row][~np.isnan(seq[row])]
        base = 1000.0 if d[row] == 0 else 5000.0
        assert ((window >= base) & (window < base + 1000)).all()
        # exactly the 48 hours before the target, in order
        expected = base + np.arange(h[row] - 48, h[row])
        ok = ~np.isnan(seq[row])
        assert np.array_equal(seq[row][ok], expected[ok])
    assert np.isnan(seq).any()  # the gap stays missing, never filled from the other device


def test_tabular_features_use_only_the_past() -> None:
    panel = _panel()
    d, h = np.array([0, 1]), np.array([200, 200])
    before, names = tabular_features(panel, d, h)
    panel.values[:, 200:] = -1.0  # the target and the future changed: features must not move
    after, _ = tabular_features(panel, d, h)
    assert np.array_equal(before, after, equal_nan=True)
    assert names[0] == "lag_1"
    assert before[0, 0] == pytest.approx((1000 + 199) / np.mean(1000 + np.arange(32, 200)))


def test_rolling_mean_before_excludes_the_current_hour() -> None:
    values = np.array([[1.0, 2.0, 3.0, 4.0, np.nan, 6.0]])
    out = rolling_mean_before(values, 2)
    assert np.isnan(out[0, :2]).all()
    assert out[0, 2] == 1.5 and out[0, 3] == 2.5 and out[0, 4] == 3.5 and out[0, 5] == 4.0


def test_calendar_is_local_time() -> None:
    panel = _panel()
    cal = panel.calendar()
    # 2026-01-01 00:00 UTC is 19:00 in New York and 01:00 in Berlin; Jan 1 is a holiday in both
    hour_ny = np.round(np.arctan2(cal[0, 0, 0], cal[0, 0, 1]) / (2 * np.pi) * 24) % 24
    hour_be = np.round(np.arctan2(cal[1, 0, 0], cal[1, 0, 1]) / (2 * np.pi) * 24) % 24
    assert (hour_ny, hour_be) == (19, 1)
    assert cal[1, 0, 4] == 1.0  # Neujahr in Berlin
    assert cal[0, 0, 4] == 0.0  # still Dec 31 in New York
