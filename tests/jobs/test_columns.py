"""Column detection on differently named headers, and row-level reporting of bad cells."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import InputError
from core.io import read_csv
from core.jobs.columns import ColumnMapping, detect_columns, prepare_runs


def test_detects_the_bundled_headers(bundled_raw: pd.DataFrame) -> None:
    mapping = detect_columns(bundled_raw)
    assert (mapping.block, mapping.stage, mapping.runtime, mapping.memory) == ("block", "stage", "runtime", "memory")
    assert (mapping.cpu_time, mapping.run_date, mapping.platform, mapping.run_id) == (
        "cpu_time", "run_date", "platform", "run_id")
    assert set(mapping.features) == {"instance_count", "instance_area", "core_area", "die_area", "utilization",
                                     "io_count"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Design,Flow Stage,wall_time,peak_mem,Date,PDK,cells",
         dict(block="Design", stage="Flow Stage", runtime="wall_time", memory="peak_mem", run_date="Date",
              platform="PDK")),
        ("design_name,step,elapsed,maxrss,timestamp,tech,cells",
         dict(block="design_name", stage="step", runtime="elapsed", memory="maxrss", run_date="timestamp",
              platform="tech")),
        ("Block,Stage,Real_Time,Peak_Memory,Run Date,Platform,cells",
         dict(block="Block", stage="Stage", runtime="Real_Time", memory="Peak_Memory", run_date="Run Date",
              platform="Platform")),
        ("top,task,run_time,mem,submit_time,node,cells",
         dict(block="top", stage="task", runtime="run_time", memory="mem", run_date="submit_time", platform="node")),
    ],
)
def test_detects_differently_named_headers(header: str, expected: dict[str, str]) -> None:
    body = "\n".join(f"b{i % 3},s{i % 2},00:0{i}:10,{100 + i}.5M,2024-01-0{i + 1} 10:00,p1,{i * 10 + 1}"
                     for i in range(6))
    frame = read_csv(f"{header}\n{body}\n".encode())
    mapping = detect_columns(frame)
    for role, column in expected.items():
        assert getattr(mapping, role) == column, role
    assert mapping.features == ["cells"]


def test_detects_runtime_and_memory_from_contents() -> None:
    frame = pd.DataFrame({"a": ["x", "y"], "col1": ["00:01:00", "01:00:00"], "col2": ["1.5G", "300M"]})
    mapping = detect_columns(frame)
    assert mapping.runtime == "col1"
    assert mapping.memory == "col2"


def _raw() -> pd.DataFrame:
    return pd.DataFrame({
        "block": ["a", "a", "b", "", "b", "c", "c"],
        "stage": ["place", "route", "place", "place", "route", "place", "route"],
        "runtime": ["00:01:00", "25:61:00", "00:02:00", "00:01:00", "", "-1", "0:10.5"],
        "memory": ["100M", "200M", "12,301.5M", "1G", "300M", "400M", "abc"],
        "run_date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "not a date",
                     "2024-01-07"],
    })


def test_bad_cells_are_reported_with_their_row_and_excluded() -> None:
    prepared = prepare_runs(_raw(), detect_columns(_raw()))
    assert prepared.runs["row"].tolist() == [2]  # only the first data row is fully usable
    rejected = prepared.rejected
    assert set(rejected["row"]) == {3, 4, 5, 6, 7, 8}
    reasons = {(r.row, r.column): r.reason for r in rejected.itertuples()}
    assert "duration" in reasons[(3, "runtime")]
    assert "memory size" in reasons[(4, "memory")]
    assert reasons[(5, "block")] == "block is empty"
    assert reasons[(6, "runtime")] == "runtime is empty"
    assert reasons[(7, "run_date")] == "not a date"
    assert "duration" in reasons[(7, "runtime")]
    assert "memory size" in reasons[(8, "memory")]
    assert rejected.loc[rejected["row"] == 4, "value"].iloc[0] == "12,301.5M"


def test_prediction_input_needs_no_targets() -> None:
    frame = pd.DataFrame({"block": ["a", "b"], "stage": ["place", "route"], "memory": ["oops", "1G"]})
    prepared = prepare_runs(frame, ColumnMapping(block="block", stage="stage", memory="memory"),
                            require_targets=False)
    assert len(prepared.runs) == 2
    assert prepared.runs["memory_mb"].isna().iloc[0]
    assert prepared.runs["memory_mb"].iloc[1] == 1024


def test_missing_role_and_duplicate_role_are_refused() -> None:
    frame = _raw()
    with pytest.raises(InputError, match="no column chosen for runtime"):
        prepare_runs(frame, ColumnMapping(block="block", stage="stage", memory="memory", run_date="run_date"))
    with pytest.raises(InputError, match="more than one role"):
        prepare_runs(frame, ColumnMapping(block="block", stage="block", runtime="runtime", memory="memory",
                                          run_date="run_date"))
    with pytest.raises(InputError, match="has no column 'nope'"):
        prepare_runs(frame, ColumnMapping(block="nope", stage="stage", runtime="runtime", memory="memory",
                                          run_date="run_date"))


def test_all_rows_bad_is_an_error() -> None:
    frame = pd.DataFrame({"block": ["a"], "stage": ["s"], "runtime": ["abc"], "memory": ["1M"],
                          "run_date": ["2024-01-01"]})
    with pytest.raises(InputError, match="row 2"):
        prepare_runs(frame, detect_columns(frame))


def test_mapping_round_trips_through_a_dict(bundled_raw: pd.DataFrame) -> None:
    mapping = detect_columns(bundled_raw)
    assert ColumnMapping.from_dict(mapping.to_dict()) == mapping
