"""History features: what earlier runs of the same block and stage used.

Every feature of a run is computed only from runs with a strictly earlier run date
(``merge_asof`` with exact matches excluded), so a run never sees itself, its
siblings started at the same moment, or anything later. Targets are on the log
scale ``log(1 + x)``. The history baseline, median of the last 3 runs of the same
platform+block+stage falling back to the stage median, is built here too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGETS: dict[str, str] = {"runtime": "runtime_s", "memory": "memory_mb"}
KEY_LEVELS: dict[str, tuple[str, ...]] = {
    "grp": ("platform", "block", "stage"),
    "blk": ("platform", "block"),
    "pst": ("platform", "stage"),
    "stg": ("stage",),
    "fam": ("platform", "block", "stage_family"),
    "pfam": ("platform", "stage_family"),
    "sfam": ("stage_family",),
}
# The prior's fallback order, most specific first; a run's ``*_prior_level`` says which one answered.
# The same stage on other blocks of the platform comes before the block's other sub-steps of the family:
# after a flow restructure (``floorplan`` split into ``floorplan_tap``, ``floorplan_pdn``, ...) the new
# sub-step's first run anywhere says more than the old whole step did (rolling backtest from 2023-07:
# runtime R² (log) 0.860 -> 0.872 from this order alone).
PRIOR_LEVELS = ("grp", "pst", "fam", "stg", "pfam", "sfam", "blk", "all")
# What a prediction's history came from, for users: index = ``*_prior_level``.
PRIOR_BASIS = ("this block+stage", "this stage on the platform", "this block's stage family", "this stage",
               "the stage family on the platform", "the stage family", "this block's other stages", "all runs",
               "no history")
HISTORY_COLUMNS = ["platform", "block", "stage", "run_date", "runtime_s", "memory_mb", "cpu_time_s"]
# How much history a prediction could lean on, most to least; held-out scores are broken down by it
# (the error of a run with 3+ earlier runs of its own is a fraction of that of a stage no run has had).
HISTORY_BASES = ("3+ earlier runs of this block+stage", "1-2 earlier runs of this block+stage",
                 "new block+stage, stage seen before", "stage never seen before")


def to_log(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(np.asarray(values, dtype=float), 0.0, None))


def from_log(values: np.ndarray) -> np.ndarray:
    return np.expm1(np.asarray(values, dtype=float)).clip(min=0.0)


def stage_family(stage: pd.Series) -> pd.Series:
    """The stage's family: its name before the first '_' or '-' (``floorplan_tap`` -> ``floorplan``).
    Flows name sub-steps after their step, so a new sub-step starts from its family's history."""
    text = stage.astype(str)
    uniques = pd.unique(text)  # few distinct stages: split each once, not every row
    families = pd.Series(uniques).str.split(r"[_\-]", n=1, regex=True).str[0]
    return text.map(dict(zip(uniques, families, strict=True)))


def _key(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    key = frame[columns[0]].astype(str)
    for column in columns[1:]:
        key = key + "\x1f" + frame[column].astype(str)
    return key


def history_pool(runs: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """The runs whose outcomes later runs may learn from: stored history plus ``runs``."""
    parts = [runs[[c for c in HISTORY_COLUMNS if c in runs.columns]]]
    if history is not None and not history.empty:
        parts.insert(0, history[HISTORY_COLUMNS])
    pool = pd.concat(parts, ignore_index=True)
    for column in HISTORY_COLUMNS:
        if column not in pool.columns:
            pool[column] = np.nan
    pool = pool.dropna(subset=["run_date"])
    return pool.drop_duplicates(subset=["platform", "block", "stage", "run_date", "runtime_s", "memory_mb"])


StatsCache = dict[tuple, pd.DataFrame]
ROLLING_STATS = ("med3", "mean10", "median")


def _keyed(frame: pd.DataFrame, level: tuple[str, ...]) -> pd.Series:
    """The key of each row at ``level`` (the stage family is derived from the stage when asked for)."""
    if "stage_family" in level:
        frame = frame.assign(stage_family=stage_family(frame["stage"]))
    return _key(frame, level)


def _rolling_mean(values: np.ndarray, position: np.ndarray, window: int) -> np.ndarray:
    """Mean of each row and up to ``window - 1`` rows before it in its group, for rows sorted by
    group (``position`` = index within the group): prefix sums, far faster than a grouped rolling."""
    sums = np.concatenate([[0.0], np.cumsum(values)])
    end = np.arange(1, len(values) + 1)
    start = end - np.minimum(position + 1, window)
    return (sums[end] - sums[start]) / (end - start)


def _rolling_median3(values: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Median of each row and up to two rows before it in its group (rows sorted by group)."""
    lagged = np.full((len(values), 3), np.nan)
    lagged[:, 0] = values
    lagged[1:, 1] = np.where(position[1:] >= 1, values[:-1], np.nan)
    lagged[2:, 2] = np.where(position[2:] >= 2, values[:-2], np.nan)
    return np.nanmedian(lagged, axis=1)


def _past_stats(pool: pd.DataFrame, queries: pd.DataFrame, level: tuple[str, ...], value: str,
                *, need: tuple[str, ...] = ROLLING_STATS, cache: StatsCache | None = None) -> pd.DataFrame:
    """For each query row, stats of ``value`` over pool rows of the same key with an earlier date.

    ``need`` limits the statistics computed (the grouped expanding median is the slow part);
    ``cache`` shares results between the callers of one ``history_features`` call."""
    key = (level, value, need)
    if cache is not None and key in cache:
        return cache[key]
    known = pool[pool[value].notna()].copy()
    known["_key"] = _keyed(known, level)
    known["_v"] = to_log(known[value])
    known = known.sort_values(["_key", "run_date"], kind="stable")
    grouped = known.groupby("_key", sort=False)["_v"]
    values, position = known["_v"].to_numpy(), grouped.cumcount().to_numpy()
    rolling = {
        "med3": lambda: _rolling_median3(values, position),
        "mean10": lambda: _rolling_mean(values, position, 10),
        "median": lambda: grouped.expanding().median().to_numpy(),
    }
    stats = pd.DataFrame({
        "_key": known["_key"].to_numpy(),
        "run_date": known["run_date"].to_numpy(),
        "_hist_date": known["run_date"].to_numpy(),
        "prev": known["_v"].to_numpy(),
        **{name: rolling[name]() for name in need},
        "count": (grouped.cumcount() + 1).to_numpy(dtype=float),
    }).sort_values("run_date", kind="stable")
    q = pd.DataFrame({"_key": _keyed(queries, level).to_numpy(), "run_date": queries["run_date"].to_numpy(),
                      "_pos": np.arange(len(queries))}).sort_values("run_date", kind="stable")
    merged = pd.merge_asof(q, stats, on="run_date", by="_key", allow_exact_matches=False, direction="backward")
    merged = merged.sort_values("_pos")
    merged["days_since"] = (merged["run_date"] - merged["_hist_date"]).dt.total_seconds() / 86400.0
    merged["count"] = merged["count"].fillna(0.0)
    merged = merged.reset_index(drop=True)
    if cache is not None:
        cache[key] = merged
    return merged


def _global_median(pool: pd.DataFrame, queries: pd.DataFrame, value: str, cache: StatsCache) -> np.ndarray:
    key = ("*", value)
    if key not in cache:
        frame = queries.assign(stage="*")
        cache[key] = _past_stats(pool.assign(stage="*"), frame, ("stage",), value, need=("median",))
    return cache[key]["median"].to_numpy()


def _mean10(pool: pd.DataFrame, queries: pd.DataFrame, level: str, value: str, cache: StatsCache) -> np.ndarray:
    return _past_stats(pool, queries, KEY_LEVELS[level], value, need=("mean10",), cache=cache)["mean10"].to_numpy()


def _median(pool: pd.DataFrame, queries: pd.DataFrame, level: str, value: str, cache: StatsCache) -> np.ndarray:
    return _past_stats(pool, queries, KEY_LEVELS[level], value, need=("median",), cache=cache)["median"].to_numpy()


def _prior(pool: pd.DataFrame, queries: pd.DataFrame, column: str, grp: pd.DataFrame,
           stage_median: np.ndarray, cache: StatsCache) -> tuple[np.ndarray, np.ndarray]:
    """A prior for every run from the most specific history that has one (see ``PRIOR_LEVELS``):
    the last-3 median of the block+stage, else the recent mean of the stage on the platform, of the
    block's runs of the same stage family, the stage median, the family on the platform, the family,
    the block's other stages, and finally all earlier runs. A new sub-step of a known step
    (``floorplan_tap`` after ``floorplan``) starts from the same sub-step on other blocks, else from
    its family, rather than from the global median."""
    candidates = {
        "grp": grp["med3"].to_numpy(),
        "pst": _mean10(pool, queries, "pst", column, cache),
        "fam": _mean10(pool, queries, "fam", column, cache),
        "stg": stage_median,
        "pfam": _mean10(pool, queries, "pfam", column, cache),
        "sfam": _median(pool, queries, "sfam", column, cache),
        "blk": _mean10(pool, queries, "blk", column, cache),
        "all": _global_median(pool, queries, column, cache),
    }
    prior = np.full(len(queries), np.nan)
    level = np.full(len(queries), float(len(PRIOR_LEVELS)))
    for i, name in enumerate(PRIOR_LEVELS):
        fill = np.isnan(prior) & ~np.isnan(candidates[name])
        prior[fill], level[fill] = candidates[name][fill], float(i)
    return prior, level


def _ns(dates: pd.Series) -> np.ndarray:
    """Dates as int64 nanoseconds (UTC for aware ones), so dates of any unit or zone merge alike."""
    dates = pd.to_datetime(pd.Series(dates).reset_index(drop=True))
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return dates.astype("datetime64[ns]").to_numpy().view("int64")


def _change_since(pool: pd.DataFrame, values: np.ndarray, level: tuple[str, ...], queries: pd.DataFrame,
                  since: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the sum and count of ``values`` over pool rows of the same key dated after ``since``
    (all of them when ``since`` is missing) and strictly before the query's own run date."""
    known = pd.DataFrame({"_key": _keyed(pool, level).to_numpy(), "_t": _ns(pool["run_date"]),
                          "_v": np.asarray(values, dtype=float)}).dropna(subset=["_v"])
    known = known.sort_values(["_key", "_t"], kind="stable")
    grouped = known.groupby("_key", sort=False)["_v"]
    known["_sum"], known["_n"] = grouped.cumsum(), grouped.cumcount() + 1.0
    known = known[["_key", "_t", "_sum", "_n"]].sort_values("_t", kind="stable")
    keys = _keyed(queries, level).to_numpy()

    def upto(dates: pd.Series, inclusive: bool) -> tuple[np.ndarray, np.ndarray]:
        q = pd.DataFrame({"_key": keys, "_t": _ns(dates), "_pos": np.arange(len(keys))})
        merged = pd.merge_asof(q.sort_values("_t", kind="stable"), known, on="_t", by="_key",
                               allow_exact_matches=inclusive).sort_values("_pos")
        missing = pd.Series(dates).isna().to_numpy()  # no date: nothing before it
        return (np.where(missing, 0.0, merged["_sum"].fillna(0.0).to_numpy()),
                np.where(missing, 0.0, merged["_n"].fillna(0.0).to_numpy()))

    total_now, n_now = upto(queries["run_date"], inclusive=False)
    total_then, n_then = upto(since, inclusive=True)
    return total_now - total_then, n_now - n_then


def _recent_mean(pool: pd.DataFrame, values: np.ndarray, level: tuple[str, ...], queries: pd.DataFrame,
                 window: int = 10) -> np.ndarray:
    """Per query: the mean of ``values`` over the last ``window`` pool rows of its key dated strictly earlier."""
    known = pd.DataFrame({"_key": _keyed(pool, level).to_numpy(), "run_date": pool["run_date"].to_numpy(),
                          "_v": np.asarray(values, dtype=float)}).dropna(subset=["_v"])
    known = known.sort_values(["_key", "run_date"], kind="stable")
    position = known.groupby("_key", sort=False).cumcount().to_numpy()
    known["_mean"] = _rolling_mean(known["_v"].to_numpy(), position, window)
    q = pd.DataFrame({"_key": _keyed(queries, level).to_numpy(), "run_date": queries["run_date"].to_numpy(),
                      "_pos": np.arange(len(queries))}).sort_values("run_date", kind="stable")
    merged = pd.merge_asof(q, known[["_key", "run_date", "_mean"]].sort_values("run_date", kind="stable"),
                           on="run_date", by="_key", allow_exact_matches=False, direction="backward")
    return merged.sort_values("_pos")["_mean"].to_numpy()


def _relative_features(pool: pd.DataFrame, queries: pd.DataFrame, column: str, grp: pd.DataFrame,
                       pstage_mean10: np.ndarray, pool_cache: StatsCache) -> dict[str, np.ndarray]:
    """Two ways other blocks' runs inform this one, each from pool rows dated strictly earlier:

    - ``block_offset``: how this block compares with other blocks on the same stages (the mean, over
      its last 10 runs of any stage, of value minus the stage-on-platform mean before it), and
      ``pstage_adj``, the stage on the platform shifted by it: a prior for a stage new to this block
      that keeps the block's size.
    - ``drift``: how much the same stage on the platform changed, on the runs of any block since this
      block+stage last ran (the mean of their value minus their own last-3 median, shrunk towards 0
      as n / (n + 1)). A tool release that slows ``globalplace`` on every design shows up here before
      this block has run again. ``drift_n`` counts those runs.
    """
    known = pool[pool[column].notna()]  # only runs with an outcome can say how they compare
    value = to_log(known[column])
    own = _past_stats(known, known, KEY_LEVELS["grp"], column, need=("med3",), cache=pool_cache)
    pst = _past_stats(known, known, KEY_LEVELS["pst"], column, need=("mean10",), cache=pool_cache)
    offset = _recent_mean(known, value - pst["mean10"].to_numpy(), KEY_LEVELS["blk"], queries)
    # Drift counts the stage's runs after the block+stage's last run (all of them for a new pair).
    change, n = _change_since(known, value - own["med3"].to_numpy(), KEY_LEVELS["pst"], queries, grp["_hist_date"])
    return {
        "block_offset": offset,
        "pstage_adj": pstage_mean10 + np.nan_to_num(offset),
        "drift": change / (n + 1.0),
        "drift_n": n,
    }


def _baseline(pool: pd.DataFrame, queries: pd.DataFrame, column: str,
              cache: StatsCache) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Last-3 median of the group, else the stage median, else the median of all earlier runs."""
    grp = _past_stats(pool, queries, KEY_LEVELS["grp"], column, need=("med3", "mean10"), cache=cache)
    stage_median = _median(pool, queries, "stg", column, cache)
    baseline = np.where(np.isnan(grp["med3"].to_numpy()), stage_median, grp["med3"].to_numpy())
    baseline = np.where(np.isnan(baseline), _global_median(pool, queries, column, cache), baseline)
    return baseline, grp, stage_median


def history_features(runs: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """History features for every row of ``runs`` (same order and index).

    The pool is ``history`` plus the rows of ``runs`` whose outcomes are known; each row
    sees only pool rows dated strictly before its own run date.
    """
    pool = history_pool(runs, history)
    queries = runs[["platform", "block", "stage", "run_date"]]
    out: dict[str, np.ndarray] = {}
    cache: StatsCache = {}
    pool_cache: StatsCache = {}  # the pool's own stats (each pool row against the rows before it)
    for name, column in (*TARGETS.items(), ("cpu", "cpu_time_s")):
        if pool[column].notna().sum() == 0:
            if name == "cpu":
                continue
        if name == "cpu":
            out["cpu_prev"] = _past_stats(pool, queries, KEY_LEVELS["grp"], column, need=())["prev"].to_numpy()
            continue
        baseline, grp, stage_median = _baseline(pool, queries, column, cache)
        out[f"{name}_prev"] = grp["prev"].to_numpy()
        out[f"{name}_med3"] = grp["med3"].to_numpy()
        out[f"{name}_mean10"] = grp["mean10"].to_numpy()
        out[f"{name}_count"] = grp["count"].to_numpy()
        out[f"{name}_days_since"] = grp["days_since"].to_numpy()
        out[f"{name}_block_mean10"] = _mean10(pool, queries, "blk", column, cache)
        out[f"{name}_family_mean10"] = _mean10(pool, queries, "fam", column, cache)
        out[f"{name}_pstage_mean10"] = _mean10(pool, queries, "pst", column, cache)
        out[f"{name}_stage_median"] = stage_median
        out[f"{name}_baseline"] = baseline
        out[f"{name}_prior"], out[f"{name}_prior_level"] = _prior(pool, queries, column, grp, stage_median, cache)
        relative = _relative_features(pool, queries, column, grp, out[f"{name}_pstage_mean10"], pool_cache)
        out.update({f"{name}_{key}": values for key, values in relative.items()})
    return pd.DataFrame(out, index=runs.index)


def history_depth(counts: pd.Series | np.ndarray) -> np.ndarray:
    """0 for runs with 3+ earlier runs of their block+stage, 1 for 1-2, 2 for none: the depths
    that request calibration and the scores by history both split on."""
    counts = np.asarray(counts, dtype=float)
    return np.where(counts >= 3, 0, np.where(counts >= 1, 1, 2))


def history_basis(features: pd.DataFrame, target: str) -> np.ndarray:
    """Each run's entry of ``HISTORY_BASES`` for ``target``: earlier runs of its own block+stage
    (3+, 1-2), else whether any earlier run had its stage (on any block or platform)."""
    depth = history_depth(features[f"{target}_count"])
    stage_seen = features[f"{target}_stage_median"].notna().to_numpy()
    index = np.where(depth < 2, depth, np.where(stage_seen, 2, 3))
    return np.asarray(HISTORY_BASES, dtype=object)[index]


def history_baseline_log(features: pd.DataFrame, target: str) -> np.ndarray:
    """The history baseline on the log scale: median of the last 3 runs of the same
    platform+block+stage, else the stage median, else the median of all earlier runs."""
    return features[f"{target}_baseline"].to_numpy(dtype=float)
