"""Runtime and memory parsers: every accepted format, and malformed cells reported, not guessed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.jobs.parsing import format_memory, format_runtime, parse_memory, parse_runtime


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:00:16", 16), ("01:25:38", 5138), ("25:00:00", 90000), ("12:30.5", 750.5), ("00:07.25", 7.25),
        ("1-02:03:04", 93784), ("0-00:00:01", 1), ("42", 42), ("3.5", 3.5), (" 00:01:00 ", 60),
        ("01:02:03.5", 3723.5),
        # Units, as tools and scripts print them, and Python/pandas timedeltas written as text.
        ("62.5s", 62.5), ("1h2m3s", 3723), ("1h 2m 3s", 3723), ("5 min", 300), ("250ms", 0.25),
        ("2 hours 30 minutes", 9000), ("1.5h", 5400), ("3 days, 2:03:04", 266584),
        ("0 days 00:01:02.500000", 62.5), ("1 day, 0:00:00", 86400),
    ],
)
def test_runtime_formats(text: str, seconds: float) -> None:
    values, bad = parse_runtime(pd.Series([text]))
    assert not bad.iloc[0]
    assert values.iloc[0] == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["25:61:00", "-1", "abc", "10:00:60", "1-25:00:00", "1:2:3", "12,301.5", "1h 1h",
                                  "5 mins ago", "3 days, 25:00:00", "-5s"])
def test_malformed_runtime_is_bad(text: str) -> None:
    values, bad = parse_runtime(pd.Series(["00:00:01", text]))
    assert bad.tolist() == [False, True]
    assert math.isnan(values.iloc[1])


def test_runtime_numbers_and_missing() -> None:
    values, bad = parse_runtime(pd.Series([12.0, np.nan, -3.0, ""], dtype=object))
    assert values.iloc[0] == 12.0
    assert bad.tolist() == [False, False, True, False]  # empty is missing, not bad
    assert values.iloc[[1, 3]].isna().all()


@pytest.mark.parametrize(
    ("text", "mb"),
    [
        ("252.1M", 252.1), ("512.3MB", 512.3), ("512.3MiB", 512.3), ("2G", 2048), ("1.5GiB", 1536),
        ("2048K", 2), ("1024KB", 1), ("1T", 1024**2), ("3g", 3072), ("100 M", 100), ("1048576B", 1),
    ],
)
def test_memory_units(text: str, mb: float) -> None:
    values, bad = parse_memory(pd.Series([text]))
    assert not bad.iloc[0]
    assert values.iloc[0] == pytest.approx(mb)


@pytest.mark.parametrize(("unit", "mb"), [("M", 512.0), ("K", 0.5), ("G", 512 * 1024.0)])
def test_plain_memory_numbers_use_the_chosen_unit(unit: str, mb: float) -> None:
    values, bad = parse_memory(pd.Series(["512"]), plain_unit=unit)
    assert not bad.any()
    assert values.iloc[0] == pytest.approx(mb)
    numeric, _ = parse_memory(pd.Series([512.0]), plain_unit=unit)
    assert numeric.iloc[0] == pytest.approx(mb)


@pytest.mark.parametrize("text", ["12,301.5M", "-1", "abc", "5X", "M", "1.2.3M", "-5M"])
def test_malformed_memory_is_bad(text: str) -> None:
    values, bad = parse_memory(pd.Series([text, "1M"]))
    assert bad.tolist() == [True, False]
    assert math.isnan(values.iloc[0])


def test_memory_unknown_plain_unit_refused() -> None:
    with pytest.raises(ValueError):
        parse_memory(pd.Series(["1"]), plain_unit="X")


def test_formatters_round_trip() -> None:
    assert format_runtime(5138) == "01:25:38"
    assert format_runtime(90061.4) == "25:01:01"
    assert format_runtime(float("nan")) == ""
    assert format_memory(512.34) == "512.3M"
    values, _ = parse_runtime(pd.Series([format_runtime(3723)]))
    assert values.iloc[0] == 3723
