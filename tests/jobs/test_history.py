"""History features use only runs with a strictly earlier run date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.jobs.history import HISTORY_BASES, PRIOR_LEVELS, history_basis, history_features, stage_family, to_log


def _runs(runtimes: list[float], dates: list[str], stage: str = "place") -> pd.DataFrame:
    return pd.DataFrame({
        "platform": "p", "block": "b", "stage": stage, "run_date": pd.to_datetime(dates),
        "runtime_s": runtimes, "memory_mb": [r * 10 for r in runtimes], "cpu_time_s": np.nan,
    })


def test_baseline_is_median_of_last_three_earlier_runs() -> None:
    runs = _runs([10, 20, 30, 1000, 50], ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    features = history_features(runs)
    expected_last = np.median(to_log([20, 30, 1000]))
    assert features["runtime_baseline"].iloc[4] == pytest.approx(expected_last)
    assert features["runtime_prev"].iloc[4] == pytest.approx(to_log([1000])[0])
    assert features["runtime_count"].tolist() == [0, 1, 2, 3, 4]
    assert np.isnan(features["runtime_prev"].iloc[0])  # the first run has no history
    assert np.isnan(features["runtime_baseline"].iloc[0])


def test_stage_median_fallback_for_a_new_block() -> None:
    runs = pd.concat([
        _runs([10, 30], ["2024-01-01", "2024-01-02"]),
        _runs([99], ["2024-01-03"]).assign(block="new"),
    ], ignore_index=True)
    features = history_features(runs)
    assert features["runtime_count"].iloc[2] == 0
    assert features["runtime_baseline"].iloc[2] == pytest.approx(np.median(to_log([10, 30])))


def test_no_leakage_from_the_same_or_later_runs(small_runs) -> None:  # type: ignore[no-untyped-def]
    runs = small_runs.runs.sort_values("run_date", kind="stable").reset_index(drop=True)
    before = history_features(runs)
    cut = runs["run_date"].iloc[len(runs) // 2]
    changed = runs.copy()
    later_or_same = changed["run_date"] >= cut
    changed.loc[later_or_same, ["runtime_s", "memory_mb", "cpu_time_s"]] *= 1000.0
    after = history_features(changed)
    # Features of every run at or before the cut are unchanged: they never saw those values.
    upto = (runs["run_date"] <= cut).to_numpy()
    pd.testing.assert_frame_equal(before[upto], after[upto])
    assert not before[~upto].equals(after[~upto])  # and the change did reach later runs


def test_runs_on_the_same_date_do_not_see_each_other() -> None:
    runs = _runs([10, 20, 30], ["2024-01-01", "2024-01-02", "2024-01-02"])
    features = history_features(runs)
    assert features["runtime_count"].tolist() == [0, 1, 1]
    assert features["runtime_prev"].iloc[2] == pytest.approx(to_log([10])[0])


def test_stored_history_is_used_for_new_rows() -> None:
    history = _runs([10, 20, 30], ["2024-01-01", "2024-01-02", "2024-01-03"])
    new = _runs([np.nan], ["2024-02-01"])
    features = history_features(new, history)
    assert features["runtime_count"].iloc[0] == 3
    assert features["runtime_baseline"].iloc[0] == pytest.approx(to_log([20])[0])


def test_stage_family() -> None:
    stages = pd.Series(["floorplan_tap", "globalplace-io", "cts", "finish_merge"])
    assert stage_family(stages).tolist() == ["floorplan", "globalplace", "cts", "finish"]


def test_prior_falls_back_through_family_for_a_new_sub_step() -> None:
    runs = pd.concat([
        _runs([100, 200], ["2024-01-01", "2024-01-02"], stage="floorplan"),
        _runs([7], ["2024-01-03"], stage="floorplan_tap"),
        _runs([9], ["2024-01-04"], stage="floorplan_tap"),
    ], ignore_index=True)
    features = history_features(runs)
    # The first floorplan_tap run has no history of its own: its prior is the block's floorplan runs.
    assert features["runtime_prior_level"].iloc[2] == PRIOR_LEVELS.index("fam")
    assert features["runtime_prior"].iloc[2] == pytest.approx(np.mean(to_log([100, 200])))
    # The baseline keeps its definition: block+stage, else stage median, else all earlier runs.
    assert features["runtime_baseline"].iloc[2] == pytest.approx(np.median(to_log([100, 200])))
    # The second one has a run of its own stage and uses it.
    assert features["runtime_prior_level"].iloc[3] == PRIOR_LEVELS.index("grp")
    assert features["runtime_prior"].iloc[3] == pytest.approx(to_log([7])[0])


def test_prior_of_the_first_run_is_missing_and_later_ones_fall_back_in_order() -> None:
    runs = pd.concat([
        _runs([10], ["2024-01-01"], stage="synth"),
        _runs([50], ["2024-01-02"], stage="route").assign(platform="other"),
    ], ignore_index=True)
    features = history_features(runs)
    assert np.isnan(features["runtime_prior"].iloc[0])
    assert features["runtime_prior_level"].iloc[0] == len(PRIOR_LEVELS)
    # Another platform, stage and family: only the median of all earlier runs is left.
    assert features["runtime_prior_level"].iloc[1] == PRIOR_LEVELS.index("all")
    assert features["runtime_prior"].iloc[1] == pytest.approx(to_log([10])[0])


def test_prior_uses_only_strictly_earlier_runs() -> None:
    runs = pd.concat([
        _runs([100], ["2024-01-01"], stage="floorplan"),
        _runs([5, 6], ["2024-01-02", "2024-01-02"], stage="floorplan_tap"),
    ], ignore_index=True)
    before = history_features(runs)
    after = history_features(runs.assign(runtime_s=[100, 5000, 6000]))
    pd.testing.assert_frame_equal(before, after)  # same-date and own outcomes are never used


def test_calibration_groups_are_history_buckets() -> None:
    from core.jobs.evaluation import calibration_groups

    groups = calibration_groups(pd.Series(["floorplan", "floorplan_tap", "cts"]), np.array([5.0, 0.0, 1.0]))
    assert groups.tolist() == ["*|h", "*|n", "*|f"]


def test_design_matrix_marks_sub_steps() -> None:
    from core.jobs.estimators import design_matrix

    runs = _runs([1, 2], ["2024-01-01", "2024-01-02"]).assign(stage=["floorplan", "floorplan_tap"])
    X = design_matrix(runs, history_features(runs), [])
    assert X["stage_family"].tolist() == ["floorplan", "floorplan"]
    assert X["stage_is_substep"].tolist() == [0.0, 1.0]
    assert {"runtime_prior", "memory_prior", "runtime_prior_level"} <= set(X.columns)


def test_a_sub_step_seen_on_another_block_comes_before_this_blocks_family() -> None:
    runs = pd.concat([
        _runs([100, 200], ["2024-01-01", "2024-01-02"], stage="floorplan"),
        _runs([3], ["2024-01-03"], stage="floorplan_tap").assign(block="other"),
        _runs([4], ["2024-01-04"], stage="floorplan_tap"),
    ], ignore_index=True)
    features = history_features(runs)
    # Block b's first floorplan_tap: the same sub-step on block "other" says more than b's whole floorplan.
    assert features["runtime_prior_level"].iloc[3] == PRIOR_LEVELS.index("pst")
    assert features["runtime_prior"].iloc[3] == pytest.approx(to_log([3])[0])


def test_block_offset_shifts_the_stage_level_by_how_this_block_compares() -> None:
    # Block "big" runs synth at 4x the small block's; its first place run should start 4x higher too.
    runs = pd.concat([
        _runs([10], ["2024-01-01"], stage="synth").assign(block="small"),
        _runs([20], ["2024-01-01"], stage="place").assign(block="small"),
        _runs([40], ["2024-01-02"], stage="synth").assign(block="big"),
        _runs([80], ["2024-01-03"], stage="place").assign(block="big"),
    ], ignore_index=True)
    features = history_features(runs)
    offset = to_log([40])[0] - to_log([10])[0]
    assert features["runtime_block_offset"].iloc[3] == pytest.approx(offset)
    assert features["runtime_pstage_adj"].iloc[3] == pytest.approx(to_log([20])[0] + offset)
    assert np.isnan(features["runtime_block_offset"].iloc[2])  # "big" had no earlier run
    assert features["runtime_pstage_adj"].iloc[2] == pytest.approx(to_log([10])[0])


def test_drift_counts_other_blocks_changes_since_this_block_last_ran() -> None:
    # Both blocks run place at 10 s; then a tool release: block "a" reruns at 40 s. Block "b" has not
    # rerun since: its drift is a's change (shrunk as n / (n + 1)), and only runs after b's last one count.
    runs = pd.concat([
        _runs([10, 10], ["2024-01-01", "2024-01-02"]).assign(block="a"),
        _runs([10], ["2024-01-03"]).assign(block="b"),
        _runs([40], ["2024-01-04"]).assign(block="a"),
        _runs([np.nan], ["2024-01-05"]).assign(block="b"),
    ], ignore_index=True)
    features = history_features(runs)
    change = to_log([40])[0] - to_log([10])[0]
    assert features["runtime_drift_n"].iloc[4] == 1
    assert features["runtime_drift"].iloc[4] == pytest.approx(change / 2)
    # Block b's own run on 01-03 saw a's 01-02 rerun, which had not changed: no drift.
    assert features["runtime_drift"].iloc[2] == pytest.approx(0.0)


def test_history_basis_says_how_much_history_each_run_had() -> None:
    runs = pd.concat([
        _runs([10, 20, 30, 40], ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
        _runs([50], ["2024-01-05"]).assign(block="new"),  # a new block running a known stage
        _runs([60], ["2024-01-06"], stage="place_io"),  # a stage no run had (a changed flow)
    ], ignore_index=True)
    basis = history_basis(history_features(runs), "runtime").tolist()
    # The first run of all has no earlier run, so its stage is new too.
    assert basis == [HISTORY_BASES[3], HISTORY_BASES[1], HISTORY_BASES[1], HISTORY_BASES[0],
                     HISTORY_BASES[2], HISTORY_BASES[3]]
