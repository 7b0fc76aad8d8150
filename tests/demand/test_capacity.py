"""Capacity planning arithmetic on hand-made paths a planner can check with a pencil."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.demand.capacity import (
    PlanSettings,
    n_minus_one,
    newsvendor_quantile,
    plan_table,
    replay_breaches,
    to_capacity_units,
)
from core.errors import InputError

# A planning helper must not emit pandas deprecation noise: it becomes an error in the next pandas.
pytestmark = pytest.mark.filterwarnings("error")

DAYS = pd.date_range("2026-01-01", periods=6, freq="D")


def paths_of(region: str, metric: str, plan: list[float], *, p50: list[float] | None = None,
             p95: list[float] | None = None, ds: pd.DatetimeIndex = DAYS) -> pd.DataFrame:
    n = len(plan)
    return pd.DataFrame({"region": region, "metric": metric, "ds": ds[:n], "p50": p50 if p50 is not None else plan,
                         "p95": p95 if p95 is not None else plan, "plan": plan})


def capacity_of(*rows: tuple[str, str, float, float]) -> pd.DataFrame:
    unit = {"cpu": "vCPU", "storage": "TB", "users": "users"}
    return pd.DataFrame([{"region": r, "metric": m, "capacity": c, "unit": unit.get(m, "?"), "cost_per_unit_month": k}
                         for r, m, c, k in rows])


def one_plan(paths: pd.DataFrame, capacity: pd.DataFrame, settings: PlanSettings | None = None,
             last_use: pd.DataFrame | None = None) -> pd.Series:
    table = plan_table(paths, capacity, last_use, settings or PlanSettings())
    assert len(table) == 1
    return table.iloc[0]


# ---- arithmetic -----------------------------------------------------------------------------------


def test_the_plan_table_has_exactly_the_documented_columns() -> None:
    table = plan_table(paths_of("A", "storage", [50, 60]), capacity_of(("A", "storage", 100, 23)), None,
                       PlanSettings())
    assert list(table.columns) == [
        "region", "metric", "unit", "capacity", "current_use", "current_utilisation", "peak_p50", "peak_plan",
        "peak_utilisation", "required_capacity", "change_units", "change_pct", "cost_per_unit_month",
        "monthly_cost_change", "exhaustion_p50", "exhaustion_p95", "headroom_breach", "order_by", "risk",
        "recommendation"]
    # Never-reached dates are still datetimes, so the page can format and sort them.
    assert pd.api.types.is_datetime64_any_dtype(table["exhaustion_p50"])
    assert table["exhaustion_p50"].isna().all()


def test_cpu_percent_becomes_vcpu_and_headroom_gives_what_could_be_released() -> None:
    # 100 % = the 1,000 vCPU of the capacity table; the planned peak 80 % = 800 vCPU.
    row = one_plan(paths_of("A", "cpu", [50, 80, 70], p50=[40, 60, 50]), capacity_of(("A", "cpu", 1000, 22)),
                   last_use=pd.DataFrame({"region": ["A"], "metric": ["cpu"], "current": [30.0]}))
    assert row["unit"] == "vCPU"
    assert row["current_use"] == pytest.approx(300) and row["current_utilisation"] == pytest.approx(0.3)
    assert row["peak_p50"] == pytest.approx(600) and row["peak_plan"] == pytest.approx(800)
    assert row["peak_utilisation"] == pytest.approx(0.8)
    assert row["required_capacity"] == pytest.approx(960)  # 800 x 1.2
    assert row["change_units"] == pytest.approx(-40) and row["change_pct"] == pytest.approx(-0.04)
    assert row["monthly_cost_change"] == pytest.approx(-880)
    assert row["risk"] == "ok"
    assert row["recommendation"] == "A CPU utilisation: no action needed: peak P95 uses 80% of capacity."


def test_to_capacity_units_converts_only_percent_metrics() -> None:
    assert to_capacity_units(45.0, "cpu", 2000) == pytest.approx(900)
    assert to_capacity_units(45.0, "storage", 2000) == 45.0
    assert list(to_capacity_units(pd.Series([10.0, 50.0]), "cpu", 300)) == pytest.approx([30, 150])


def test_an_order_is_sized_with_headroom_and_priced() -> None:
    row = one_plan(paths_of("A", "storage", [90, 95, 99]), capacity_of(("A", "storage", 100, 23)))
    assert row["required_capacity"] == pytest.approx(118.8)
    assert row["change_units"] == pytest.approx(18.8) and row["change_pct"] == pytest.approx(0.188)
    assert row["monthly_cost_change"] == pytest.approx(18.8 * 23)
    assert row["risk"] == "high"
    assert "order +19% (≈ 19 TB, ≈ $430/month)" in row["recommendation"]


def test_large_numbers_read_with_separators_and_two_significant_figures() -> None:
    row = one_plan(paths_of("Germany West Central", "cpu", [80, 91, 85]),
                   capacity_of(("Germany West Central", "cpu", 15000, 22)), PlanSettings(lead_time_days=0))
    # required 13,650 x 1.2 = 16,380 vCPU: +1,380 vCPU, $30,360 a month
    assert row["recommendation"] == ("Germany West Central CPU utilisation: P95 reaches 91% of capacity on 2026-01-02; "
                                     "order +9.2% (≈ 1,400 vCPU, ≈ $30,000/month) by 2026-01-02.")


def test_no_cost_means_no_price_rather_than_a_made_up_one() -> None:
    row = one_plan(paths_of("A", "storage", [90, 99]), capacity_of(("A", "storage", 100, np.nan)))
    assert math.isnan(row["monthly_cost_change"])
    assert "(≈ 19 TB) by" in row["recommendation"] and "$" not in row["recommendation"]


def test_missing_forecast_values_are_ignored_for_peaks() -> None:
    row = one_plan(paths_of("A", "storage", [50, np.nan, 60]), capacity_of(("A", "storage", 100, 23)))
    assert row["peak_plan"] == pytest.approx(60)


# ---- dates ------------------------------------------------------------------------------------------


def exhausting(**settings: object) -> pd.Series:
    paths = paths_of("A", "storage", [70, 85, 90, 92, 94, 96], p50=[80, 90, 95, 100, 105, 110],
                     p95=[90, 100, 105, 110, 115, 120])
    return one_plan(paths, capacity_of(("A", "storage", 100, 23)), PlanSettings(quantile=0.8, **settings))


def test_p95_runs_out_before_p50_and_the_order_date_is_the_breach_minus_the_lead_time() -> None:
    row = exhausting(lead_time_days=10, today=pd.Timestamp("2025-12-20"))
    assert row["exhaustion_p95"] == pd.Timestamp("2026-01-02")
    assert row["exhaustion_p50"] == pd.Timestamp("2026-01-04")
    assert row["headroom_breach"] == pd.Timestamp("2026-01-02")  # 85 x 1.2 = 102 >= 100; 70 x 1.2 = 84 is not
    assert row["order_by"] == pd.Timestamp("2025-12-23")
    assert row["recommendation"].startswith("A Storage used: P80 reaches 96% of capacity on 2026-01-06 "
                                            "(it runs out from 2026-01-02 at P95, 2026-01-04 at P50); order +15%")
    assert row["recommendation"].endswith("by 2025-12-23.")


def test_an_order_date_already_past_says_order_now_and_by_how_much_it_is_late() -> None:
    row = exhausting(lead_time_days=10, today=pd.Timestamp("2025-12-31"))
    assert row["order_by"] == pd.Timestamp("2025-12-23")
    assert row["recommendation"].endswith("now: 8 days later than the 10-day lead time allows.")


def test_hourly_plans_give_hours_in_utc() -> None:
    hours = pd.date_range("2026-01-01 00:00", periods=6, freq="h", tz="UTC")
    paths = paths_of("A", "storage", [70, 80, 90, 96, 99, 101], ds=hours)
    row = one_plan(paths, capacity_of(("A", "storage", 100, 23)),
                   PlanSettings(lead_time_days=0, today=pd.Timestamp("2026-01-01 00:00")))  # naive: read as UTC
    assert row["exhaustion_p95"] == pd.Timestamp("2026-01-01 05:00", tz="UTC")
    assert "(it runs out from 2026-01-01 05:00 UTC at P95, 2026-01-01 05:00 UTC at P50)" in row["recommendation"]
    assert row["recommendation"].endswith("by 2026-01-01 02:00 UTC.")  # 80 x 1.2 = 96 fits, 90 x 1.2 does not


# ---- risk -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("metric", "capacity", "peak", "risk"), [
    ("storage", 100, 95, "high"), ("storage", 100, 94.9, "medium"), ("storage", 100, 85, "medium"),
    ("storage", 100, 84.9, "ok"), ("storage", 100, 25.1, "ok"), ("storage", 100, 25, "over-provisioned"),
    # percent metrics: 95 % of 3 vCPU / 3 is 0.9499999999999998 in floats, still exactly the threshold
    ("cpu", 3, 95, "high"), ("cpu", 13, 85, "medium"), ("cpu", 300, 25, "over-provisioned"),
])
def test_risk_thresholds_are_inclusive(metric: str, capacity: float, peak: float, risk: str) -> None:
    row = one_plan(paths_of("A", metric, [peak / 2, peak]), capacity_of(("A", metric, capacity, 1)))
    assert row["risk"] == risk


def test_custom_thresholds_move_the_risk() -> None:
    paths = paths_of("A", "storage", [75])
    cap = capacity_of(("A", "storage", 100, 23))
    assert one_plan(paths, cap)["risk"] == "ok"
    assert one_plan(paths, cap, PlanSettings(high=0.9, medium=0.7, low=0.4))["risk"] == "medium"
    assert one_plan(paths_of("A", "storage", [40]), cap, PlanSettings(high=0.9, medium=0.7, low=0.4))["risk"] == \
        "over-provisioned"


@pytest.mark.parametrize(("settings", "words"), [
    ({"low": 0.85, "medium": 0.85}, "low < medium <= high"),
    ({"medium": 0.96, "high": 0.95}, "low < medium <= high"),
    ({"low": float("nan")}, "low < medium <= high"),
    ({"quantile": 1.0}, "service level"),
    ({"quantile": 0.0}, "service level"),
    ({"headroom": -0.1}, "headroom"),
    ({"lead_time_days": -1}, "lead time"),
])
def test_invalid_settings_are_refused_with_a_reason(settings: dict[str, float], words: str) -> None:
    with pytest.raises(InputError, match=words):
        PlanSettings(**settings)  # type: ignore[arg-type]


def test_over_provisioned_says_how_much_could_be_released() -> None:
    row = one_plan(paths_of("A", "storage", [100, 150]), capacity_of(("A", "storage", 1000, 23)))
    assert row["change_units"] == pytest.approx(-820)  # 1,000 - 150 x 1.2
    assert row["recommendation"] == ("A Storage used: over-provisioned: peak P95 uses 15%; about 820 TB "
                                     "(≈ $19,000/month) could be released while keeping 20% headroom.")


def test_just_below_capacity_never_reads_as_full() -> None:
    row = one_plan(paths_of("A", "storage", [90, 99.7]), capacity_of(("A", "storage", 100, 23)))
    assert pd.isna(row["exhaustion_p95"])
    assert "P95 reaches 99% of capacity on 2026-01-02;" in row["recommendation"]


# ---- unknown capacity and bad input -----------------------------------------------------------------


def test_a_series_without_capacity_is_unknown_and_says_so() -> None:
    paths = pd.concat([paths_of("A", "storage", [50, 60]), paths_of("B", "cpu", [50, 60])], ignore_index=True)
    table = plan_table(paths, capacity_of(("C", "storage", 100, 23)), None, PlanSettings())
    assert list(table["risk"]) == ["unknown", "unknown"]
    assert table["capacity"].isna().all() and table["change_units"].isna().all()
    assert table["peak_plan"].iloc[0] == pytest.approx(60)  # TB are known without a capacity
    assert math.isnan(table["peak_plan"].iloc[1])  # a CPU % cannot become vCPU without one
    assert table["recommendation"].iloc[0] == ("A Storage used: capacity unknown: add it in the capacity table to "
                                               "get a plan.")


@pytest.mark.parametrize("capacity", [0.0, -5.0])
def test_a_non_positive_capacity_is_unknown_with_a_note(capacity: float) -> None:
    row = one_plan(paths_of("A", "storage", [50, 60]), capacity_of(("A", "storage", capacity, 23)))
    assert row["risk"] == "unknown" and math.isnan(row["capacity"])
    assert f"capacity {capacity:g} TB is not usable" in row["recommendation"]


def test_duplicate_capacity_rows_are_refused_naming_them() -> None:
    cap = capacity_of(("A", "storage", 100, 23), ("A", "storage", 120, 23), ("B", "storage", 100, 23))
    with pytest.raises(InputError, match="A / storage"):
        plan_table(paths_of("A", "storage", [50]), cap, None, PlanSettings())


def test_empty_paths_are_refused() -> None:
    with pytest.raises(InputError, match="empty"):
        plan_table(paths_of("A", "storage", [])[0:0], capacity_of(("A", "storage", 100, 23)), None, PlanSettings())


# ---- newsvendor -------------------------------------------------------------------------------------


def test_newsvendor_quantile_balances_shortage_and_idle_cost() -> None:
    assert newsvendor_quantile(4, 1) == pytest.approx(0.8)
    assert newsvendor_quantile(1, 1) == pytest.approx(0.5)
    assert PlanSettings(quantile=newsvendor_quantile(4, 1)).label == "P80"
    assert PlanSettings(quantile=0.975).label == "P97.5" and PlanSettings(quantile=0.9).label == "P90"


@pytest.mark.parametrize(("shortage", "idle"), [(0, 1), (1, 0), (-4, 1), (float("nan"), 1), (float("inf"), 1)])
def test_newsvendor_refuses_costs_that_are_not_positive(shortage: float, idle: float) -> None:
    with pytest.raises(InputError, match="must be a positive number"):
        newsvendor_quantile(shortage, idle)


# ---- N-1 --------------------------------------------------------------------------------------------


def three_regions() -> tuple[pd.DataFrame, pd.DataFrame]:
    loads = {"A": [50, 60, 70], "B": [50, 50, 50], "C": [100, 150, 120]}
    paths = pd.concat([paths_of(r, "storage", v) for r, v in loads.items()], ignore_index=True)
    return paths, capacity_of(("A", "storage", 100, 23), ("B", "storage", 100, 23), ("C", "storage", 200, 23))


def test_n_minus_one_absorbs_a_small_region_and_not_the_big_one() -> None:
    paths, cap = three_regions()
    out = n_minus_one(paths, cap).set_index("failed_region")
    # A fails: B spare 50 + C spare 100/50/80 against A's 50/60/70 -> tightest 40 on day 2.
    assert bool(out.loc["A", "absorbable"]) and pd.isna(out.loc["A", "first_short"])
    assert out.loc["A", "worst_shortfall"] == 0
    assert out.loc["A", "note"] == ("if A fails, the other regions can absorb its load; the tightest margin is "
                                    "40 TB on 2026-01-02")
    assert bool(out.loc["B", "absorbable"])
    # C fails: A+B spare 100/90/80 against 100/150/120 -> day 1 exactly fits, short 60 on day 2, 40 on day 3.
    assert not bool(out.loc["C", "absorbable"])
    assert out.loc["C", "first_short"] == pd.Timestamp("2026-01-02")
    assert out.loc["C", "worst_shortfall"] == pytest.approx(60)
    assert out.loc["C", "note"] == "if C fails, the other regions are short of 60 TB from 2026-01-02"


def test_n_minus_one_converts_percent_and_never_counts_an_overloaded_region_as_spare() -> None:
    paths = pd.concat([paths_of("A", "cpu", [50]), paths_of("B", "cpu", [30]), paths_of("C", "cpu", [120])],
                      ignore_index=True)
    cap = capacity_of(("A", "cpu", 200, 22), ("B", "cpu", 100, 22), ("C", "cpu", 100, 22))
    out = n_minus_one(paths, cap).set_index("failed_region")
    assert (out["unit"] == "vCPU").all()
    # A fails: 100 vCPU to move; B has 70 spare, C is at 120 vCPU of 100 and has none (not -20).
    assert out.loc["A", "worst_shortfall"] == pytest.approx(30)
    # B fails: 30 vCPU to move into A's 100 spare.
    assert bool(out.loc["B", "absorbable"])


def test_n_minus_one_skips_a_metric_with_unknown_capacity_and_says_why() -> None:
    paths, cap = three_regions()
    out = n_minus_one(paths, cap.iloc[:2])
    assert len(out) == 1 and pd.isna(out["absorbable"].iloc[0])
    assert out["note"].iloc[0] == "Storage used skipped: capacity unknown for C"


# ---- replay -----------------------------------------------------------------------------------------


def test_replay_counts_breaches_skipping_rows_without_a_plan_or_an_actual() -> None:
    c1, c2 = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")
    replay = pd.DataFrame({
        "series_id": ["s1"] * 5 + ["s2"] * 3 + ["s3"],
        "cutoff": [c1, c1, c1, c2, c2, c1, c1, c1, c1],
        "ds": pd.date_range("2025-03-01", periods=9, freq="D"),
        "y": [10, 12, 8, 11, 15, 5, np.nan, 7, 3],
        "planned": [11, 11, 11, 11, np.nan, 4, 4, 8, np.nan],
    })
    out = replay_breaches(replay).set_index("series_id")
    assert list(out.index) == ["s1", "s2", "s3", "all"]
    # s1: 12 > 11 breaches; 11 = 11 does not; the point without a plan is skipped.
    assert out.loc["s1", ["windows", "points", "breaches"]].tolist() == [2, 4, 1]
    assert out.loc["s1", "breach_rate"] == pytest.approx(0.25)
    assert out.loc["s2", ["windows", "points", "breaches"]].tolist() == [1, 2, 1]
    assert out.loc["s3", "points"] == 0 and math.isnan(out.loc["s3", "breach_rate"])
    assert out.loc["all", ["windows", "points", "breaches"]].tolist() == [2, 6, 2]
    assert out.loc["all", "breach_rate"] == pytest.approx(2 / 6)
