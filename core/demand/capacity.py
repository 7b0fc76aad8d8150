"""Capacity planning arithmetic: forecast demand paths and installed capacity become a plan per series.

Pure pandas/numpy: the service gathers forecast paths, the capacity table and recent use; the page shows
the frames returned here. Every quantity out is in the capacity unit (vCPU, TB, users): percent-of-capacity
metrics (CPU %) are converted with the capacity table, so a plan can be priced and ordered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from core.demand import config
from core.errors import InputError

PATH_COLUMNS = ("region", "metric", "ds", "p50", "p95", "plan")
REPLAY_COLUMNS = ("series_id", "cutoff", "ds", "y", "planned")
PLAN_COLUMNS = ("region", "metric", "unit", "capacity", "current_use", "current_utilisation", "peak_p50", "peak_plan",
                "peak_utilisation", "required_capacity", "change_units", "change_pct", "cost_per_unit_month",
                "monthly_cost_change", "exhaustion_p50", "exhaustion_p95", "headroom_breach", "order_by", "risk",
                "recommendation")
N_MINUS_ONE_COLUMNS = ("metric", "failed_region", "absorbable", "first_short", "worst_shortfall", "unit", "note")
BREACH_COLUMNS = ("series_id", "windows", "points", "breaches", "breach_rate")
_TIME_COLUMNS = ("exhaustion_p50", "exhaustion_p95", "headroom_breach", "order_by")
_TOL = 1e-9  # percent -> units is not exact in floats: 95 % of capacity must still count as 0.95

Values = TypeVar("Values", float, pd.Series, np.ndarray)


@dataclass(frozen=True)
class PlanSettings:
    """The planner's choices: service level, headroom, lead time, risk thresholds and the plan's "now"."""

    quantile: float = field(default_factory=lambda: config.PLAN_QUANTILE)
    headroom: float = field(default_factory=lambda: config.PLAN_HEADROOM)
    lead_time_days: int = field(default_factory=lambda: config.PLAN_LEAD_TIME_DAYS)
    high: float = field(default_factory=lambda: config.RISK_HIGH)
    medium: float = field(default_factory=lambda: config.RISK_MEDIUM)
    low: float = field(default_factory=lambda: config.RISK_LOW)
    today: pd.Timestamp | None = None  # the last data time: an order date before it is "order now"

    def __post_init__(self) -> None:
        if not 0 < self.quantile < 1:
            raise InputError(f"the service level must be between 0 and 1 (0.95 = P95), not {self.quantile}")
        if not (self.headroom >= 0 and math.isfinite(self.headroom)):
            raise InputError(f"the headroom must be 0 or more (0.2 = 20 %), not {self.headroom}")
        if not self.lead_time_days >= 0:
            raise InputError(f"the lead time must be 0 days or more, not {self.lead_time_days}")
        if not 0 <= self.low < self.medium <= self.high:
            raise InputError(f"the risk thresholds must satisfy 0 <= low < medium <= high; got low {self.low}, "
                             f"medium {self.medium}, high {self.high}")
        if self.today is not None:
            object.__setattr__(self, "today", pd.Timestamp(self.today))

    @property
    def label(self) -> str:
        """The service level as planners say it: P95, P90, P97.5."""
        return f"P{round(self.quantile * 100, 3):g}"


def newsvendor_quantile(shortage_cost: float, idle_cost: float) -> float:
    """The service level where one more unit costs as much as it saves: Cu / (Cu + Co).

    Returned exactly (always strictly between 0 and 1); a ratio near 1 is legitimate but leans on the
    forecast's far tail. Raises InputError when a cost is not a positive finite number.
    """
    costs = []
    for name, cost in (("shortage", shortage_cost), ("idle", idle_cost)):
        value = _num(cost)
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"the {name} cost (per unit) must be a positive number, not {cost!r}")
        costs.append(value)
    return costs[0] / (costs[0] + costs[1])


def to_capacity_units(values: Values, metric: str, capacity: float) -> Values:
    """Demand in the capacity's unit: a percent-of-capacity metric is a share of ``capacity``; others pass."""
    info = config.METRICS.get(metric)
    if info is not None and info.percent_of_capacity:
        return values / 100 * capacity
    return values


def plan_table(paths: pd.DataFrame, capacity: pd.DataFrame, last_use: pd.DataFrame | None,
               settings: PlanSettings) -> pd.DataFrame:
    """One plan row per (region, metric) of ``paths`` (columns ``PLAN_COLUMNS``), in capacity units.

    Peaks, utilisation and risk use forecast demand without headroom; required capacity and the order date
    add the headroom. A series without a positive capacity gets risk "unknown".
    """
    paths = _checked_paths(paths)
    caps = _lookup(capacity, "capacity", ["capacity", "unit", "cost_per_unit_month"])
    used = _lookup(last_use, "last use", ["current"]) if last_use is not None else {}
    daily = _is_daily(paths["ds"])
    rows = []
    for (region, metric), group in paths.groupby(["region", "metric"], sort=False):
        key = (str(region), str(metric))
        given = caps.get(key, {})
        row, peak_at = _plan_row(key, group.sort_values("ds"), given, used.get(key, {}).get("current"), settings)
        row["recommendation"] = _recommend(row, settings, _num(given.get("capacity")), peak_at, daily)
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    for column in _TIME_COLUMNS:
        out[column] = pd.Series(list(out[column]), dtype=paths["ds"].dtype)
    return out


def n_minus_one(paths: pd.DataFrame, capacity: pd.DataFrame, *, column: str = "plan") -> pd.DataFrame:
    """Per metric and failed region: can the other regions' spare capacity (capacity - own load, floored at 0)
    absorb its load on every ds? Columns ``N_MINUS_ONE_COLUMNS``; a metric missing some region's capacity
    gets one row saying why it was skipped. A missing forecast counts as no spare and no load to move."""
    paths = _checked_paths(paths)
    if column not in paths.columns:
        raise InputError(f"the forecast paths have no column '{column}'")
    caps = _lookup(capacity, "capacity", ["capacity", "unit"])
    daily = _is_daily(paths["ds"])
    rows: list[dict[str, Any]] = []
    for metric, group in paths.groupby("metric", sort=False):
        metric = str(metric)
        regions = list(dict.fromkeys(group["region"].astype(str)))
        unit = _unit(metric, caps.get((regions[0], metric), {}).get("unit"))
        cap = {r: _num(caps.get((r, metric), {}).get("capacity")) for r in regions}
        unknown = [r for r in regions if not cap[r] > 0]
        why = (f"capacity unknown for {', '.join(unknown)}" if unknown
               else "only one region: nothing to fail over to" if len(regions) < 2 else "")
        if why:
            rows.append({"metric": metric, "failed_region": None, "absorbable": pd.NA, "first_short": pd.NaT,
                         "worst_shortfall": np.nan, "unit": unit, "note": f"{_metric_label(metric)} skipped: {why}"})
            continue
        wide = group.pivot(index="ds", columns="region", values=column).sort_index()
        load = pd.DataFrame({r: to_capacity_units(wide[r].astype(float), metric, cap[r]) for r in regions})
        spare = pd.DataFrame({r: (cap[r] - load[r]).clip(lower=0).fillna(0.0) for r in regions})
        for failed in regions:
            margin = spare.drop(columns=failed).sum(axis=1) - load[failed].fillna(0.0)
            short = margin < -_TOL * cap[failed]
            first = margin.index[short.to_numpy()][0] if short.any() else pd.NaT
            worst = float(-margin[short].min()) if short.any() else 0.0
            if short.any():
                note = (f"if {failed} fails, the other regions are short of {_approx(worst)} {unit} from "
                        f"{_when(first, daily)}")
            else:
                note = (f"if {failed} fails, the other regions can absorb its load; the tightest margin is "
                        f"{_approx(margin.min())} {unit} on {_when(margin.idxmin(), daily)}")
            rows.append({"metric": metric, "failed_region": failed, "absorbable": not short.any(),
                         "first_short": first, "worst_shortfall": worst, "unit": unit, "note": note})
    out = pd.DataFrame(rows, columns=list(N_MINUS_ONE_COLUMNS))
    out["absorbable"] = out["absorbable"].astype("boolean")
    out["first_short"] = pd.Series(list(out["first_short"]), dtype=paths["ds"].dtype)
    return out


def replay_breaches(replay: pd.DataFrame) -> pd.DataFrame:
    """How often actual demand went above the capacity a past plan set (``y > planned``): one row per series
    and a last row "all". A calibrated P95 plan is breached on about 5 % of points. Rows without a plan or
    an actual are skipped; ``windows`` counts distinct cutoffs."""
    _require(replay, REPLAY_COLUMNS, "replay")
    if replay.empty:
        raise InputError("the replay is empty: there are no past plans to check")
    kept = replay.loc[replay["planned"].notna() & replay["y"].notna()]
    breach = kept["y"].astype(float) > kept["planned"].astype(float)
    rows = []
    for series_id in dict.fromkeys(replay["series_id"]):
        mine = (kept["series_id"] == series_id).to_numpy()
        rows.append(_breach_row(series_id, kept.loc[mine, "cutoff"], breach[mine]))
    rows.append(_breach_row("all", kept["cutoff"], breach))
    return pd.DataFrame(rows, columns=list(BREACH_COLUMNS))


# ---- helpers -------------------------------------------------------------------------------------


def _plan_row(key: tuple[str, str], group: pd.DataFrame, given: dict[str, Any], current: Any,
              s: PlanSettings) -> tuple[dict[str, Any], Any]:
    region, metric = key
    raw = _num(given.get("capacity"))
    cap = raw if raw > 0 else np.nan
    cost = _num(given.get("cost_per_unit_month"))
    ds = group["ds"]
    p50, p95, plan = (to_capacity_units(group[c].astype(float), metric, cap) for c in ("p50", "p95", "plan"))
    peak_plan = float(plan.max())
    required = peak_plan * (1 + s.headroom)
    change = required - cap
    breach = _first(ds, plan * (1 + s.headroom) >= cap * (1 - _TOL))
    current_use = float(to_capacity_units(_num(current), metric, cap))
    util = peak_plan / cap
    risk = ("unknown" if not np.isfinite(util) else "high" if util >= s.high - _TOL
            else "medium" if util >= s.medium - _TOL else "over-provisioned" if util <= s.low + _TOL else "ok")
    row = {"region": region, "metric": metric, "unit": _unit(metric, given.get("unit")), "capacity": cap,
           "current_use": current_use, "current_utilisation": current_use / cap, "peak_p50": float(p50.max()),
           "peak_plan": peak_plan, "peak_utilisation": util, "required_capacity": required, "change_units": change,
           "change_pct": change / cap, "cost_per_unit_month": cost, "monthly_cost_change": change * cost,
           "exhaustion_p50": _first(ds, p50 >= cap * (1 - _TOL)),
           "exhaustion_p95": _first(ds, p95 >= cap * (1 - _TOL)), "headroom_breach": breach,
           "order_by": breach - pd.Timedelta(days=s.lead_time_days) if pd.notna(breach) else pd.NaT, "risk": risk}
    return row, ds.loc[plan.idxmax()] if plan.notna().any() else pd.NaT


def _recommend(r: dict[str, Any], s: PlanSettings, given: float, peak_at: Any, daily: bool) -> str:
    name, p, unit, change = f"{r['region']} {_metric_label(r['metric'])}", s.label, r["unit"], r["change_units"]
    if r["risk"] == "unknown":
        why = ("capacity unknown: add it in the capacity table to get a plan" if np.isnan(given)
               else f"capacity {given:g} {unit} is not usable (it must be above 0): correct it in the capacity "
                    f"table to get a plan" if given <= 0 else "no forecast for this series: nothing to plan")
        return f"{name}: {why}."
    use = _pct(r["peak_utilisation"])
    if r["risk"] in ("high", "medium"):
        head = f"{p} reaches {use} of capacity on {_when(peak_at, daily)}"
        if pd.notna(r["exhaustion_p95"]):
            at50 = f", {_when(r['exhaustion_p50'], daily)} at P50" if pd.notna(r["exhaustion_p50"]) else ""
            head += f" (it runs out from {_when(r['exhaustion_p95'], daily)} at P95{at50})"
    elif r["risk"] == "ok":
        head = f"{'no action needed: ' if change <= 0 else ''}peak {p} uses {use} of capacity"
    else:
        head = f"over-provisioned: peak {p} uses {use}"
    money = r["monthly_cost_change"]
    cost = f"≈ {config.CURRENCY_SYMBOL}{_approx(abs(money))}/month" if np.isfinite(money) else ""
    if change > 0:
        late = s.today is not None and r["order_by"] < _like(s.today, r["order_by"])
        days = math.ceil((_like(s.today, r["order_by"]) - r["order_by"]) / pd.Timedelta(days=1)) if late else 0
        when = (f"now: {days} day{'s' if days != 1 else ''} later than the {s.lead_time_days}-day lead time allows"
                if late
                else f"by {_when(r['order_by'], daily)}")
        action = f"order +{_pct(r['change_pct'])} (≈ {_approx(change)} {unit}{', ' + cost if cost else ''}) {when}"
    elif r["risk"] == "over-provisioned":
        action = (f"about {_approx(-change)} {unit}{' (' + cost + ')' if cost else ''} could be released while "
                  f"keeping {_pct(s.headroom)} headroom")
    elif r["risk"] in ("high", "medium"):
        action = f"capacity still keeps {_pct(s.headroom)} headroom above it"
    else:
        action = ""
    return f"{name}: {head}{'; ' + action if action else ''}."


def _checked_paths(paths: pd.DataFrame) -> pd.DataFrame:
    _require(paths, PATH_COLUMNS, "forecast paths")
    if paths.empty:
        raise InputError("the forecast paths are empty: there is nothing to plan")
    paths = paths.assign(ds=pd.to_datetime(paths["ds"]), region=paths["region"].astype(str),
                         metric=paths["metric"].astype(str))
    for column in ("p50", "p95", "plan"):
        if not pd.api.types.is_numeric_dtype(paths[column]):
            raise InputError(f"the forecast paths' column '{column}' must be numbers")
    repeated = paths.duplicated(["region", "metric", "ds"])
    if repeated.any():
        bad = paths.loc[repeated].iloc[0]
        raise InputError(f"the forecast paths have region '{bad['region']}', metric '{bad['metric']}' at "
                         f"{bad['ds']} more than once")
    return paths


def _lookup(frame: pd.DataFrame, what: str, values: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """(region, metric) -> {column: value}; refuses a repeated pair, naming it (rows are never added up)."""
    _require(frame, ("region", "metric", values[0]), what)
    keys = frame[["region", "metric"]].astype(str)
    repeated = keys.loc[keys.duplicated()].drop_duplicates()
    if not repeated.empty:
        pairs = ", ".join(f"{r.region} / {r.metric}" for r in repeated.itertuples())
        raise InputError(f"the {what} table has more than one row for {pairs}: keep one row per region and metric")
    cols = [c for c in values if c in frame.columns]
    return {(str(k[0]), str(k[1])): dict(zip(cols, v, strict=True))
            for k, v in zip(keys.itertuples(index=False), frame[cols].itertuples(index=False), strict=True)}


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"the {what} lack the column(s) {', '.join(missing)}")


def _breach_row(series_id: Any, cutoffs: pd.Series, breach: pd.Series) -> dict[str, Any]:
    points, hits = len(breach), int(breach.sum())
    return {"series_id": series_id, "windows": int(cutoffs.nunique()), "points": points, "breaches": hits,
            "breach_rate": hits / points if points else np.nan}


def _first(ds: pd.Series, mask: pd.Series) -> Any:
    hit = ds[mask.to_numpy()]
    return hit.iloc[0] if len(hit) else pd.NaT


def _num(value: Any) -> float:
    number = pd.to_numeric(value, errors="coerce") if value is not None else np.nan
    return float(number) if pd.notna(number) else np.nan


def _unit(metric: str, given: Any) -> str:
    info = config.METRICS.get(metric)
    return info.capacity_unit if info else str(given) if isinstance(given, str) and given else metric


def _metric_label(metric: str) -> str:
    info = config.METRICS.get(metric)
    return info.label if info else metric


def _is_daily(ds: pd.Series) -> bool:
    """Dates alone when every time is a midnight (daily or coarser data); hours otherwise."""
    return bool((ds.dropna() == ds.dropna().dt.normalize()).all())


def _when(stamp: Any, daily: bool) -> str:
    if pd.isna(stamp):
        return "never"
    stamp = pd.Timestamp(stamp)
    if daily:
        return stamp.strftime("%Y-%m-%d")
    return stamp.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC") if stamp.tzinfo else stamp.strftime("%Y-%m-%d %H:%M")


def _like(stamp: Any, ref: Any) -> pd.Timestamp:
    """``stamp`` comparable with ``ref``: a naive time is read as UTC next to an aware one."""
    stamp = pd.Timestamp(stamp)
    if stamp.tzinfo is None and getattr(ref, "tzinfo", None) is not None:
        return stamp.tz_localize("UTC")
    if stamp.tzinfo is not None and getattr(ref, "tzinfo", None) is None:
        return stamp.tz_convert(None)
    return stamp


def _approx(x: float) -> str:
    """Two significant figures with thousands separators: 1834 -> '1,800', 3.44 -> '3.4'."""
    if not np.isfinite(x) or x == 0:
        return "0"
    digits = 1 - math.floor(math.log10(abs(x)))
    return f"{round(x, digits):,.{max(digits, 0)}f}"


def _pct(share: float) -> str:
    """A share as a percent; just below capacity never reads as "100%" (99.6 % -> "99%")."""
    value = share * 100
    if abs(value) < 10:
        return f"{value:.2g}%"
    return f"{min(round(value), 99) if 99 < value < 100 else round(value):,}%"
