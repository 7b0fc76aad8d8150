"""The bad-input cases from DESIGN.md that apply to reading CSV files."""

from __future__ import annotations

import io

import numpy as np
import pytest

from core.errors import InputError
from core.io import read_csv, require_numeric


def test_plain_utf8_numeric_columns_become_numbers() -> None:
    df = read_csv(b"ts,value\n2020-01-01,1.5\n2020-01-02,2\n", name="a.csv")
    assert df["value"].tolist() == [1.5, 2.0]
    assert df["ts"].tolist() == ["2020-01-01", "2020-01-02"]


def test_utf8_bom_is_stripped_from_the_first_header() -> None:
    df = read_csv("\ufefftimestamp,value\n2020-01-01,3\n".encode("utf-8"))
    assert list(df.columns) == ["timestamp", "value"]


def test_latin1_text_is_decoded() -> None:
    df = read_csv("site,value\nZürich,1\nKöln,2\n".encode("latin-1"))
    assert df["site"].tolist() == ["Zürich", "Köln"]
    assert df.attrs["csv"].encoding == "latin-1"


def test_crlf_line_endings() -> None:
    df = read_csv(b"a,b\r\n1,2\r\n3,4\r\n")
    assert df["b"].tolist() == [2.0, 4.0]


def test_semicolons_and_decimal_commas() -> None:
    df = read_csv(b"date;load\n2020-01-01;1,5\n2020-01-02;1.234,25\n")
    assert df["load"].tolist() == [1.5, 1234.25]
    assert df.attrs["csv"].delimiter == ";"


def test_tab_delimited() -> None:
    df = read_csv(b"a\tb\n1\t2\n")
    assert df["a"].tolist() == [1.0]


def test_thousands_separator_and_missing_tokens() -> None:
    df = read_csv(b'ts,requests\n1,"1,234"\n2,n/a\n3,\n4,7\n')
    values = df["requests"]
    assert values.iloc[0] == 1234.0
    assert np.isnan(values.iloc[1]) and np.isnan(values.iloc[2])
    assert values.iloc[3] == 7.0


def test_non_numeric_cell_is_reported_with_file_column_and_row() -> None:
    df = read_csv(b"ts,requests\n1,5\n2,abc\n3,7\n", name="load.csv")
    assert df["requests"].dtype == object or str(df["requests"].dtype) == "str"
    with pytest.raises(InputError) as err:
        require_numeric(df, "requests", file="load.csv")
    assert err.value.message == "file 'load.csv', column 'requests', row 3: 'abc' is not a number (1 such cells)"
    assert (err.value.column, err.value.row) == ("requests", 3)


def test_negative_numbers_parse() -> None:
    assert read_csv(b"v\n-3\n4\n")["v"].tolist() == [-3.0, 4.0]


@pytest.mark.parametrize("payload", [b"", b"   \n\n"])
def test_empty_file_is_refused(payload: bytes) -> None:
    with pytest.raises(InputError, match="'empty.csv': is empty"):
        read_csv(payload, name="empty.csv")


def test_header_only_is_refused() -> None:
    with pytest.raises(InputError, match="header but no data rows"):
        read_csv(b"timestamp,value\n", name="h.csv")


def test_binary_file_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(InputError, match="not a CSV text file"):
        read_csv(png, name="image.png")


def test_no_named_columns_is_refused() -> None:
    with pytest.raises(InputError, match="no named columns"):
        read_csv(b",\n1,2\n", name="x.csv")


def test_row_limit_is_enforced_without_reading_everything() -> None:
    rows = "\n".join(f"{i},{i}" for i in range(101))
    with pytest.raises(InputError, match="more than 100 rows"):
        read_csv(("a,b\n" + rows).encode(), name="big.csv", max_rows=100)
    assert len(read_csv(("a,b\n" + rows).encode(), max_rows=101)) == 101


def test_ragged_rows_name_the_line() -> None:
    with pytest.raises(InputError) as err:
        read_csv(b"a,b\n1,2\n3,4,5\n", name="r.csv")
    assert err.value.row == 3


def test_file_objects_and_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert read_csv(path).attrs["csv"].name == "f.csv"
    assert read_csv(io.BytesIO(b"a,b\n1,2\n"))["a"].tolist() == [1.0]
    with pytest.raises(InputError, match="file not found"):
        read_csv(tmp_path / "missing.csv")


def test_one_row_and_a_million_rows_read() -> None:
    assert len(read_csv(b"a\n1\n")) == 1
    big = b"t,v\n" + b"".join(b"%d,%d\n" % (i, i % 97) for i in range(1_000_000))
    df = read_csv(big, max_rows=2_000_000)
    assert len(df) == 1_000_000 and df["v"].sum() == sum(i % 97 for i in range(1_000_000))


def test_formula_cells_stay_text_when_read() -> None:
    df = read_csv(b"name,v\n=cmd|' /C calc'!A0,1\n")
    assert df["name"].iloc[0].startswith("=")
