"""What the demand data says on its own: local-day values, holidays, weekly and yearly shape, growth,
regions side by side, utilisation and the headline KPIs. Pure pandas: no page, no storage.

Calendar questions (which day, which weekday, which holiday) are asked in each region's local time:
hourly data is stamped in UTC and is converted first; daily data is already in local days.
Missing values stay missing: every mean ignores them, none is read as zero.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from core.demand import config
from core.demand.data import DemandData
from core.errors import InputError
from core.forecast.calendar import holiday_flags

KEYS = ["series_id", "region", "metric"]
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAYS_PER_YEAR = 365.25


def daily_values(data: DemandData) -> pd.DataFrame:
    """One value per series and local calendar day: ``series_id, region, metric, day, y``.

    Finer data is averaged over each local day of its region (a day's mean, hours without a value
    ignored); the first and last local days are dropped when the data covers them only in part, as
    a part of a day would carry only some of its hours' daily pattern.
    """
    panel = data.panel
    if data.step >= pd.Timedelta(days=1):
        ds = panel["ds"]
        day = (ds.dt.tz_localize(None) if ds.dt.tz is not None else ds).dt.normalize()
        return panel.assign(day=day)[[*KEYS, "day", "y"]].reset_index(drop=True)
    zones = dict(zip(data.regions["region"], data.regions["timezone"], strict=True))
    parts = []
    for region, group in panel.groupby("region", sort=False):
        ds = group["ds"]
        utc = ds.dt.tz_convert("UTC") if ds.dt.tz is not None else ds.dt.tz_localize("UTC")
        zone = zones.get(region)
        local = utc.dt.tz_convert(zone if isinstance(zone, str) and zone else "UTC")
        by_series = local.groupby(group["series_id"])
        first, end = by_series.transform("min"), by_series.transform("max") + data.step
        day = local.dt.tz_localize(None).dt.normalize()
        partial = (((day == first.dt.tz_localize(None).dt.normalize()) & (first != first.dt.normalize()))
                   | ((day == end.dt.tz_localize(None).dt.normalize()) & (end != end.dt.normalize())))
        kept = group.assign(day=day).loc[~partial]
        parts.append(kept.groupby([*KEYS, "day"], sort=False)["y"].mean().reset_index())
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["series_id", "day"], kind="stable").reset_index(drop=True)


def holiday_impact(data: DemandData) -> pd.DataFrame:
    """Demand on weekday public holidays against the same weekday a week before and after, per region and
    metric: ``region, country, metric, holidays, holiday_mean, usual_mean, impact_pct, note``.

    The neighbours a week away share the holiday's weekday and nearly its trend, so the gap is the
    holiday's own effect. Only the region's own country calendar counts (a French holiday is an
    ordinary day in the US); comparison days that are holidays or have no value are left out, and a
    holiday with no usable comparison day is not counted. A region without a country gets rows with
    0 holidays and says so.
    """
    countries = dict(zip(data.regions["region"], data.regions["country"], strict=True))
    rows = []
    for _sid, region, metric, s in _daily_series(data):
        country = countries.get(region)
        row = {"region": region, "country": country, "metric": metric, "holidays": 0,
               "holiday_mean": np.nan, "usual_mean": np.nan, "impact_pct": np.nan}
        if not isinstance(country, str) or not country:
            rows.append({**row, "country": None, "note": "no country set: holidays unknown"})
            continue
        holiday = pd.Series(holiday_flags(pd.DatetimeIndex(s.index), country) == 1.0, index=s.index)
        candidates = s.index[holiday.to_numpy() & (s.index.dayofweek < 5) & s.notna().to_numpy()]
        on_holiday, usual = [], []
        for day in candidates:
            near = [d for d in (day - pd.Timedelta(days=7), day + pd.Timedelta(days=7))
                    if d in s.index and not holiday[d] and pd.notna(s[d])]
            if near:
                on_holiday.append(s[day])
                usual.append(float(np.mean([s[d] for d in near])))
        if on_holiday:
            h_mean, u_mean = float(np.mean(on_holiday)), float(np.mean(usual))
            impact = (h_mean / u_mean - 1.0) * 100.0 if u_mean else np.nan
            row.update(holidays=len(on_holiday), holiday_mean=h_mean, usual_mean=u_mean, impact_pct=impact)
            note = f"{country} weekday holidays vs the same weekday a week before and after"
        else:
            note = f"no weekday {country} holiday with a value and a usable week-before/after day"
        rows.append({**row, "note": note})
    columns = ["region", "country", "metric", "holidays", "holiday_mean", "usual_mean", "impact_pct", "note"]
    return pd.DataFrame(rows, columns=columns).astype({"holidays": int})


def weekday_profile(data: DemandData) -> pd.DataFrame:
    """Each series' mean per local weekday relative to the average of its seven weekday means (1.0 =
    an average day): ``series_id, region, metric, weekday (0 = Monday), weekday_name, relative``.

    Dividing by the mean of the weekday means, not of all days, keeps a missing day or a partial
    week from tilting the index towards the weekdays that happen to be counted more often.
    """
    rows = []
    for sid, region, metric, s in _daily_series(data):
        means = s.groupby(s.index.dayofweek).mean().dropna()
        if means.empty or not means.mean():
            continue
        for weekday, value in (means / means.mean()).items():
            rows.append({"series_id": sid, "region": region, "metric": metric, "weekday": int(weekday),
                         "weekday_name": WEEKDAY_NAMES[int(weekday)], "relative": float(value)})
    return pd.DataFrame(rows, columns=[*KEYS, "weekday", "weekday_name", "relative"])


def yearly_profile(data: DemandData) -> pd.DataFrame:
    """Each series' mean per calendar month relative to its yearly mean (1.0 = an average month):
    ``series_id, region, metric, month, relative``.

    Values are divided by their trend first (a centred 365-day mean where two years allow it, else a
    log-linear fit), so growth does not pass for a rise towards December. Series shorter than a year
    are left out; when none qualifies the frame is empty and ``attrs["note"]`` says why.
    """
    rows, longest = [], 0
    for sid, region, metric, s in _daily_series(data):
        span = (s.index[-1] - s.index[0]).days + 1 if len(s) else 0
        longest = max(longest, span)
        if span < config.YEARLY_MIN_DAYS:
            continue
        if span >= 2 * config.YEARLY_MIN_DAYS:
            level = s.rolling(365, center=True, min_periods=300).mean()
        else:
            level = _log_linear_level(s)
        ratio = (s / level).replace([np.inf, -np.inf], np.nan)
        months = ratio.groupby(ratio.index.month).mean().dropna()
        for month, value in (months / months.mean()).items():
            rows.append({"series_id": sid, "region": region, "metric": metric, "month": int(month),
                         "relative": float(value)})
    out = pd.DataFrame(rows, columns=[*KEYS, "month", "relative"])
    if out.empty:
        out.attrs["note"] = (f"a yearly profile needs at least {config.YEARLY_MIN_DAYS} days of data; "
                             f"the longest series covers {longest}")
    return out


def growth_rates(data: DemandData) -> pd.DataFrame:
    """Yearly growth per series: ``series_id, region, metric, growth_per_year_pct, yoy_pct, days``.

    ``growth_per_year_pct`` comes from a straight line through the log of the last (up to) 365 daily
    values, so it is a compound rate and one outlier or gap moves it little; ``days`` is how many values
    it used (at least ``GROWTH_MIN_DAYS``, else NaN). ``yoy_pct`` compares the mean of the last 28 days
    with the same 28 calendar days a year before (four whole weeks each, so weekdays weigh alike); NaN
    until the data reaches back that far.
    """
    rows = []
    for sid, region, metric, s in _daily_series(data):
        growth, used = _growth_per_year(s)
        yoy = np.nan
        if len(s):
            end = s.index[-1]
            recent = s[s.index > end - pd.Timedelta(days=config.YOY_DAYS)]
            then = end - pd.DateOffset(years=1)
            before = s[(s.index > then - pd.Timedelta(days=config.YOY_DAYS)) & (s.index <= then)]
            if s.index[0] <= then - pd.Timedelta(days=config.YOY_DAYS - 1) and before.notna().any():
                yoy = (recent.mean() / before.mean() - 1.0) * 100.0 if before.mean() else np.nan
        rows.append({"series_id": sid, "region": region, "metric": metric, "growth_per_year_pct": growth,
                     "yoy_pct": yoy, "days": used})
    return pd.DataFrame(rows, columns=[*KEYS, "growth_per_year_pct", "yoy_pct", "days"])


def trends(data: DemandData, window_days: int | None = None) -> pd.DataFrame:
    """Daily values with a trailing mean over the last ``window_days`` days (default 28), today included,
    nothing from the future: ``series_id, region, metric, day, y, trend``. NaN until half a window has values.
    """
    window = int(window_days or config.TREND_WINDOW_DAYS)
    if window < 1:
        raise InputError(f"the trend window must be at least 1 day, not {window}")
    daily = daily_values(data)
    trend = pd.Series(np.nan, index=daily.index)
    for _sid, group in daily.groupby("series_id", sort=False):
        rolled = group.set_index("day")["y"].rolling(f"{window}D", min_periods=max(1, window // 2)).mean()
        trend.loc[group.index] = rolled.to_numpy()
    return daily.assign(trend=trend)


def region_comparison(data: DemandData) -> pd.DataFrame:
    """Regions side by side per metric over each series' last 30 days: ``metric, region, recent_mean,
    recent_peak, share_pct, growth_per_year_pct``.

    The peak is the highest single reading (an hour for hourly data), the one capacity must carry.
    ``share_pct`` is the region's part of the metric's total, only for additive metrics (storage,
    users): percentages such as CPU do not add up across regions, so their share is NaN.
    """
    recent = _recent(data).groupby(KEYS, sort=False)["y"].agg(recent_mean="mean", recent_peak="max").reset_index()
    growth = growth_rates(data)[[*KEYS, "growth_per_year_pct"]]
    out = recent.merge(growth, on=KEYS, how="left")
    totals = out.groupby("metric")["recent_mean"].transform("sum")
    additive = ~out["metric"].map(lambda m: _is_share(data, m)).astype(bool)
    out["share_pct"] = (out["recent_mean"] / totals * 100.0).where(additive & (totals > 0))
    out = out.sort_values(["metric", "region"], kind="stable").reset_index(drop=True)
    return out[["metric", "region", "recent_mean", "recent_peak", "share_pct", "growth_per_year_pct"]]


def correlations(data: DemandData, metric: str) -> pd.DataFrame:
    """How regions move together for one metric: the correlation of their day-over-day changes in
    detrended log values, a square region x region frame.

    Levels that all grow correlate near 1 whatever happens day to day; removing each region's log-linear
    trend and its average weekday shape (which every region shares) before differencing leaves the daily
    surprises, so a high value means regions rise and fall together on the same unusual days.
    """
    if metric not in data.metric_names:
        raise InputError(f"no metric '{metric}' (metrics: {', '.join(data.metric_names)})")
    daily = daily_values(data)
    wide = daily.loc[daily["metric"] == metric].pivot(index="day", columns="region", values="y")
    if data.step <= pd.Timedelta(days=1) and len(wide):
        wide = wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq="D"))
    logs = np.log(wide.where(wide > 0))
    detrended = logs.apply(lambda col: col - np.log(_log_linear_level(np.exp(col))))
    detrended = detrended - detrended.groupby(detrended.index.dayofweek).transform("mean")
    out = detrended.diff().corr(min_periods=3)
    out.index.name, out.columns.name = "region", None
    return out


def utilisation(data: DemandData) -> pd.DataFrame:
    """Share of installed capacity in use over each series' last 30 days: ``region, metric,
    average_utilisation, peak_utilisation`` (1.0 = full).

    CPU is already a percentage of capacity, so it is divided by 100; other metrics by their capacity.
    Series without a positive capacity are skipped. The peak is the highest single reading.
    """
    columns = ["region", "metric", "average_utilisation", "peak_utilisation"]
    capacity = data.capacity.loc[data.capacity["capacity"].gt(0), ["region", "metric", "capacity"]]
    recent = _recent(data).merge(capacity, on=["region", "metric"], how="inner")
    if recent.empty:
        return pd.DataFrame(columns=columns)
    share = recent["metric"].map(lambda m: _is_share(data, m)).astype(bool)
    recent["used"] = np.where(share, recent["y"] / 100.0, recent["y"] / recent["capacity"])
    out = recent.groupby(["region", "metric"], sort=False)["used"].agg(
        average_utilisation="mean", peak_utilisation="max").reset_index()
    return out[columns]


def kpis(data: DemandData, *, backtest: pd.DataFrame | None = None,
         plan: pd.DataFrame | None = None) -> dict[str, float | int | None]:
    """The headline numbers, None where the input to compute one is missing.

    - ``regions``, ``series``: how many the data has;
    - ``forecast_accuracy``: 1 - WAPE of the ``chosen`` forecasts in ``backtest`` (``series_id, y, chosen``),
      WAPE = sum|y - chosen| / sum|y| over rows with both; can fall below 0 when errors exceed demand;
    - ``average_utilisation``, ``peak_utilisation``: the mean of the series' 30-day averages and the
      highest 30-day peak, from ``utilisation`` (1.0 = full);
    - ``regions_at_risk``: distinct regions whose ``plan["risk"]`` is high or medium;
    - ``monthly_cost``: sum of capacity x cost_per_unit_month over the capacity table's priced rows;
    - ``projected_monthly_cost``: ``monthly_cost`` plus the plan's positive ``monthly_cost_change`` (only
      capacity added; releases are not counted as savings until they happen).
    """
    accuracy = None
    if backtest is not None:
        both = backtest[["y", "chosen"]].apply(pd.to_numeric).dropna()
        denominator = float(both["y"].abs().sum())
        if denominator > 0:
            accuracy = 1.0 - float((both["y"] - both["chosen"]).abs().sum()) / denominator
    used = utilisation(data)
    priced = data.capacity[["capacity", "cost_per_unit_month"]].apply(pd.to_numeric).dropna()
    monthly = float((priced["capacity"] * priced["cost_per_unit_month"]).sum()) if len(priced) else None
    at_risk, projected = None, None
    if plan is not None:
        at_risk = int(plan.loc[plan["risk"].isin(config.AT_RISK_LEVELS), "region"].nunique())
        if monthly is not None:
            change = pd.to_numeric(plan["monthly_cost_change"])
            projected = monthly + float(change[change > 0].sum())
    return {"regions": len(data.regions), "series": len(data.series_ids), "forecast_accuracy": accuracy,
            "average_utilisation": float(used["average_utilisation"].mean()) if len(used) else None,
            "peak_utilisation": float(used["peak_utilisation"].max()) if len(used) else None,
            "regions_at_risk": at_risk, "monthly_cost": monthly, "projected_monthly_cost": projected}


# ---- helpers ------------------------------------------------------------------------------------


def _daily_series(data: DemandData) -> Iterator[tuple[str, str, str, pd.Series]]:
    """Each series' daily values indexed by day; for daily or finer data on a gap-free daily grid, so a
    week before is seven rows back and a missing day is NaN rather than absent."""
    for (sid, region, metric), group in daily_values(data).groupby(KEYS, sort=False):
        s = group.set_index("day")["y"].astype(float)
        if data.step <= pd.Timedelta(days=1) and len(s):
            s = s.reindex(pd.date_range(s.index[0], s.index[-1], freq="D"))
        yield str(sid), str(region), str(metric), s


def _log_fit(s: pd.Series) -> tuple[float, float, int]:
    """Slope per day and intercept of log(y) on days since the first value; positive values only."""
    ok = s.notna() & (s > 0)
    if ok.sum() < 2:
        return np.nan, np.nan, int(ok.sum())
    t = np.asarray((s.index[ok.to_numpy()] - s.index[0]) / pd.Timedelta(days=1), dtype=float)
    slope, intercept = np.polyfit(t, np.log(s[ok].to_numpy(dtype=float)), 1)
    return float(slope), float(intercept), int(ok.sum())


def _log_linear_level(s: pd.Series) -> pd.Series:
    """The exponential trend through a series (NaN when it has fewer than two positive values)."""
    slope, intercept, _ = _log_fit(s)
    t = np.asarray((s.index - s.index[0]) / pd.Timedelta(days=1), dtype=float) if len(s) else np.zeros(0)
    return pd.Series(np.exp(intercept + slope * t), index=s.index)


def _growth_per_year(s: pd.Series) -> tuple[float, int]:
    if not len(s):
        return np.nan, 0
    last = s[s.index > s.index[-1] - pd.Timedelta(days=config.GROWTH_WINDOW_DAYS)]
    slope, _, used = _log_fit(last)
    if used < config.GROWTH_MIN_DAYS:
        return np.nan, used
    return float(np.expm1(slope * DAYS_PER_YEAR) * 100.0), used


def _recent(data: DemandData) -> pd.DataFrame:
    """The panel's rows in each series' last ``RECENT_DAYS`` days, at the data's own step."""
    panel = data.panel
    last = panel.groupby("series_id")["ds"].transform("max")
    return panel.loc[panel["ds"] > last - pd.Timedelta(days=config.RECENT_DAYS)]


def _is_share(data: DemandData, metric: str) -> bool:
    """A metric already in percent of capacity (CPU), which neither adds up across regions nor needs a capacity."""
    base = metric.split(config.QUALIFIER_SEPARATOR)[0]
    info = config.METRICS.get(base)
    if info is not None:
        return info.percent_of_capacity
    return data.units.get(metric, data.units.get(base)) in config.NON_ADDITIVE_UNITS
