"""The search's building blocks: folds, in-fold preprocessing (no leakage), scores, the trial log, the
finalists with the default LightGBM and the ensemble scored from out-of-fold predictions, and one small
search run end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from core.automl import config, features, search
from core.automl.budget import Budget
from core.automl.schema import build_schema

ROLES = {"load": config.FEATURE, "region": config.FEATURE, "y": config.TARGET}


def frame_with_gaps(rows: int = 200, seed: int = 0, *, classes: int = 0) -> pd.DataFrame:
    """A skewed numeric column with gaps (fold medians differ from the full data's), a categorical one and
    a target: numbers, or ``classes`` string labels."""
    rng = np.random.default_rng(seed)
    load = rng.exponential(10.0, rows)
    region = rng.choice(["north", "south", "east"], rows).astype(object)
    signal = np.log1p(load) + np.where(region == "north", 1.0, 0.0) + rng.normal(0, 0.3, rows)
    load[rng.random(rows) < 0.15] = np.nan
    if classes:
        edges = np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])
        y: Any = np.array([f"c{i}" for i in range(classes)], dtype=object)[np.digitize(signal, edges)]
    else:
        y = 10 * signal
    return pd.DataFrame({"load": load, "region": region, "y": y})


def regression_inputs(rows: int = 200) -> tuple[pd.DataFrame, np.ndarray, Any, search.Problem, search.Folds]:
    frame = frame_with_gaps(rows)
    schema = build_schema(frame, ROLES, "y", config.REGRESSION)
    problem = search.Problem(config.REGRESSION)
    y = frame["y"].to_numpy(dtype=float)
    return features.model_frame(frame, schema), y, schema, problem, search.plan_folds(y, problem, time_ordered=False)


# --- no leakage ---------------------------------------------------------------------------------------------------


def test_each_folds_imputer_median_is_the_training_folds_never_the_full_datas() -> None:
    X, y, schema, problem, folds = regression_inputs()
    cache = search.FoldCache(X, y, schema, folds)
    full_median = float(np.nanmedian(X["load"]))
    differing = 0
    for i, (train, _valid) in enumerate(folds.splits):
        imputer = cache.matrices(i, "tree").prep.named_transformers_["numeric"].named_steps["impute"]
        fold_median = float(np.nanmedian(X["load"].iloc[train]))
        assert imputer.statistics_[0] == pytest.approx(fold_median)
        differing += fold_median != pytest.approx(full_median)
    # Where a fold's median differs from the full data's (by chance they can agree), the imputer has the fold's.
    assert differing >= len(folds.splits) // 2


def test_each_folds_scaler_is_fitted_on_the_training_fold() -> None:
    X, y, schema, problem, folds = regression_inputs()
    cache = search.FoldCache(X, y, schema, folds)
    for i, (train, _valid) in enumerate(folds.splits):
        numeric = cache.matrices(i, "linear").prep.named_transformers_["numeric"]
        train_load = X["load"].iloc[train]
        imputed = train_load.fillna(train_load.median())
        assert numeric.named_steps["scale"].mean_[0] == pytest.approx(imputed.mean())


def test_cross_validation_equals_pipelines_fitted_on_each_training_fold() -> None:
    # The search's cached fold matrices give exactly what a whole Pipeline fitted on the fold would.
    X, y, schema, problem, folds = regression_inputs()
    cache = search.FoldCache(X, y, schema, folds)
    result = search.cross_validate(lambda: Ridge(alpha=1.0), "linear", cache, problem)
    for (train, valid), repetition in zip(folds.splits, folds.repetitions, strict=True):
        pipeline = Pipeline([("prep", features.make_preprocessor(schema, "linear")), ("model", Ridge(alpha=1.0))])
        pipeline.fit(X.iloc[train], y[train])
        np.testing.assert_allclose(result.oof[repetition, valid], pipeline.predict(X.iloc[valid]))
    assert result.score == pytest.approx(np.mean(search.fold_scores_of(result.oof, y, folds, problem)))


def test_the_cache_knows_a_fold_by_its_training_rows_in_any_order() -> None:
    X, y, schema, problem, folds = regression_inputs()
    cache = search.FoldCache(X, y, schema, folds)
    train = folds.splits[2][0]
    assert cache.fold_of(train[::-1]) == 2
    assert cache.fold_of(np.arange(len(y))) is None  # all rows: not a fold


# --- folds --------------------------------------------------------------------------------------------------------


def test_classification_folds_are_stratified() -> None:
    y = np.array([0] * 160 + [1] * 40)
    folds = search.plan_folds(y, search.Problem(config.CLASSIFICATION, 2), time_ordered=False)
    assert "stratified" in folds.label
    for _, valid in folds.splits:
        assert y[valid].mean() == pytest.approx(0.2)


def test_small_data_repeats_the_folds_each_repetition_validating_every_row_once() -> None:
    y = np.arange(200, dtype=float)
    folds = search.plan_folds(y, search.Problem(config.REGRESSION), time_ordered=False)
    assert folds.repeats == config.CV_REPEATS and f"{config.CV_REPEATS} repeats" in folds.label
    assert len(folds.splits) == config.CV_REPEATS * config.CV_FOLDS
    for repetition in range(folds.repeats):
        valid = [v for (_, v), r in zip(folds.splits, folds.repetitions, strict=True) if r == repetition]
        assert sorted(np.concatenate(valid)) == list(range(200))
    assert not np.array_equal(folds.splits[0][1], folds.splits[config.CV_FOLDS][1])  # another shuffle


def test_time_ordered_folds_validate_on_rows_after_their_training_rows() -> None:
    y = np.arange(120, dtype=float)
    folds = search.plan_folds(y, search.Problem(config.REGRESSION), time_ordered=True)
    assert "time-ordered" in folds.label
    for train, valid in folds.splits:
        assert train.max() < valid.min()


def test_large_data_gets_fewer_folds_then_a_holdout(monkeypatch: pytest.MonkeyPatch) -> None:
    y = np.arange(300, dtype=float)
    monkeypatch.setattr(config, "CV_REPEAT_ROWS", 50)
    monkeypatch.setattr(config, "CV_REDUCED_ROWS", 100)
    folds = search.plan_folds(y, search.Problem(config.REGRESSION), time_ordered=False)
    assert len(folds.splits) == config.CV_REDUCED_FOLDS
    assert "fewer folds" in folds.label
    monkeypatch.setattr(config, "CV_HOLDOUT_ROWS", 200)
    holdout = search.plan_folds(y, search.Problem(config.REGRESSION), time_ordered=True)
    assert len(holdout.splits) == 1
    train, valid = holdout.splits[0]
    assert "holdout" in holdout.label and train.max() < valid.min()


# --- scores -------------------------------------------------------------------------------------------------------


def test_classification_scores_include_macro_one_vs_rest_auc() -> None:
    problem = search.Problem(config.CLASSIFICATION, 3)
    y = np.array([0, 1, 2, 0, 1, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1],
                      [0.2, 0.2, 0.6]])
    scores = search.report_scores(problem, y, proba)
    assert set(scores) == {"roc_auc", "log_loss", "accuracy", "balanced_accuracy", "f1_macro"}
    assert scores["roc_auc"] == pytest.approx(1.0)
    assert scores["accuracy"] == pytest.approx(1.0)
    assert scores["log_loss"] == pytest.approx(search.cv_loss(problem, y, proba))


def test_regression_scores_are_rmse_mae_and_r2() -> None:
    scores = search.report_scores(search.Problem(config.REGRESSION), np.array([1.0, 2.0, 3.0]),
                                  np.array([1.0, 2.0, 4.0]))
    assert scores["rmse"] == pytest.approx(np.sqrt(1 / 3))
    assert scores["mae"] == pytest.approx(1 / 3)
    assert scores["r2"] == pytest.approx(0.5)


def test_probabilities_of_a_model_that_missed_a_class_keep_their_columns() -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    model = LogisticRegression().fit(X, [0, 2, 0, 2])
    proba = search.predict_scores(model, X, search.Problem(config.CLASSIFICATION, 3))
    assert proba.shape == (4, 3)
    assert np.all(proba[:, 1] == 0.0)


# --- the trial log ---------------------------------------------------------------------------------------------


def test_the_reader_skips_a_last_line_the_kill_cut_short(tmp_path: Path) -> None:
    log = search.TrialLog(str(tmp_path))
    result = search.CrossValidated((1.0, 2.0), np.array([1.0, 2.0]), 0.01, 0.1)
    log.append("lgbm", "lgbm", {"n_estimators": np.int64(4)}, result)
    record = json.dumps({"number": 2, "model": "rf"})
    with (tmp_path / search.TRIALS_FILE).open("a") as handle:
        handle.write(record[:10])
    reader = search.TrialReader(tmp_path)
    trials = reader.read()
    assert [t.model for t in trials] == ["lgbm"]
    assert trials[0].params == {"n_estimators": 4}
    assert trials[0].cv_score == pytest.approx(1.5)
    assert (tmp_path / trials[0].oof).exists()
    log.append("rf", "rf", {}, None, error="ValueError: boom")
    assert reader.read() == []  # the cut line is still in the way; a complete line after it is read
    assert [t.model for t in reader.trials] == ["lgbm"]


def test_only_a_models_new_best_saves_out_of_fold_predictions(tmp_path: Path) -> None:
    log = search.TrialLog(str(tmp_path))
    for score in (2.0, 3.0, 1.0):
        log.append("lgbm", "lgbm", {}, search.CrossValidated((score,), np.zeros(2), 0.0, 0.0))
    trials = search.TrialReader(tmp_path).read()
    assert [t.oof is not None for t in trials] == [True, False, True]


# --- finalists, ensemble, leaderboard --------------------------------------------------------------------------


def _trial(number: int, model: str, score: float) -> search.Trial:
    return search.Trial(number, model, "lgbm" if model == search.DEFAULT_LGBM else model, {"x": number}, False,
                        score, 0.01, (score,), 0.1, 0.01, f"oof_{number}.npy", None)


def test_only_a_blend_with_the_default_can_replace_it_and_every_score_comes_from_oof() -> None:
    problem = search.Problem(config.REGRESSION)
    y = np.array([0.0, 1.0, 2.0, 3.0])
    folds = search.Folds(((np.array([0, 1]), np.array([2, 3])), (np.array([2, 3]), np.array([0, 1]))), "2-fold CV")
    oof = {search.DEFAULT_LGBM: (y + 1.0)[None, :], "rf": (y - 1.0)[None, :], "linear": (y + 3.0)[None, :]}
    trials = [_trial(1, search.DEFAULT_LGBM, 1.0), _trial(2, "rf", 1.0), _trial(3, "linear", 3.0),
              _trial(4, "rf", 5.0)]
    result = search.SearchResult(trials, oof, folds, True, 1.0)
    ranked = search.finalists(result, y, problem)
    names = [c.name for c in ranked.candidates]
    ensemble = f"{search.ENSEMBLE}({search.DEFAULT_LGBM}+rf)"
    # default (+1) and rf (-1) cancel out: their half-and-half blend is exact, better than either alone. The
    # plain ensemble of the two is as exact but is not a blend with the default, so it cannot replace it.
    assert names == [f"{search.BLEND}(rf+{search.DEFAULT_LGBM})", f"{search.BLEND}({ensemble}+{search.DEFAULT_LGBM})",
                     search.DEFAULT_LGBM, ensemble, "rf", f"{search.BLEND}(linear+{search.DEFAULT_LGBM})", "linear"]
    assert [c.cv_score for c in ranked.candidates[:3]] == pytest.approx([0.0, 0.5, 1.0])
    assert ranked.candidates[0].shares == (0.5, 0.5)
    # The default inside the ensemble and the blend's own half add up: one member, three quarters.
    blended = ranked.candidates[1]
    assert dict(zip([m.model for m in blended.members], blended.shares, strict=True)) == {
        search.DEFAULT_LGBM: pytest.approx(0.75), "rf": pytest.approx(0.25)}
    assert ranked.named("rf").trials == 2  # type: ignore[union-attr]
    assert ranked.named(ensemble).trials == 3  # type: ignore[union-attr]  # the default's 1 and rf's 2, not 0
    board = search.leaderboard(ranked, names[0], problem, folds)
    assert list(board.columns) == ["model", "cv_score", "cv_sd", "metric", "validation", "trials", "fit_seconds",
                                   "predict_ms_per_row", "params", "exportable", "gain_vs_default", "chosen"]
    assert board["chosen"].tolist() == [True] + [False] * 6
    # A user reads the board by score: the plain ensemble (as good, not allowed to replace the default) is
    # listed right after the chosen blend, not below the default.
    assert board["model"].tolist() == [names[0], ensemble, names[1], search.DEFAULT_LGBM, "rf", names[5], "linear"]
    assert json.loads(board["params"][0]) == {"rf": {"weight": 0.5, "x": 2},
                                              search.DEFAULT_LGBM: {"weight": 0.5, "x": 1}}
    default = board.set_index("model").loc[search.DEFAULT_LGBM]
    assert default["gain_vs_default"] == pytest.approx(0.0)
    assert board.set_index("model").loc["linear", "gain_vs_default"] == pytest.approx(-2.0)
    assert board["metric"].eq("rmse").all() and board["validation"].eq("2-fold CV").all()
    assert json.loads(board.set_index("model").loc["rf", "params"]) == {"x": 2}


def _paired_result(fold_differences: np.ndarray) -> tuple[search.SearchResult, np.ndarray, search.Problem]:
    """A 5-fold, 3-repeat search where a tuned "lgbm" scores ``fold_differences`` (RMSE) against the default
    on each fold, exactly."""
    problem = search.Problem(config.REGRESSION)
    rng = np.random.default_rng(0)
    y = np.zeros(60)
    folds = search.plan_folds(y + rng.normal(size=60), problem, time_ordered=False)
    assert len(folds.splits) == len(fold_differences) == 15
    base = rng.normal(size=(folds.repeats, y.size))
    tuned = base.copy()
    for (_, valid), repetition, difference in zip(folds.splits, folds.repetitions, fold_differences, strict=True):
        rmse = float(np.sqrt(np.mean(base[repetition, valid] ** 2)))
        tuned[repetition, valid] *= 1.0 + difference / rmse
    trials = [_trial(1, search.DEFAULT_LGBM, 1.0), _trial(2, "lgbm", 0.9)]
    oof = {search.DEFAULT_LGBM: base, "lgbm": tuned}
    return search.SearchResult(trials, oof, folds, True, 1.0), y, problem


def test_the_default_stands_against_a_win_within_the_noise_of_overlapping_folds() -> None:
    # Mean gain 0.1 with a fold sd of 0.25: 1.5 naive standard errors over 15 folds, but the folds' training
    # rows overlap (and three repeats reuse every row), so the corrected standard error is 2.2 times wider.
    differences = -0.1 + 0.25 * np.resize([1.0, -1.0], 15) * np.sqrt(15 / 14)
    differences -= differences.mean() + 0.1
    result, y, problem = _paired_result(differences)
    ranked = search.finalists(result, y, problem, learners=search.learners_for(config.REGRESSION))
    assert ranked.candidates[0].name == search.DEFAULT_LGBM


def test_a_candidate_better_on_every_fold_replaces_the_default() -> None:
    differences = np.full(15, -0.1) + 0.02 * np.resize([1.0, -1.0], 15)
    result, y, problem = _paired_result(differences)
    ranked = search.finalists(result, y, problem, learners=search.learners_for(config.REGRESSION))
    assert ranked.candidates[0].name != search.DEFAULT_LGBM


def test_one_model_only_lets_a_single_model_replace_the_default_and_nothing_averaged() -> None:
    # The first case's exact blend and ensemble are left out: the board holds the single models alone.
    y = np.array([0.0, 1.0, 2.0, 3.0])
    folds = search.Folds(((np.array([0, 1]), np.array([2, 3])), (np.array([2, 3]), np.array([0, 1]))), "2-fold CV")
    oof = {search.DEFAULT_LGBM: (y + 1.0)[None, :], "rf": (y - 1.0)[None, :], "linear": (y + 3.0)[None, :]}
    trials = [_trial(1, search.DEFAULT_LGBM, 1.0), _trial(2, "rf", 1.0), _trial(3, "linear", 3.0)]
    result = search.SearchResult(trials, oof, folds, True, 1.0)
    ranked = search.finalists(result, y, search.Problem(config.REGRESSION), single_model=True)
    assert [c.name for c in ranked.candidates] == [search.DEFAULT_LGBM, "rf", "linear"]  # rf only ties it
    assert all(c.shares == (1.0,) for c in ranked.candidates)
    # A single model better on every fold (beyond the folds' noise) replaces the default by itself.
    result, y, problem = _paired_result(np.full(15, -0.1) + 0.02 * np.resize([1.0, -1.0], 15))
    ranked = search.finalists(result, y, problem, single_model=True)
    assert [c.name for c in ranked.candidates] == ["lgbm", search.DEFAULT_LGBM]
    # Within the noise, the default stands.
    differences = -0.1 + 0.25 * np.resize([1.0, -1.0], 15) * np.sqrt(15 / 14)
    result, y, problem = _paired_result(differences - differences.mean() - 0.1)
    assert search.finalists(result, y, problem, single_model=True).candidates[0].name == search.DEFAULT_LGBM


def test_the_soft_voting_ensemble_averages_its_fitted_members() -> None:
    frame = frame_with_gaps(classes=3)
    schema = build_schema(frame, ROLES, "y", config.CLASSIFICATION)
    problem = search.Problem(config.CLASSIFICATION, 3)
    X = features.model_frame(frame, schema)
    y = pd.Categorical(frame["y"], categories=list(schema.classes)).codes.astype(int)
    members = [(learner.name, search.fit_pipeline(search.build_pipeline(learner, {}, schema, problem), X, y))
               for learner in search.learners_for(config.CLASSIFICATION) if learner.name in ("rf", "linear")]
    ensemble = search.assemble_ensemble(members, problem)
    expected = np.mean([m.predict_proba(X) for _, m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(X), expected)
    assert set(ensemble.predict(X)) <= {0, 1, 2}
    weighted = search.assemble_ensemble(members, problem, (0.75, 0.25))  # a blend's shares
    expected = np.average([m.predict_proba(X) for _, m in members], axis=0, weights=(0.75, 0.25))
    np.testing.assert_allclose(weighted.predict_proba(X), expected)


# --- one search run --------------------------------------------------------------------------------------------


def test_a_small_search_streams_its_trials_and_scores_every_learner_on_the_same_folds() -> None:
    frame = frame_with_gaps(classes=2)
    schema = build_schema(frame, ROLES, "y", config.CLASSIFICATION)
    problem = search.Problem(config.CLASSIFICATION, 2)
    X = features.model_frame(frame, schema)
    y = pd.Categorical(frame["y"], categories=list(schema.classes)).codes.astype(int)
    folds = search.plan_folds(y, problem, time_ordered=False)
    updates: list[dict[str, Any]] = []
    learners = search.learners_for(config.CLASSIFICATION)
    result = search.run_search(X, y, schema, problem, folds, Budget(__import__("time").monotonic(), 120.0),
                               max_trials=len(learners), progress=updates.append)
    assert result.finished
    assert result.searched == len(learners)
    assert {t.model for t in result.trials} == {search.DEFAULT_LGBM} | {learner.name for learner in learners}
    assert all(len(t.fold_scores) == len(folds.splits) for t in result.trials if t.ok)
    assert set(result.oof) == {t.model for t in result.trials if t.ok}
    assert updates and {"phase", "trials", "best_score", "metric", "elapsed", "remaining"} <= set(updates[-1])
    assert updates[-1]["metric"] == "log_loss"
