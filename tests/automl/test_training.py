"""A whole training job: split (random or time-ordered), targets with gaps, string labels through class
indices, the default LightGBM beside the winner, reproducible mode, and what the model keeps."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from core.automl import config, features, search, training
from core.automl.artifact import TrainedModel, TrainSpec
from core.automl.budget import Budget
from core.errors import InputError

LABELS = ("bird", "cat", "dog")  # sorted: the order of schema.classes
ROLES = {"weight": config.FEATURE, "legs": config.FEATURE, "colour": config.FEATURE, "seen_at": config.DATETIME,
         "animal": config.TARGET, "price": config.TARGET}
TIMING_COLUMNS = ["fit_seconds", "predict_ms_per_row"]


def animals(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """String labels that depend on the inputs, a few rows without a label or a price, hourly timestamps
    in shuffled row order."""
    rng = np.random.default_rng(seed)
    weight = rng.gamma(2.0, 3.0, rows)
    legs = rng.choice([2, 4], rows)
    colour = rng.choice(["black", "white", "brown"], rows).astype(object)
    animal = np.where(legs == 2, "bird", np.where(weight + rng.normal(0, 1.5, rows) > 6, "dog", "cat")).astype(object)
    price = 20 + 3 * weight + np.where(colour == "black", 5.0, 0.0) + rng.normal(0, 1.0, rows)
    seen_at = pd.date_range("2024-01-01", periods=rows, freq="h").to_numpy()[rng.permutation(rows)]
    animal[rng.choice(rows, 7, replace=False)] = None
    price[rng.choice(rows, 9, replace=False)] = np.nan
    return pd.DataFrame({"weight": weight, "legs": legs, "colour": colour, "seen_at": seen_at, "animal": animal,
                         "price": price})


def spec_for(target: str, task: str, **options: object) -> TrainSpec:
    other = "price" if target == "animal" else "animal"
    roles = {**ROLES, other: config.DROP}
    return TrainSpec(target=target, task=task, roles=roles, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def classifier() -> TrainedModel:
    spec = spec_for("animal", config.CLASSIFICATION, budget_seconds=30.0, max_trials=8)
    return training.train(animals(), spec)


# --- classification with string labels -----------------------------------------------------------------------


def test_string_labels_round_trip_through_class_indices(classifier: TrainedModel) -> None:
    assert classifier.schema.classes == LABELS
    frame = features.model_frame(classifier.test_inputs, classifier.schema)
    indices = classifier.pipeline.predict(frame)
    assert set(np.unique(indices)) <= {0, 1, 2}
    proba = classifier.pipeline.predict_proba(frame)
    assert proba.shape == (len(frame), 3)
    predictions = classifier.test_predictions.loc[classifier.test_inputs.index]
    assert list(np.asarray(LABELS, dtype=object)[proba.argmax(axis=1)]) == list(predictions["y_pred"])
    assert set(predictions["y_true"]) <= set(LABELS)
    assert [c for c in predictions.columns if c.startswith("proba_")] == [f"proba_{label}" for label in LABELS]


def test_rows_without_a_label_are_dropped_and_said_so(classifier: TrainedModel) -> None:
    assert config.MISSING not in classifier.schema.classes
    assert any("7 rows without a usable target" in note for note in classifier.notes)
    assert len(classifier.test_predictions) == pytest.approx((240 - 7) * config.TEST_SHARE, abs=1)


def test_the_default_lightgbm_is_on_the_leaderboard_and_the_winner_is_never_worse(classifier: TrainedModel) -> None:
    board = classifier.leaderboard.set_index("model")
    assert search.DEFAULT_LGBM in board.index
    chosen = board[board["chosen"]]
    assert len(chosen) == 1 and chosen.index[0] == classifier.algorithm
    assert chosen["cv_score"].iloc[0] <= board.loc[search.DEFAULT_LGBM, "cv_score"]
    assert chosen["gain_vs_default"].iloc[0] >= 0.0
    assert classifier.metric == "log_loss" and board["metric"].eq("log_loss").all()
    assert {"roc_auc", "log_loss", "accuracy", "balanced_accuracy", "f1_macro"} <= set(classifier.test_scores)
    assert {"default_log_loss", "default_roc_auc"} <= set(classifier.test_scores)


def test_what_the_model_keeps(classifier: TrainedModel) -> None:
    assert "animal" not in classifier.test_inputs.columns
    assert len(classifier.test_inputs) <= config.KEPT_TEST_ROWS
    assert list(classifier.importance.columns) == ["feature", "importance", "sd"]
    assert set(classifier.importance["feature"]) == {"weight", "legs", "colour", "seen_at"}
    assert classifier.importance["feature"].iloc[0] == "legs"  # two legs: a bird
    assert {"split", "search", "selection", "refit", "test", "importance"} <= set(classifier.ledger)
    assert classifier.trials == 8
    assert {"scikit-learn", "lightgbm", "xgboost", "flaml"} <= set(classifier.versions)
    assert classifier.leaderboard["params"].map(lambda text: text.startswith("{")).all()


# --- regression, reproducible mode ------------------------------------------------------------------------------


def test_reproducible_mode_gives_identical_leaderboards() -> None:
    spec = spec_for("price", config.REGRESSION, budget_seconds=30.0, max_trials=7, seed=3)
    first, second = (training.train(animals(seed=1), spec) for _ in range(2))
    pd.testing.assert_frame_equal(first.leaderboard.drop(columns=TIMING_COLUMNS),
                                  second.leaderboard.drop(columns=TIMING_COLUMNS))
    assert first.test_scores == second.test_scores
    assert first.metric == "rmse" and {"rmse", "mae", "r2", "default_rmse"} <= set(first.test_scores)
    assert any("9 rows without a usable target" in note for note in first.notes)


# --- the split ---------------------------------------------------------------------------------------------------


def test_a_time_ordered_split_puts_the_latest_rows_in_the_test_split() -> None:
    frame = animals()
    spec = spec_for("price", config.REGRESSION, budget_seconds=10.0, time_col="seen_at")
    data = training.prepare(frame, spec, [])
    assert data.train["seen_at"].max() < data.test["seen_at"].min()
    assert data.train["seen_at"].is_monotonic_increasing  # time-ordered folds need time-ordered rows
    assert len(data.test) == round(len(frame.dropna(subset=["price"])) * config.TEST_SHARE)
    assert "time-ordered" in data.folds.label
    for train, valid in data.folds.splits:
        assert data.train["seen_at"].iloc[train].max() < data.train["seen_at"].iloc[valid].min()


def test_a_random_split_is_stratified_and_seeded() -> None:
    frame = animals()
    spec = spec_for("animal", config.CLASSIFICATION, budget_seconds=10.0)
    first = training.prepare(frame, spec, [])
    again = training.prepare(frame, spec, [])
    assert first.test.index.equals(again.test.index)
    train_share = pd.Series(first.y_train).value_counts(normalize=True).sort_index()
    test_share = pd.Series(first.y_test).value_counts(normalize=True).sort_index()
    assert np.allclose(train_share, test_share, atol=0.05)


def test_given_test_rows_are_held_out_exactly_and_rows_without_a_target_dropped() -> None:
    frame = animals()  # some prices are missing
    held_out = np.arange(0, len(frame), 5)  # an outer cross-validation's fold, as positions
    spec = spec_for("price", config.REGRESSION, budget_seconds=10.0, time_col="seen_at")
    data = training.prepare(frame, spec, [], test_rows=held_out)
    with_price = frame["price"].notna().to_numpy()
    assert set(data.test.index) == set(frame.index[held_out][with_price[held_out]])
    assert set(data.train.index) == set(frame.index[with_price]) - set(data.test.index)
    assert data.train["seen_at"].is_monotonic_increasing
    with pytest.raises(InputError, match="test rows leave"):
        training.prepare(frame, spec, [], test_rows=np.flatnonzero(~with_price))

def test_the_schema_is_built_on_the_training_rows_only() -> None:
    frame = animals()
    frame.loc[frame["seen_at"] >= frame["seen_at"].quantile(0.9), "weight"] = 1e6  # only in the latest rows
    spec = spec_for("price", config.REGRESSION, budget_seconds=10.0, time_col="seen_at")
    data = training.prepare(frame, spec, [])
    assert data.schema.column("weight").high < 1e6


def test_test_rows_of_a_class_training_never_saw_are_left_out() -> None:
    frame = animals().dropna(subset=["animal"])
    frame.loc[frame["seen_at"] == frame["seen_at"].max(), "animal"] = "fish"  # only the very latest row
    notes: list[str] = []
    data = training.prepare(frame, spec_for("animal", config.CLASSIFICATION, budget_seconds=10.0,
                                            time_col="seen_at"), notes)
    assert "fish" not in data.schema.classes
    assert (data.y_test >= 0).all()
    assert any("absent from the training rows" in note for note in notes)


def test_too_few_rows_with_a_target_is_an_input_error() -> None:
    frame = animals(rows=30)
    frame.loc[frame.index[:20], "price"] = np.nan
    with pytest.raises(InputError, match="rows have a target"):
        training.prepare(frame, spec_for("price", config.REGRESSION, budget_seconds=10.0), [])


def test_a_chosen_blend_is_refitted_with_its_weights() -> None:
    data = training.prepare(animals(), spec_for("animal", config.CLASSIFICATION, budget_seconds=60.0), [])

    def trial(number: int, model: str, learner: str) -> search.Trial:
        return search.Trial(number, model, learner, {}, False, 0.5, 0.1, (0.5,), 0.01, 0.01, None, None)

    default, linear = trial(1, search.DEFAULT_LGBM, "lgbm"), trial(2, "linear", "linear")
    blend = search.Candidate(f"{search.BLEND}(linear+{search.DEFAULT_LGBM})", (linear, default), 0.4, 0.1, 3, True,
                             (0.5, 0.5))
    ranked = search.Finalists([blend, search.Candidate(search.DEFAULT_LGBM, (default,), 0.5, 0.1, 1, True)])
    refitted = training.refit(ranked, data, Budget(time.monotonic(), 60.0), [])
    assert refitted.name == blend.name and list(refitted.pipeline.weights) == [0.5, 0.5]
    # The default inside the blend is the one the test comparison uses: fitted once.
    assert refitted.fitted[search.DEFAULT_LGBM] is refitted.pipeline.named_estimators_[search.DEFAULT_LGBM]
    X = data.X_test
    expected = 0.5 * refitted.fitted["linear"].predict_proba(X) + 0.5 * refitted.fitted[search.DEFAULT_LGBM].predict_proba(X)
    np.testing.assert_allclose(refitted.pipeline.predict_proba(X), expected)
