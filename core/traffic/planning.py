"""Glue from backtested forecasts to the autoscaling replay (shared by the page, CLI and bench)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from core.traffic.autoscale import ReplayResult, ScalingParams, cost_optimal_quantile, quantile_frontier, replay_all
from core.traffic.backtest import ENSEMBLE, BacktestResult

FRONTIER_QUANTILES: tuple[float, ...] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99)


def newsvendor_quantile(params: ScalingParams) -> float:
    """The quantile that balances a dropped request against idle capacity, known before any replay.

    Provisioning one request of capacity costs price_per_interval / capacity; missing one
    costs the penalty. The cost-minimising quantile is penalty / (penalty + that).
    """
    unit_capacity = params.price_per_server_hour * params.interval_minutes / 60.0 / params.capacity_per_server
    return float(min(0.99, max(0.5, params.penalty_per_dropped / (params.penalty_per_dropped + unit_capacity))))


MIN_ALLOWED_OVERLOADS = 3  # a window judges an SLO when it allows at least this many overloaded intervals


@dataclass(frozen=True)
class QuantileChoice:
    """The predictive policy's default quantile, chosen on the calibration window (before the test window, on
    the ensemble's calibration forecasts issued ``boot delay`` ahead), never on the window it is scored on.

    ``judged``: the window had enough intervals with traffic to judge the SLO (it allows at least
    ``MIN_ALLOWED_OVERLOADS`` overloaded ones), so the cheapest quantile that meets it there was taken;
    else the highest frontier quantile the window supports (n × (1 − q) ≥ 1), a conservative default."""

    quantile: float
    start: pd.Timestamp  # the calibration window: [start, end), end = the test start
    end: pd.Timestamp
    intervals: int  # with traffic and a forecast, replayed
    judged: bool
    met: bool  # some quantile met the SLO there (when judged)
    frontier: pd.DataFrame  # the predictive policy per quantile on the calibration window
    text: str

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileChoice):
            return NotImplemented
        return (self.quantile, self.start, self.end, self.intervals, self.judged, self.met, self.text) == (
            other.quantile, other.start, other.end, other.intervals, other.judged, other.met, other.text) \
            and self.frontier.equals(other.frontier)

    __hash__ = None  # type: ignore[assignment]

    @property
    def window(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M}"


def choose_quantile(result: BacktestResult, params: ScalingParams, model: str, lead: int,
                    quantiles: Sequence[float]) -> QuantileChoice:
    """The default quantile, chosen on the calibration window's forecasts (data before the test window only)."""
    start, end = result.calibrated.fit_end, result.test_start
    forecasts = {q: result.calibration_forecast(model, lead, q) for q in quantiles}
    # On the window's own regular grid from the first interval forecast that far ahead (a long window at a
    # fine step calibrates from every k-th origin only; between them the policy holds, as it does on a gap).
    reached = next(iter(forecasts.values())).index
    y = result.series.y
    index = y.index[(y.index >= reached.min()) & (y.index < end)] if len(reached) else reached
    load = y.where(result.series.usable()).reindex(index)
    n = int((load.notna() & next(iter(forecasts.values())).reindex(index).notna()).sum())
    frontier = quantile_frontier(load, {q: f.reindex(index) for q, f in forecasts.items()}, params) \
        if n else pd.DataFrame(columns=["quantile", "cost_total", "overloaded_pct", "dropped_pct", "server_hours"])
    slo = params.slo_overload_pct
    where = f"the calibration window ({start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M}, before the test window"
    allowed = n * slo / 100.0
    if n and allowed >= MIN_ALLOWED_OVERLOADS:
        q = float(cost_optimal_quantile(frontier, max_overloaded_pct=slo))
        met = bool((frontier["overloaded_pct"] <= slo + 1e-9).any())
        how = "the cheapest that meets the SLO there" if met else "the least overloaded there (none meets the SLO)"
        return QuantileChoice(q, start, end, n, True, met, frontier,
                              f"q{100 * q:g} chosen on {where}, {n:,} intervals): {how}")
    supported = [q for q in sorted(quantiles) if n * (1 - q) >= 1 - 1e-9] or [min(quantiles)]
    q = float(supported[-1])
    return QuantileChoice(q, start, end, n, False, False, frontier,
                          f"q{100 * q:g} (a conservative default): {where}) has too few intervals ({n:,}) to judge an SLO of "
                          f"{slo:g}% (it would allow {allowed:.2g} overloaded, fewer than {MIN_ALLOWED_OVERLOADS}), so "
                          "the highest quantile it supports is used, a conservative choice")


POLICY_LABELS = {"static": "static", "reactive": "reactive", "predictive": "predictive",
                 "predictive+reactive": "predictive + reactive", "oracle": "oracle"}


@dataclass
class ScalingStudy:
    """Every policy replayed at one quantile, the cost vs overload frontier across quantiles, and
    the tables and sentences derived from them (each built once, on first use; shared, so never modified)."""

    replay: ReplayResult
    frontier: pd.DataFrame
    quantile: float  # the predictive policy's, replayed here
    best_quantile: float  # the (hindsight) frontier's cheapest, whatever it overloads
    hindsight_quantile: float  # the (hindsight) frontier's cheapest that meets the SLO: explanatory only
    newsvendor: float  # from the prices alone
    model: str
    choice: QuantileChoice  # the default quantile, chosen on the calibration window

    @property
    def slo_quantile(self) -> float:
        """The default quantile: chosen on the calibration window, before the test window."""
        return self.choice.quantile

    @property
    def params(self) -> ScalingParams:
        return self.replay.params

    @cached_property
    def policies(self) -> pd.DataFrame:
        """One row per policy: costs, server-hours, overloads, savings vs reactive, cost / oracle, meets_slo, problem."""
        return self.replay.summary_table()

    @cached_property
    def decisions(self) -> pd.DataFrame:
        """Per interval: load, the forecast quantile predictive sized for (named by it), servers and actions."""
        return self.replay.decisions_table().rename(columns={"forecast": f"q{100 * self.quantile:g} forecast"})

    @property
    def frontier_meets_slo(self) -> bool:
        return bool((self.frontier["overloaded_pct"] <= self.params.slo_overload_pct + 1e-9).any())

    @property
    def current_servers(self) -> int:
        """The fleet at the end of the window: the predictive policy's last one in the replay."""
        return int(self.replay.runs["predictive"].servers.iloc[-1])

    def label(self, policy: str) -> str:
        return f"predictive (q{100 * self.quantile:g})" if policy == "predictive" else POLICY_LABELS.get(policy, policy)

    @cached_property
    def headline(self) -> str:
        """The cheapest policy you could run that meets the SLO, against reactive and the oracle."""
        table, slo = self.policies, self.params.slo_overload_pct
        head = f"SLO: ≤ {slo:g}% of intervals overloaded."
        ranked = table[(table["problem"] == "") & table["meets_slo"]].drop(index="oracle", errors="ignore")
        if ranked.empty:
            return f"{head} No policy you could run meets it on this window, so none is ranked."
        best = str(ranked["cost_total"].idxmin())
        row = table.loc[best]
        text = (f"{head} The cheapest policy that meets it is **{self.label(best)}** at ${row['cost_total']:,.2f} "
                f"({row['overloaded_pct']:.2f}% of intervals overloaded, {row['dropped_pct']:.2f}% of requests dropped)")
        reactive = table.loc["reactive"] if "reactive" in table.index else None
        if best != "reactive" and reactive is not None and reactive["problem"] == "":
            if reactive["meets_slo"]:
                saving = row["savings_vs_reactive_pct"]
                text += f", {abs(saving):.0f}% {'cheaper' if saving >= 0 else 'dearer'} than reactive"
            else:
                text += f"; reactive misses the SLO ({reactive['overloaded_pct']:.1f}% of intervals overloaded)"
        if "oracle" in table.index and np.isfinite(row["cost_vs_oracle"]):
            text += (f"; {row['cost_vs_oracle']:.2f}× the oracle (the cheapest fleet path that meets the SLO, "
                     "known only in hindsight)")
        return text + "."

    @cached_property
    def warnings(self) -> list[str]:
        """A sentence per policy that misses the SLO or whose run says nothing about it, and one if no
        forecast quantile meets the SLO."""
        out = []
        slo = self.params.slo_overload_pct
        for policy, row in self.policies.iterrows():
            name = self.label(str(policy))
            if not row["meets_slo"]:
                out.append(f"{name} misses the SLO: {row['overloaded_pct']:.1f}% of intervals overloaded (SLO ≤ "
                           f"{slo:g}%), so it is not ranked." + (f" Also: {row['problem']}." if row["problem"] else ""))
            elif row["problem"]:
                out.append(f"{name} is not ranked: {row['problem']}.")
        if not self.frontier_meets_slo:
            least = self.frontier.loc[self.frontier["overloaded_pct"].idxmin()]
            out.append(f"No forecast quantile up to q{100 * self.frontier['quantile'].max():g} meets the SLO on this "
                       f"window; the least overloaded is q{100 * least['quantile']:g} "
                       f"({least['overloaded_pct']:.1f}% of intervals).")
        return out

    @cached_property
    def combined_note(self) -> str | None:
        """Why predictive + reactive follows reactive, when it (nearly) does."""
        runs = self.replay.runs
        if "predictive+reactive" not in runs or "reactive" not in runs:
            return None
        combined, reactive = runs["predictive+reactive"].serving, runs["reactive"].serving
        differ, total = int((combined != reactive).sum()), len(reactive)
        if differ > 0.05 * total:
            return None
        target = self.params.target_utilisation
        where = "in every interval" if differ == 0 else f"in all but {differ} of {total:,} intervals"
        return (f"predictive + reactive runs the same fleet as reactive {where}. It orders the larger of the two "
                f"wants, and with a {target:.0%} target utilisation the reactive part keeps about {1 / target:.2f}× "
                "the servers the observed load needs, more than the forecast "
                f"(q{100 * self.quantile:g}) asks for; the forecast wins only where it sees a rise of more than "
                f"about {1 / target - 1:.0%} coming within the boot delay. Raise the target utilisation to let the "
                "forecast lead.")


def forecast_model(result: BacktestResult) -> str:
    return ENSEMBLE if ENSEMBLE in result.paths else next(m for m in result.paths if m not in ("naive",))


def scaling_study(result: BacktestResult, params: ScalingParams, *, quantile: float | None = None,
                  quantiles: Sequence[float] = FRONTIER_QUANTILES, like: ScalingStudy | None = None) -> ScalingStudy:
    """Replay every policy on the backtest's test window with forecasts issued ``boot_delay`` steps ahead.

    ``quantile`` defaults to the choice made on the calibration window (``choose_quantile``: before the test
    window, so it is scored on data it was not chosen on). The test window's frontier shows, in hindsight, what
    every other choice would have cost there: explanatory only. ``like``: a study of the same backtest and
    parameters at another quantile, whose frontiers, choice and oracle (which read no chosen quantile) are reused.
    """
    params.validate()
    lead = max(1, params.boot_delay)
    model = forecast_model(result)
    load = result.series.y[result.series.y.index >= result.test_start]
    reuse = like is not None and like.params == params and like.replay.load.index.equals(load.index)
    if like is not None and reuse:
        frontier, oracle, choice = like.frontier, like.replay.runs.get("oracle"), like.choice
    else:
        forecasts = {q: result.step_forecast(model, lead, q).reindex(load.index) for q in quantiles}
        frontier, oracle = quantile_frontier(load, forecasts, params), None
        choice = choose_quantile(result, params, model, lead, quantiles)
    chosen = quantile if quantile is not None else choice.quantile
    replay = replay_all(load, result.step_forecast(model, lead, chosen).reindex(load.index), params, oracle=oracle)
    return ScalingStudy(replay=replay, frontier=frontier, quantile=chosen,
                        best_quantile=float(cost_optimal_quantile(frontier)),
                        hindsight_quantile=float(cost_optimal_quantile(frontier,
                                                                       max_overloaded_pct=params.slo_overload_pct)),
                        newsvendor=newsvendor_quantile(params), model=model, choice=choice)
