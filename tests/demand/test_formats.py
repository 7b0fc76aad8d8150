"""The three layouts are detected and read back to the same panel; dates day-first, epochs and
offsets from a trace start; bad files give an InputError naming the problem."""

from __future__ import annotations

import pandas as pd
import pytest

from core.demand import (
    REGIONS,
    DemandData,
    generate_demand,
    long_table,
    read_capacity,
    read_demand,
    read_demand_csv,
    read_launches,
)
from core.errors import InputError
from core.io.export import safe_csv_bytes
from tests.support import ROOT


@pytest.fixture(scope="module")
def small() -> DemandData:
    """Three weeks of two regions: enough for every layout, quick to round-trip."""
    return generate_demand("daily", seed=5, periods=21, regions=REGIONS[:2])


def _csv(frame: pd.DataFrame) -> bytes:
    return safe_csv_bytes(frame)


def _by_metric(data: DemandData) -> pd.DataFrame:
    wide = data.panel.pivot_table(index=["ds", "region"], columns="metric", values="y", dropna=False).reset_index()
    wide = wide.rename(columns={"ds": "date", "cpu": "usage_cpu", "storage": "usage_storage", "users": "users_active"})
    wide["date"] = wide["date"].dt.strftime("%Y-%m-%d")
    return wide[["date", "region", "usage_cpu", "usage_storage", "users_active"]]


def _by_region(data: DemandData, metric: str) -> pd.DataFrame:
    rows = data.panel[data.panel["metric"] == metric]
    wide = rows.pivot(index="ds", columns="region", values="y")
    wide.columns.name = None
    return wide.reset_index().rename(columns={"ds": "date"})


def test_long_layout_round_trips_daily_and_hourly(small: DemandData) -> None:
    back = read_demand_csv(_csv(long_table(small)), name="demand.csv")
    assert back.layout == "long" and back.source == "demand.csv"
    pd.testing.assert_frame_equal(back.panel, small.panel)
    hourly = generate_demand("hourly", seed=5, periods=24 * 15, regions=REGIONS[3:5])
    again = read_demand_csv(_csv(long_table(hourly)))
    pd.testing.assert_frame_equal(again.panel, hourly.panel)
    assert again.step == pd.Timedelta(hours=1) and str(again.panel["ds"].dt.tz) == "UTC"


def test_the_bundled_default_file_is_the_generator_output(daily: DemandData) -> None:
    bundled = read_demand_csv(ROOT / "data" / "cloud_demand_daily.csv")
    pd.testing.assert_frame_equal(bundled.panel, daily.panel)
    capacity = read_capacity(pd.read_csv(ROOT / "data" / "cloud_demand_capacity.csv"), bundled)
    pd.testing.assert_frame_equal(capacity, daily.capacity)
    launches = read_launches(pd.read_csv(ROOT / "data" / "cloud_demand_launches.csv"), bundled)
    pd.testing.assert_frame_equal(launches, daily.launches)
    assert (ROOT / "data" / "cloud_demand_daily.csv").stat().st_size < 2_000_000
    assert read_demand_csv(ROOT / "data" / "azure_usage_sample.csv").launches.empty  # imports know no launches


def test_the_core_panel_itself_is_read_as_long(small: DemandData) -> None:
    back = read_demand(small.panel.copy())
    pd.testing.assert_frame_equal(back.panel, small.panel)


def test_one_column_per_metric_round_trips_with_the_reference_names(small: DemandData) -> None:
    back = read_demand_csv(_csv(_by_metric(small)))
    assert back.layout == "metric-columns"
    assert "usage_cpu -> cpu" in back.notes[0]
    pd.testing.assert_frame_equal(back.panel, small.panel)


def test_resource_type_splits_each_metric_and_is_never_summed(small: DemandData) -> None:
    frame = _by_metric(small)
    vm, disk = frame.assign(resource_type="VM"), frame.assign(resource_type="Storage")
    disk[["usage_cpu", "usage_storage", "users_active"]] = disk[["usage_cpu", "usage_storage", "users_active"]] / 2
    back = read_demand_csv(_csv(pd.concat([vm, disk])[["date", "region", "resource_type", "usage_cpu",
                                                        "usage_storage", "users_active"]]))
    assert set(back.metric_names) == {"cpu:VM", "cpu:Storage", "storage:VM", "storage:Storage", "users:VM",
                                      "users:Storage"}
    region = small.region_names[0]
    pd.testing.assert_series_equal(back.series(f"{region}/cpu:VM"), small.series(f"{region}/cpu"),
                                   check_names=False)
    assert back.units["cpu:VM"] == "%"


def test_the_reference_sample_file_is_read() -> None:
    data = read_demand_csv(ROOT / "data" / "azure_usage_sample.csv")
    assert data.layout == "metric-columns" and data.step == pd.Timedelta(days=1)
    assert len(data.region_names) == 4 and len(data.series_ids) == 4 * 3 * 3
    assert data.panel.groupby("series_id").size().eq(90).all()
    assert data.regions.set_index("region")["country"].to_dict() == {
        "East US": "US", "West US": "US", "North Europe": "IE", "Southeast Asia": "SG"}


def test_one_column_per_region_round_trips_with_the_metric_named(small: DemandData) -> None:
    frame = _by_region(small, "users")
    back = read_demand_csv(_csv(frame), metric="users")
    assert back.layout == "region-columns"
    expected = small.panel[small.panel["metric"] == "users"].reset_index(drop=True)
    pd.testing.assert_frame_equal(back.panel, expected)
    unnamed = read_demand_csv(_csv(frame))
    assert unnamed.metric_names == ["demand"]


def test_day_first_dates_are_detected(small: DemandData) -> None:
    frame = _by_region(small, "cpu")
    frame["date"] = frame["date"].dt.strftime("%d/%m/%Y")  # 13/01/2023 onwards settles it
    back = read_demand_csv(_csv(frame), metric="cpu")
    expected = small.panel[small.panel["metric"] == "cpu"].reset_index(drop=True)
    pd.testing.assert_frame_equal(back.panel, expected)
    assert any("day-first" in note for note in back.notes)


def test_epoch_seconds_are_read_as_utc() -> None:
    hourly = generate_demand("hourly", seed=3, periods=24 * 15, regions=REGIONS[:2])
    frame = long_table(hourly)
    frame["timestamp"] = frame["timestamp"].astype("int64") // 10**9
    back = read_demand_csv(_csv(frame))
    pd.testing.assert_frame_equal(back.panel, hourly.panel)
    assert any("epoch" in note for note in back.notes)


def test_offsets_from_a_trace_start() -> None:
    frame = pd.DataFrame({"timestamp": [0, 300, 600, 900, 1500], "eu-west-1": [5.0, 6.0, 7.0, 8.0, 9.0],
                          "us-east-1": [1.0, 2.0, 3.0, 4.0, 5.0]})
    default = read_demand_csv(_csv(frame), metric="cpu")
    assert default.step == pd.Timedelta(minutes=5) and default.freq_label == "5min"
    y = default.series("eu-west-1/cpu")
    assert y.index[0] == pd.Timestamp("2024-01-01 00:00") and y.isna().sum() == 1  # 1200 s is missing, not zero
    assert any("trace" in note and "default" in note for note in default.notes)
    placed = read_demand(frame.rename(columns={"timestamp": "offset"}), start="2019-11-04 08:00", metric="cpu")
    assert placed.panel["ds"].min() == pd.Timestamp("2019-11-04 08:00")
    assert placed.regions.set_index("region")["country"].to_dict() == {"eu-west-1": "IE", "us-east-1": "US"}


def test_missing_intervals_stay_missing(small: DemandData) -> None:
    table = long_table(small)
    region = small.region_names[0]
    dropped = table.drop(table.index[(table["region"] == region) & (table["metric"] == "users")][5:8])
    back = read_demand_csv(_csv(dropped))
    y = back.series(f"{region}/users")
    assert len(y) == 21 and y.iloc[5:8].isna().all() and not (y == 0).any()
    assert any("kept as missing" in note for note in back.notes)


def test_duplicated_region_metric_time_is_refused_naming_both_rows(small: DemandData) -> None:
    table = long_table(small)
    doubled = pd.concat([table, table.iloc[[3]]], ignore_index=True)
    with pytest.raises(InputError, match=rf"time {table['date'].iloc[3]} twice \(rows 5 and {len(doubled) + 1}\)"
                                         r".*not added up") as info:
        read_demand_csv(_csv(doubled), name="dup.csv")
    assert info.value.row == len(doubled) + 1 and "dup.csv" in info.value.message


def test_a_country_and_time_zone_column_name_each_regions_calendar(small: DemandData) -> None:
    table = long_table(small)
    table["country"] = table["region"].map({small.region_names[0]: "CH", small.region_names[1]: "none"})
    table["timezone"] = "Europe/Zurich"
    back = read_demand_csv(_csv(table))
    regions = back.regions.set_index("region")
    assert regions.loc[small.region_names[0], "country"] == "CH"
    assert regions.loc[small.region_names[0], "source"] == "column"
    assert regions.loc[small.region_names[1], "country"] is None
    assert (regions["timezone"] == "Europe/Zurich").all()
    table.loc[4, "country"] = "FR"  # a second country for the same region
    with pytest.raises(InputError, match="two values") as info:
        read_demand_csv(_csv(table))
    assert info.value.column == "country" and info.value.row == 6


def test_the_users_mapping_overrides_file_and_name() -> None:
    frame = pd.DataFrame({"date": ["2024-01-01", "2024-01-02", "2024-01-03"], "AEP": [1.0, 2.0, 3.0],
                          "France": [1.0, 2.0, 3.0]})
    data = read_demand(frame, countries={"AEP": "US"})
    assert data.country_of("AEP") == "US" and data.country_of("France") == "FR"
    changed = data.with_countries({"France": "none"})
    assert changed.country_of("France") is None and changed.country_of("AEP") == "US"
    with pytest.raises(InputError, match="no region named 'Mars'"):
        read_demand(frame, countries={"Mars": "FR"})
    with pytest.raises(InputError, match="AEP.*'XX'"):
        read_demand(frame, countries={"AEP": "XX"})


def _error(content: bytes | pd.DataFrame, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as info:
        if isinstance(content, bytes):
            read_demand_csv(content, name="bad.csv", **kwargs)  # type: ignore[arg-type]
        else:
            read_demand(content, file="bad.csv", **kwargs)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"date,region,metric,value\n", "no data rows"),
        (b"region,metric,value\nFrance,cpu,3\nFrance,cpu,4\n", "no time column"),
        (b"date,France,Germany\n2024-01-01,3,4\n", "only 1 distinct time"),
        (b"date,France,Germany\n2024-01-01,3,high\n2024-01-02,4,low\n2024-01-03,5,low\n", "holds text ('high')"),
        (b"date,France\n2024-01-01,3\n2024-01-02,abc\n2024-01-03,5\n2024-01-04,6\n", "'abc' is not a number"),
        (b"date,region,metric,value\n2024-01-01,FR,cpu,3\n2024-01-02,FR,cpu,abc\n2024-01-03,FR,cpu,4\n",
         "'abc' is not a number"),
        (b"date,name,comment\n2024-01-01,a,b\n2024-01-02,c,d\n", "none of the three layouts"),
        (b"date,metric,value\n2024-01-01,cpu,3\n2024-01-02,cpu,4\n", "no region column"),
        (b"date,France\n2024-01-01,3\n2024-01-02,-4\n", "-4 is not a demand"),
        (b"date,France\n2024-01-01,3\n2024-01-02,4\nnot a date,5\n", "is not a date"),
        (b"timestamp,France\n2024-01-01 00:00,3\n2024-01-01 01:00,4\n2024-01-01 02:00,4\n2024-01-01 02:30,5\n",
         "off the data's hourly grid"),
        (b"date,France\n2024-01-01,3\n2024-02-01,4\n2024-03-01,5\n", "weekly or finer"),
        (b"\x00\x01\x02binary", "binary"),
    ],
)
def test_bad_files_name_the_problem(content: bytes, expected: str) -> None:
    error = _error(content)
    assert expected in error.message and "bad.csv" in error.message


def test_bad_rows_are_named_by_spreadsheet_row() -> None:
    error = _error(b"date,France\n2024-01-01,3\n2024-01-02,abc\n2024-01-03,5\n2024-01-04,6\n")
    assert error.column == "France" and error.row == 3
    error = _error(b"timestamp,France\n2024-01-01 00:00,3\n2024-01-01 01:00,4\n2024-01-01 02:00,4\n"
                   b"2024-01-01 02:30,5\n2024-01-01 03:00,5\n2024-01-01 04:00,5\n")
    assert error.row == 5 and "02:30" in error.message


def test_a_frame_without_rows_or_columns_is_empty() -> None:
    assert "is empty" in _error(pd.DataFrame()).message
    assert "is empty" in _error(pd.DataFrame({"date": [], "France": []})).message


def test_capacity_tables_are_checked_against_the_data(small: DemandData) -> None:
    table = small.capacity[["region", "metric", "capacity"]]
    read = read_capacity(table, small)
    pd.testing.assert_frame_equal(read, small.capacity)
    with pytest.raises(InputError, match="no series for region 'Mars'"):
        read_capacity(pd.concat([table, pd.DataFrame([{"region": "Mars", "metric": "cpu", "capacity": 1.0}])]), small)
    with pytest.raises(InputError, match="given twice"):
        read_capacity(pd.concat([table, table.iloc[[0]]]), small)
    with pytest.raises(InputError, match="missing capacity"):
        read_capacity(table.drop(columns="capacity"))


def test_launch_tables_name_known_regions(small: DemandData) -> None:
    table = pd.DataFrame({"region": [small.region_names[0]], "date": ["12/03/2024"]})
    launches = read_launches(table, small)
    assert launches["date"].iloc[0] == pd.Timestamp("2024-03-12") and launches["step"].isna().all()
    with pytest.raises(InputError, match="no region named 'Mars'"):
        read_launches(pd.DataFrame({"region": ["Mars"], "date": ["2024-01-01"]}), small)
