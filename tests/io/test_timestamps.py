from __future__ import annotations

import pandas as pd
import pytest

from core.errors import InputError
from core.io import detect_time_column, parse_timestamps


def test_offsets_are_kept_not_shifted() -> None:
    ts = parse_timestamps(pd.Series(["1995-07-01 00:00:00-04:00", "1995-07-01 00:05:00-04:00"]))
    assert ts.iloc[0].hour == 0 and ts.iloc[0].utcoffset() == pd.Timedelta(hours=-4)


def test_epoch_seconds_and_milliseconds_are_utc() -> None:
    seconds = parse_timestamps(pd.Series([1_600_000_000, 1_600_000_300]))
    millis = parse_timestamps(pd.Series([1_600_000_000_000, 1_600_000_300_000]))
    assert seconds.iloc[0] == pd.Timestamp("2020-09-13 12:26:40", tz="UTC")
    assert (seconds == millis).all()


def test_mixed_offsets_are_converted_to_the_most_common_and_reported() -> None:
    ts = parse_timestamps(pd.Series(["2020-11-01 00:00-04:00", "2020-11-01 01:00-04:00", "2020-11-01 01:00-05:00"]))
    assert ts.iloc[2] == pd.Timestamp("2020-11-01 02:00-04:00")
    assert "1 of 3" in ts.attrs["tz_note"]


def test_offset_and_naive_mixed_is_refused() -> None:
    with pytest.raises(InputError, match="with and without"):
        parse_timestamps(pd.Series(["2020-11-01 00:00-04:00", "2020-11-01 01:00"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("01-Jan-22", "2022-01-01"), ("31-12-2011 01:00", "2011-12-31 01:00"), ("2011-12-31T01:00:00", "2011-12-31 01:00")],
)
def test_day_first_and_iso_forms(text: str, expected: str) -> None:
    assert parse_timestamps(pd.Series([text])).iloc[0] == pd.Timestamp(expected)


def test_unparseable_timestamp_names_the_row() -> None:
    with pytest.raises(InputError) as err:
        parse_timestamps(pd.Series(["2020-01-01", "yesterday"]), column="ts", file="f.csv")
    assert err.value.row == 3 and err.value.column == "ts"


def test_detect_time_column_by_name_and_content() -> None:
    assert detect_time_column(pd.DataFrame({"value": [1], "Timestamp": ["2020-01-01"]})) == "Timestamp"
    assert detect_time_column(pd.DataFrame({"when_it_was": ["2020-01-01 00:00"], "v": [1.0]})) == "when_it_was"
    assert detect_time_column(pd.DataFrame({"v": [1.0]})) is None


def test_web_server_log_time_as_in_the_nasa_logs() -> None:
    parsed = parse_timestamps(pd.Series(["01/Jul/1995:00:00:01 -0400", "13/Jul/1995:23:59:59 -0400"]))
    assert [str(t) for t in parsed] == ["1995-07-01 00:00:01-04:00", "1995-07-13 23:59:59-04:00"]


def test_month_first_dates_are_read_one_way_even_when_days_pass_12_late() -> None:
    """US dates whose day reaches 13 only after many rows: every row is month-first, not only
    those that cannot be read day-first."""
    text = ["07/01/1995 00:00"] * 600 + ["07/13/1995 00:05"]
    parsed = parse_timestamps(pd.Series(text))
    assert str(parsed.iloc[0]) == "1995-07-01 00:00:00" and str(parsed.iloc[-1]) == "1995-07-13 00:05:00"


@pytest.mark.parametrize(("values", "expected"), [
    (["199507010000", "199507010005"], "1995-07-01 00:05:00"),  # compact minutes, not 1976 in ms
    (["19950701000001", "19950701000501"], "1995-07-01 00:05:01"),
    (["804571201000", "804571501000"], "1995-07-01 04:05:01+00:00"),  # a real epoch in ms stays one
])
def test_compact_digits_and_epochs_are_told_apart(values: list[str], expected: str) -> None:
    assert str(parse_timestamps(pd.Series(values)).iloc[-1]) == expected


def test_a_log_time_column_with_an_unusual_name_is_detected_by_its_content() -> None:
    frame = pd.DataFrame({"host": ["a", "b"], "when_it_was": ["01/Jul/1995:00:00:01 -0400", "01/Jul/1995:00:05:01 -0400"],
                          "hits": [1, 2]})
    assert detect_time_column(frame) == "when_it_was"
