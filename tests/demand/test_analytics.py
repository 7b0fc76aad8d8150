"""Demand analytics: the arithmetic on hand-made series, local days and calendars, and a smoke run on the generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.demand import DemandData
from core.demand import analytics as an
from core.demand.data import build_demand
from core.errors import InputError


def _demand(series: dict[tuple[str, str], pd.Series], countries: dict[str, str],
            capacity: pd.DataFrame | None = None) -> DemandData:
    """DemandData from ``(region, metric) -> values indexed by time``."""
    rows = pd.concat([pd.DataFrame({"region": region, "metric": metric, "ds": s.index, "y": s.to_numpy()})
                      for (region, metric), s in series.items()], ignore_index=True)
    rows["row"] = np.arange(len(rows)) + 2
    return build_demand(rows, layout="long", countries=countries, capacity=capacity)


def _days(start: str, end: str, value: float = 100.0) -> pd.Series:
    index = pd.date_range(start, end, freq="D")
    return pd.Series(value, index=index, dtype=float)


def _exponential(start: str, days: int, per_year: float, level: float = 100.0) -> pd.Series:
    index = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days) / an.DAYS_PER_YEAR
    return pd.Series(level * (1 + per_year) ** t, index=index)


# ---- holidays: in each region's own calendar ----------------------------------------------------


def test_a_french_holiday_halves_demand_in_france_and_is_an_ordinary_day_in_the_us() -> None:
    s = _days("2024-05-02", "2024-05-16")
    s[pd.Timestamp("2024-05-08")] = 50.0  # Victory Day (a Wednesday): a holiday in FR only
    s[pd.Timestamp("2024-05-09")] = np.nan  # Ascension (FR): a holiday without a value is not counted
    data = _demand({("Paris", "users"): s, ("Boston", "users"): s}, {"Paris": "FR", "Boston": "US"})
    out = an.holiday_impact(data).set_index("region")
    assert list(out.columns) == ["country", "metric", "holidays", "holiday_mean", "usual_mean", "impact_pct", "note"]
    paris = out.loc["Paris"]
    assert (paris["country"], paris["holidays"]) == ("FR", 1)
    assert paris["holiday_mean"] == pytest.approx(50.0)
    assert paris["usual_mean"] == pytest.approx(100.0)  # May 15 only: May 1 is outside the data
    assert paris["impact_pct"] == pytest.approx(-50.0)
    boston = out.loc["Boston"]
    assert boston["holidays"] == 0 and np.isnan(boston["impact_pct"])


def test_comparison_days_that_are_holidays_themselves_are_left_out() -> None:
    s = _days("2024-04-24", "2024-05-15")
    s[[pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-08")]] = 50.0  # two Wednesday holidays a week apart
    s[pd.Timestamp("2024-05-09")] = np.nan
    out = an.holiday_impact(_demand({("Paris", "cpu"): s}, {"Paris": "FR"})).iloc[0]
    # Each holiday is compared with its non-holiday neighbour only (Apr 24, May 15), never with the other holiday.
    assert out["holidays"] == 2
    assert out["usual_mean"] == pytest.approx(100.0)
    assert out["impact_pct"] == pytest.approx(-50.0)


def test_a_region_without_a_country_says_its_holidays_are_unknown() -> None:
    data = _demand({("Moonbase", "users"): _days("2024-05-01", "2024-05-31")}, {"Moonbase": "none"})
    out = an.holiday_impact(data)
    assert len(out) == 1
    assert out.iloc[0]["holidays"] == 0
    assert out.iloc[0]["note"] == "no country set: holidays unknown"


def test_holidays_on_a_weekend_are_not_counted() -> None:
    s = _days("2024-04-20", "2024-05-20")
    s[pd.Timestamp("2024-05-04")] = 50.0  # Greenery Day, a Saturday
    s[[pd.Timestamp(d) for d in ("2024-04-29", "2024-05-03", "2024-05-06")]] = np.nan  # the weekday holidays around it
    out = an.holiday_impact(_demand({("Tokyo", "users"): s}, {"Tokyo": "JP"})).iloc[0]
    assert out["holidays"] == 0 and np.isnan(out["holiday_mean"])


# ---- local days ---------------------------------------------------------------------------------


def test_hourly_utc_data_is_averaged_over_the_regions_local_days() -> None:
    # 2024-03-03 15:00 UTC is midnight of 2024-03-04 in Tokyo; each local day gets its own level.
    index = pd.date_range("2024-03-03 15:00", periods=72, freq="h", tz="UTC")
    s = pd.Series(np.repeat([10.0, 20.0, 30.0], 24), index=index)
    s.iloc[30] = np.nan  # a missing hour is ignored, not read as zero
    data = _demand({("Tokyo", "cpu"): s}, {"Tokyo": "JP"})
    assert data.regions.iloc[0]["timezone"] == "Asia/Tokyo"
    out = an.daily_values(data)
    assert list(out.columns) == ["series_id", "region", "metric", "day", "y"]
    assert list(out["day"]) == list(pd.date_range("2024-03-04", periods=3, freq="D"))
    assert list(out["y"]) == [10.0, 20.0, 30.0]  # UTC days would mix two levels


def test_partial_local_days_at_the_edges_are_dropped() -> None:
    index = pd.date_range("2024-03-04 00:00", periods=48, freq="h", tz="UTC")  # 09:00 Tokyo to 08:00 two days later
    s = pd.Series(np.arange(48, dtype=float), index=index)
    out = an.daily_values(_demand({("Tokyo", "cpu"): s}, {"Tokyo": "JP"}))
    assert list(out["day"]) == [pd.Timestamp("2024-03-05")]
    assert out["y"].iloc[0] == pytest.approx(np.arange(15, 39).mean())  # 15:00 UTC Mar 4 .. 14:00 UTC Mar 5


# ---- profiles -----------------------------------------------------------------------------------


def test_weekday_profile_is_relative_to_the_average_weekday() -> None:
    s = _days("2024-01-01", "2024-01-28")  # four weeks from a Monday
    s[s.index.dayofweek >= 5] = 50.0
    s[pd.Timestamp("2024-01-08")] = np.nan  # one Monday missing changes nothing
    out = an.weekday_profile(_demand({("Nowhere", "users"): s}, {"Nowhere": "none"})).set_index("weekday")
    assert list(out.index) == list(range(7))
    assert out.loc[0, "weekday_name"] == "Mon"
    assert out.loc[0, "relative"] == pytest.approx(100 / (600 / 7))
    assert out.loc[6, "relative"] == pytest.approx(50 / (600 / 7))
    assert out["relative"].mean() == pytest.approx(1.0)


@pytest.mark.parametrize("days", [3 * 365, 500])  # centred yearly mean, then the log-linear trend
def test_yearly_profile_does_not_mistake_growth_for_seasonality(days: int) -> None:
    s = _exponential("2023-01-01", days, per_year=0.5)
    s[s.index.month == 7] *= 1.2
    out = an.yearly_profile(_demand({("Nowhere", "users"): s}, {"Nowhere": "none"})).set_index("month")["relative"]
    assert len(out) == 12
    assert out[7] / out.drop(7).mean() == pytest.approx(1.2, rel=0.02)
    assert out[12] == pytest.approx(out[1], rel=0.03)  # without detrending December is ~45 % above January


def test_yearly_profile_under_a_year_is_empty_and_says_why() -> None:
    out = an.yearly_profile(_demand({("Nowhere", "users"): _days("2024-01-01", "2024-06-30")}, {"Nowhere": "none"}))
    assert out.empty
    assert "365" in out.attrs["note"]


# ---- growth and trends --------------------------------------------------------------------------


def test_growth_of_an_exact_exponential_and_its_year_over_year_change() -> None:
    s = _exponential("2023-01-01", 730, per_year=0.2)
    s.iloc[::11] = np.nan  # gaps do not move the fit
    out = an.growth_rates(_demand({("Nowhere", "users"): s}, {"Nowhere": "none"})).iloc[0]
    assert out["growth_per_year_pct"] == pytest.approx(20.0, abs=1e-6)
    assert out["yoy_pct"] == pytest.approx(20.0, abs=0.2)  # 365 or 366 days apart
    assert 300 < out["days"] <= 365


def test_under_a_year_there_is_a_growth_rate_but_no_year_over_year() -> None:
    s = _exponential("2024-01-01", 200, per_year=-0.1)
    out = an.growth_rates(_demand({("Nowhere", "users"): s}, {"Nowhere": "none"})).iloc[0]
    assert out["growth_per_year_pct"] == pytest.approx(-10.0, abs=1e-6)
    assert np.isnan(out["yoy_pct"]) and out["days"] == 200


def test_trend_is_a_trailing_mean_that_never_looks_ahead() -> None:
    s = pd.Series(np.arange(60, dtype=float), index=pd.date_range("2024-01-01", periods=60, freq="D"))
    data = _demand({("Nowhere", "users"): s}, {"Nowhere": "none"})
    out = an.trends(data)
    assert out["trend"].iloc[:13].isna().all() and out["trend"].iloc[13] == pytest.approx(6.5)
    assert out["trend"].iloc[27] == pytest.approx(13.5)
    assert out["trend"].iloc[40] == pytest.approx(np.arange(13, 41).mean())
    later = s.copy()
    later.iloc[41:] = 1e6
    changed = an.trends(_demand({("Nowhere", "users"): later}, {"Nowhere": "none"}))
    pd.testing.assert_series_equal(changed["trend"].iloc[:41], out["trend"].iloc[:41])


# ---- regions side by side -----------------------------------------------------------------------


def _two_regions() -> DemandData:
    cpu = _days("2024-01-01", "2024-02-29", 50.0)
    cpu.iloc[0] = 99.0  # older than 30 days: not recent
    cpu.iloc[-3] = 80.0
    capacity = pd.DataFrame({"region": ["A", "A", "B"], "metric": ["cpu", "storage", "storage"],
                             "capacity": [1000.0, 60.0, 40.0], "unit": ["vCPU", "TB", "TB"],
                             "cost_per_unit_month": [2.0, 3.0, np.nan]})
    return _demand({("A", "cpu"): cpu, ("A", "storage"): _days("2024-01-01", "2024-02-29", 30.0),
                    ("B", "storage"): _days("2024-01-01", "2024-02-29", 10.0),
                    ("B", "cpu"): _days("2024-01-01", "2024-02-29", 20.0)}, {"A": "none", "B": "none"}, capacity)


def test_utilisation_reads_cpu_percent_directly_and_storage_against_its_capacity() -> None:
    out = an.utilisation(_two_regions()).set_index(["region", "metric"])
    assert list(out.columns) == ["average_utilisation", "peak_utilisation"]
    assert ("B", "cpu") not in out.index  # no capacity row
    assert out.loc[("A", "cpu"), "average_utilisation"] == pytest.approx((29 * 50 + 80) / 30 / 100)
    assert out.loc[("A", "cpu"), "peak_utilisation"] == pytest.approx(0.8)  # not 80 / 1000 vCPU, not the old 99
    assert out.loc[("A", "storage"), "average_utilisation"] == pytest.approx(0.5)
    assert out.loc[("B", "storage"), "peak_utilisation"] == pytest.approx(0.25)


def test_region_shares_only_for_additive_metrics() -> None:
    out = an.region_comparison(_two_regions()).set_index(["metric", "region"])
    assert out.loc[("storage", "A"), "share_pct"] == pytest.approx(75.0)
    assert out.loc[("storage", "B"), "share_pct"] == pytest.approx(25.0)
    assert out.loc["cpu", "share_pct"].isna().all()
    assert out.loc[("cpu", "A"), "recent_peak"] == pytest.approx(80.0)
    assert out.loc[("storage", "B"), "growth_per_year_pct"] == pytest.approx(0.0, abs=1e-9)


def test_correlations_follow_daily_surprises_not_shared_growth() -> None:
    rng = np.random.default_rng(3)
    e, f = rng.normal(0, 0.05, 400), rng.normal(0, 0.05, 400)
    grow = _exponential("2023-01-01", 400, per_year=0.4)
    grow[grow.index.dayofweek >= 5] *= 0.6  # a weekly pattern all regions share is not a daily surprise
    data = _demand({("A", "users"): grow * (1 + e), ("B", "users"): 2 * grow * (1 + e),
                    ("C", "users"): grow * (1 - e), ("D", "users"): grow * (1 + f)},
                   {r: "none" for r in "ABCD"})
    out = an.correlations(data, "users")
    assert list(out.index) == list(out.columns) == ["A", "B", "C", "D"]
    assert out.loc["A", "B"] > 0.95
    assert out.loc["A", "C"] < -0.95
    assert abs(out.loc["A", "D"]) < 0.2
    assert np.corrcoef(grow * (1 + e), grow * (1 + f))[0, 1] > 0.7  # what the levels would have claimed
    assert np.corrcoef(np.diff(np.log(grow * (1 + e))), np.diff(np.log(grow * (1 + f))))[0, 1] > 0.7
    with pytest.raises(InputError, match="users"):
        an.correlations(data, "gpu")


# ---- KPIs ---------------------------------------------------------------------------------------


def test_kpis_arithmetic() -> None:
    data = _two_regions()
    backtest = pd.DataFrame({"series_id": ["A/cpu"] * 4, "y": [100.0, 200.0, np.nan, 100.0],
                             "chosen": [110.0, 180.0, 50.0, np.nan]})
    plan = pd.DataFrame({"region": ["A", "B", "A", "B"], "metric": ["cpu", "storage", "storage", "cpu"],
                         "risk": ["high", "low", "medium", "low"], "monthly_cost_change": [100.0, -50.0, 20.0, 0.0]})
    out = an.kpis(data, backtest=backtest, plan=plan)
    assert out["regions"] == 2 and out["series"] == 4
    assert out["forecast_accuracy"] == pytest.approx(1 - 30 / 300)
    assert out["regions_at_risk"] == 1
    assert out["monthly_cost"] == pytest.approx(1000 * 2 + 60 * 3)  # B's storage has no price
    assert out["projected_monthly_cost"] == pytest.approx(2180 + 120)
    used = an.utilisation(data)
    assert out["average_utilisation"] == pytest.approx(used["average_utilisation"].mean())
    assert out["peak_utilisation"] == pytest.approx(0.8)
    bare = an.kpis(data)
    assert bare["forecast_accuracy"] is None and bare["regions_at_risk"] is None
    assert bare["projected_monthly_cost"] is None


# ---- the generated data -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["daily", "hourly"])
def test_every_analytic_gives_finite_numbers_on_the_generated_data(name: str, request: pytest.FixtureRequest) -> None:
    data: DemandData = request.getfixturevalue(name)
    n = len(data.series_ids)
    days = an.daily_values(data)
    assert days["y"].notna().mean() > 0.95 and days.groupby("series_id")["day"].is_monotonic_increasing.all()
    holidays = an.holiday_impact(data)
    assert len(holidays) == n and (holidays["holidays"] > 0).all() and np.isfinite(holidays["impact_pct"]).all()
    weekdays = an.weekday_profile(data)
    assert len(weekdays) == 7 * n and np.isfinite(weekdays["relative"]).all()
    yearly = an.yearly_profile(data)
    if name == "daily":
        assert len(yearly) == 12 * n and np.isfinite(yearly["relative"]).all()
    else:
        assert yearly.empty and yearly.attrs["note"]
    growth = an.growth_rates(data)
    assert np.isfinite(growth["growth_per_year_pct"]).all()
    assert np.isfinite(growth["yoy_pct"]).all() if name == "daily" else growth["yoy_pct"].isna().all()
    trend = an.trends(data)
    assert np.isfinite(trend.groupby("series_id")["trend"].last()).all()
    regions = an.region_comparison(data)
    assert np.isfinite(regions[["recent_mean", "recent_peak"]]).all().all()
    assert list(regions.groupby("metric")["share_pct"].sum().drop("cpu")) == pytest.approx([100.0, 100.0])
    for metric in data.metric_names:
        corr = an.correlations(data, metric)
        assert corr.shape == (6, 6) and np.isfinite(corr).all().all()
        assert np.diag(corr) == pytest.approx(1.0)
    used = an.utilisation(data)
    assert len(used) == n and used[["average_utilisation", "peak_utilisation"]].gt(0).all().all()
    assert used["peak_utilisation"].le(1.5).all()
    kpi = an.kpis(data)
    assert kpi["regions"] == 6 and kpi["series"] == n
    assert all(np.isfinite(kpi[k]) for k in ("average_utilisation", "peak_utilisation", "monthly_cost"))
