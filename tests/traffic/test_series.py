import io

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.io import read_csv
from core.traffic.series import (
    BurstRule,
    available_frequencies,
    detect_bursts,
    flag_columns,
    hour_weekday_table,
    load_series,
    long_zero_runs,
    summary,
)
from tests.traffic.synthetic import daily_traffic


def _csv(text: str) -> pd.DataFrame:
    return read_csv(io.BytesIO(text.encode()), name="t.csv")


def test_outage_rows_stay_missing_and_partial_bins_are_flagged():
    df = daily_traffic(days=2)
    df.loc[10:15, "request_count"] = np.nan  # six 5-minute rows lost
    s = load_series(df, "15m")
    assert s.y.isna().sum() == 1  # rows 12..14 form one empty 15-minute bin
    assert s.partial.sum() == 2  # bins 9-11 and 15-17 lost some rows
    assert s.usable().sum() == len(s.y) - 3
    assert (s.y.dropna() > 0).all()


def test_missing_rows_in_the_file_become_missing_intervals_not_zero():
    df = daily_traffic(days=1).drop(index=range(20, 30))
    s = load_series(df, "5m")
    assert len(s.y) == 288 and s.y.isna().sum() == 10
    assert any("no data" in note for note in s.notes)


def test_reference_format_loads_as_is():
    text = "timestamp,requests_count,is_burst,is_event\n" + "\n".join(
        f"2024-01-01T00:{m:02d}:00Z,{100 + m},0,0" for m in range(0, 60, 5))
    s = load_series(_csv(text), "5m")
    assert s.y.iloc[0] == 100 and str(s.y.index.tz) == "UTC"
    assert list(s.extra.columns) == ["is_burst", "is_event"]  # kept to be shown, never a model input


def test_epoch_seconds_and_unsorted_duplicates():
    base = 1_700_000_000 - 1_700_000_000 % 300
    rows = [(base + 300 * i, 10 + i) for i in range(12)]
    rows = rows[::-1] + [(base, 5)]
    text = "ts,count\n" + "\n".join(f"{t},{v}" for t, v in rows)
    s = load_series(_csv(text), "5m")
    assert s.y.iloc[0] == 15  # the duplicate row was summed
    assert any("sorted" in n for n in s.notes) and any("duplicated" in n for n in s.notes)


def test_granularity_cannot_be_finer_than_the_data():
    s = load_series(daily_traffic(days=1), "1h")
    assert len(s.y) == 24
    with pytest.raises(InputError, match="cannot be shown at 1m"):
        load_series(daily_traffic(days=1), "1m")
    assert available_frequencies(pd.Timedelta("5min")) == ["5m", "15m", "1h"]


@pytest.mark.parametrize("text, message", [
    ("timestamp,requests\n2024-01-01 00:00,1\n", "at least 3"),
    ("timestamp,requests\n" + "".join(f"2024-01-01 00:0{i},-{i}\n" for i in range(5)), "cannot be negative"),
    ("timestamp,requests\n" + "".join(f"2024-01-01 00:0{i},n/a x\n" for i in range(5)), "not a number"),
    ("when,label\n" + "".join(f"2024-01-01 00:0{i},a\n" for i in range(5)), "no request-count column"),
])
def test_bad_input_is_named(text, message):
    with pytest.raises(InputError, match=message):
        load_series(_csv(text), "5m")


def test_bursts_use_only_the_past():
    y = pd.Series(100.0, index=pd.date_range("2024-01-01", periods=100, freq="5min"))
    y.iloc[60] = 1000
    flags = detect_bursts(y, BurstRule(window=12, k=4))
    assert flags.iloc[60] and flags.sum() == 1
    # Changing the future cannot change a past flag.
    y2 = y.copy()
    y2.iloc[70:] = 5000
    assert detect_bursts(y2, BurstRule(window=12, k=4)).iloc[:70].equals(flags.iloc[:70])


def test_summary_and_heat_map():
    s = load_series(daily_traffic(days=7), "1h")
    stats = summary(s)
    assert stats.peak == s.y.max() and stats.mean <= stats.p95 <= stats.peak
    assert stats.busiest_hour in range(12, 18)  # the synthetic cycle peaks mid-afternoon
    table = hour_weekday_table(s.y)
    assert table.shape == (7, 24) and list(table.index[:2]) == ["Mon", "Tue"]


def test_the_count_column_cannot_be_the_timestamp_column():
    with pytest.raises(InputError, match="count column cannot be the timestamp"):
        load_series(daily_traffic(days=2), "5m", time_col="timestamp", value_col="timestamp")


def test_the_burst_rule_names_its_window_in_hours():
    assert "(2 h)" in BurstRule(window=24).describe(pd.Timedelta("5min"))
    assert "(30 min)" in BurstRule(window=6).describe(pd.Timedelta("5min"))


def test_marker_columns_are_found_but_outage_flags_are_not():
    extra = pd.DataFrame(columns=["is_event", "is_burst", "maintenance_flag", "is_outage", "status_2xx", "bytes"])
    assert flag_columns(extra) == ["is_event", "is_burst", "maintenance_flag"]


# ---------------------------------------------------------------------------------------------- zero runs


def _zeroed(df: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    stamps = pd.to_datetime(df["timestamp"])
    out = df.copy()
    out.loc[(stamps >= pd.Timestamp(start, tz=stamps.dt.tz)) & (stamps < pd.Timestamp(end, tz=stamps.dt.tz)),
            "request_count"] = 0
    return out


def _night_zeros(days: int = 10) -> pd.DataFrame:
    """A small service: no requests at all from 01:00 to 04:00 every night (one night until 05:30)."""
    df = daily_traffic(days=days)
    hours = pd.to_datetime(df["timestamp"]).dt.hour + pd.to_datetime(df["timestamp"]).dt.minute / 60
    df.loc[(hours >= 1) & (hours < 4), "request_count"] = 0
    return _zeroed(df, "2024-03-06 04:00", "2024-03-06 05:30")


def test_a_three_day_run_of_zeros_is_a_suspected_collection_gap_and_stays_missing():
    df = _zeroed(daily_traffic(days=10), "2024-03-07 13:35", "2024-03-10 13:35")
    s = load_series(df, "5m")
    assert s.y.isna().sum() == 3 * 288 and (s.y.dropna() > 0).all()
    note = next(n for n in s.notes if "collection gap" in n)
    assert "2024-03-07 13:35" in note and "864 intervals" in note and "treated as missing" in note
    hourly = load_series(df, "1h")
    # 13:35 on the 7th to 13:30 on the 10th: 71 whole hours missing, the two hours it cuts are partial.
    assert hourly.y.isna().sum() == 71 and hourly.partial.sum() == 2
    kept = load_series(df, "5m", zero_runs_as_traffic=True)  # the override
    assert kept.y.isna().sum() == 0 and (kept.y == 0).sum() == 3 * 288
    assert any("kept as traffic" in n for n in kept.notes)


def test_night_zeros_are_quiet_spells_not_gaps():
    quiet = _night_zeros()
    s = load_series(quiet, "5m")
    assert s.y.isna().sum() == 0 and not any("collection gap" in n for n in s.notes)
    assert long_zero_runs(s.y) == []
    # A three-day run is still flagged beside the nightly 3-hour (and one 4.5-hour) quiet spells.
    gap = load_series(_zeroed(quiet, "2024-03-08 06:00", "2024-03-11 06:00"), "5m")
    (run,) = long_zero_runs(_counts(_zeroed(quiet, "2024-03-08 06:00", "2024-03-11 06:00")))
    assert run.intervals == 3 * 288 and run.longest_other == 54  # 01:00 .. 05:30 on the 6th
    assert gap.y.isna().sum() == 3 * 288


def _counts(df: pd.DataFrame) -> pd.Series:
    from core.traffic.series import load_counts

    return load_counts(df)[0]


def test_the_nasa_log_gap_would_be_flagged_if_it_were_zeros():
    from tests.support import ROOT

    nasa = read_csv(ROOT / "data" / "nasa_http_5m.csv")
    stamps = pd.to_datetime(nasa["timestamp"])
    july = (nasa["is_outage"] == 1) & (stamps.dt.month == 7)
    assert july.sum() == 989 and nasa.loc[july, "request_count"].isna().all()  # the corrected file
    as_before = nasa.assign(request_count=nasa["request_count"].mask(july, 0))  # the earlier copy had zeros
    (run,) = long_zero_runs(_counts(as_before))
    assert (str(run.start), str(run.end)) == ("1995-07-28 13:35:00-04:00", "1995-07-31 23:55:00-04:00")
    assert run.intervals == 989 and run.longest_other == 8
