"""The default data: deterministic, the designed shape (growth, yearly and weekly seasons, holidays,
launches), outages missing and never zero, CPU within 0-100, a capacity per region and metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.demand import REGIONS, DemandData, generate_demand, guess_country
from core.demand.data import PANEL_COLUMNS
from core.errors import InputError
from core.forecast.calendar import holiday_flags
from core.forecast.panel import validate_panel


def test_same_seed_gives_the_same_frame_and_another_seed_differs(daily: DemandData) -> None:
    again = generate_demand("daily", seed=17)
    pd.testing.assert_frame_equal(again.panel, daily.panel)
    pd.testing.assert_frame_equal(again.capacity, daily.capacity)
    other = generate_demand("daily", seed=18)
    assert not other.panel["y"].equals(daily.panel["y"])
    # Global numpy state is neither read nor changed.
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    generate_demand("daily", seed=17, periods=30)
    assert np.random.random() == before


def test_a_region_does_not_change_when_another_is_removed(daily: DemandData) -> None:
    alone = generate_demand("daily", seed=17, regions=REGIONS[2:3])
    name = REGIONS[2].name
    pd.testing.assert_series_equal(alone.series(f"{name}/users"), daily.series(f"{name}/users"))


def test_daily_shape_three_years_six_regions_in_six_countries(daily: DemandData) -> None:
    panel = daily.panel
    assert list(panel.columns) == list(PANEL_COLUMNS)
    validate_panel(panel)
    assert daily.step == pd.Timedelta(days=1) and daily.freq_label == "daily"
    assert len(daily.region_names) >= 6 and daily.regions["country"].nunique() == len(daily.region_names)
    assert daily.metric_names == ["cpu", "storage", "users"]
    assert panel["ds"].min() == pd.Timestamp("2023-01-01") and panel["ds"].max() == pd.Timestamp("2025-12-31")
    assert panel.groupby("series_id").size().eq(1096).all()
    assert set(panel["series_id"]) == {f"{r}/{m}" for r in daily.region_names for m in daily.metric_names}
    assert daily.units == {"cpu": "%", "storage": "TB", "users": "users"}


def test_hourly_is_ninety_days_in_utc_with_a_local_daily_shape(hourly: DemandData) -> None:
    assert hourly.step == pd.Timedelta(hours=1) and hourly.freq_label == "hourly"
    assert hourly.panel.groupby("series_id").size().eq(90 * 24).all()
    assert str(hourly.panel["ds"].dt.tz) == "UTC"
    tokyo = hourly.series("Japan East/users").tz_convert("Asia/Tokyo")
    paris = hourly.series("France Central/users").tz_convert("Europe/Paris")
    for series in (tokyo, paris):
        by_hour = series.groupby(series.index.hour).mean()
        assert by_hour.idxmax() in range(9, 17) and by_hour.idxmin() in range(0, 6)  # office hours, local time
    weekly = paris.groupby(paris.index.day_of_week).mean()
    assert weekly[[5, 6]].max() < 0.85 * weekly[[0, 1, 2, 3, 4]].min()


def test_the_month_of_year_means_differ_as_designed(daily: DemandData) -> None:
    # Detrended by a centred yearly mean: a fourth-quarter peak and a May trough in every region;
    # Europe's August holiday season and Brazil's January one dip below the months around them.
    for region in daily.region_names:
        users = daily.series(f"{region}/users")
        ratio = users / users.rolling(365, center=True, min_periods=300).mean()
        month = ratio.groupby(ratio.index.month).mean()
        assert month[[10, 11]].mean() - month[[4, 5]].mean() > 0.15, region
    for region in ("France Central", "Germany West Central"):
        users = daily.series(f"{region}/users")
        month = (users / users.rolling(365, center=True, min_periods=300).mean()).groupby(users.index.month).mean()
        assert month[8] < month[9] - 0.1, region


def test_growth_holidays_and_launch_steps(daily: DemandData) -> None:
    for spec in REGIONS:
        users = daily.series(f"{spec.name}/users")
        yearly = users.groupby(users.index.year).mean()
        assert yearly.is_monotonic_increasing
        weekday = users.index.day_of_week < 5
        holiday = holiday_flags(users.index, spec.country) > 0
        assert users[holiday & weekday].mean() < 0.75 * users[~holiday & weekday].mean(), spec.name
        launch = pd.Timestamp(spec.launch)
        before = users[launch - pd.Timedelta(days=28):launch - pd.Timedelta(days=1)].median()
        after = users[launch:launch + pd.Timedelta(days=27)].median()
        assert after > before * (1 + spec.launch_step / 2), spec.name
    launches = daily.launches.set_index("region")
    assert {s.name: (pd.Timestamp(s.launch), s.launch_step) for s in REGIONS} == {
        r: (row.date, row.step) for r, row in launches.iterrows()}


def test_outages_are_missing_never_zero_and_shared_by_a_regions_metrics(daily: DemandData, hourly: DemandData) -> None:
    for data in (daily, hourly):
        panel = data.panel
        assert panel["y"].isna().sum() > 0
        assert (panel["y"].dropna() > 0).all()
        per_region = panel.assign(gap=panel["y"].isna()).groupby(["region", "ds"])["gap"].nunique()
        assert per_region.eq(1).all()  # an outage hides every metric of the region at once
        for series_id in data.series_ids:
            y = data.series(series_id)
            assert y.notna().iloc[0] and y.notna().iloc[-1]


def test_cpu_is_a_percentage_and_storage_rarely_drops(daily: DemandData, hourly: DemandData) -> None:
    for data in (daily, hourly):
        cpu = data.panel.loc[data.panel["metric"] == "cpu", "y"].dropna()
        assert cpu.between(0, 100).all() and cpu.max() > 80
        for region in data.region_names:
            storage = data.series(f"{region}/storage").dropna()
            drops = (storage.diff() < 0).sum()
            assert drops <= 0.01 * len(storage) and storage.iloc[-1] > storage.iloc[0]


def test_capacity_table_covers_every_series_and_spans_risk_levels(daily: DemandData) -> None:
    cap = daily.capacity
    assert len(cap) == len(daily.series_ids) and (cap["capacity"] > 0).all()
    assert set(cap["unit"]) == {"vCPU", "TB", "users"}
    recent = daily.panel[daily.panel["ds"] > daily.panel["ds"].max() - pd.Timedelta(days=90)]
    peak = recent.groupby(["region", "metric"])["y"].max()
    use = {r.region: peak[(r.region, "users")] / r.capacity for r in cap[cap["metric"] == "users"].itertuples()}
    assert max(use.values()) > 0.85 and min(use.values()) < 0.3  # a region near its limit, one over-provisioned


def test_each_generated_region_is_guessed_from_its_name(daily: DemandData) -> None:
    for spec in REGIONS:
        assert guess_country(spec.name).country == spec.country
    assert set(daily.regions["source"]) == {"generator"}
    assert daily.regions.set_index("region")["timezone"].to_dict() == {s.name: s.timezone for s in REGIONS}


def test_generator_refuses_nonsense() -> None:
    with pytest.raises(InputError, match="frequency"):
        generate_demand("weekly")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="two weeks"):
        generate_demand("daily", periods=3)
