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


POLICY_LABELS = {"static": "static", "reactive": "reactive", "predictive": "predictive",
                 "predictive+reactive": "predictive + reactive", "oracle": "oracle"}


@dataclass
class ScalingStudy:
    """Every policy replayed at one quantile, the cost vs overload frontier across quantiles, and
    the tables and sentences derived from them (each built once, on first use; shared, so never modified)."""

    replay: ReplayResult
    frontier: pd.DataFrame
    quantile: float  # the predictive policy's, replayed here
    best_quantile: float  # the frontier's cheapest, whatever it overloads
    slo_quantile: float  # the frontier's cheapest that meets the SLO (the least overloaded if none does)
    newsvendor: float  # from the prices alone
    model: str

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

    ``quantile`` defaults to the cheapest quantile of the frontier (across ``quantiles``) that meets the
    SLO. It is picked on the replayed window itself, in hindsight, as the oracle is; the frontier shows
    what every other choice would have cost. ``like``: a study of the same backtest and parameters at
    another quantile, whose frontier and oracle (which read no chosen quantile) are reused.
    """
    params.validate()
    lead = max(1, params.boot_delay)
    model = forecast_model(result)
    load = result.series.y[result.series.y.index >= result.test_start]
    reuse = like is not None and like.params == params and like.replay.load.index.equals(load.index)
    if like is not None and reuse:
        frontier, oracle = like.frontier, like.replay.runs.get("oracle")
    else:
        forecasts = {q: result.step_forecast(model, lead, q).reindex(load.index) for q in quantiles}
        frontier, oracle = quantile_frontier(load, forecasts, params), None
    slo_quantile = float(cost_optimal_quantile(frontier, max_overloaded_pct=params.slo_overload_pct))
    chosen = quantile if quantile is not None else slo_quantile
    replay = replay_all(load, result.step_forecast(model, lead, chosen).reindex(load.index), params, oracle=oracle)
    return ScalingStudy(replay=replay, frontier=frontier, quantile=chosen,
                        best_quantile=float(cost_optimal_quantile(frontier)), slo_quantile=slo_quantile,
                        newsvendor=newsvendor_quantile(params), model=model)
