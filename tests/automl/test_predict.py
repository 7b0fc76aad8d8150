"""Predictions: input checks against the schema, batch and single rows, the form fields and the drift
report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.linear_model import Ridge

from core.automl import config
from core.automl.artifact import TrainedModel
from core.automl.predict import (
    NOTE,
    WARNING,
    check_input,
    drift_report,
    population_stability,
    predict_frame,
    single_row_fields,
)
from core.errors import InputError
from tests.automl.trained_models import pipeline_for, tiny_frame, trained_model


@pytest.fixture(scope="module")
def classifier() -> TrainedModel:
    frame = tiny_frame(task=config.CLASSIFICATION, classes=3)
    make = lambda schema: pipeline_for(schema, "tree", LGBMClassifier(n_estimators=15, num_leaves=8, n_jobs=1,  # noqa: E731
                                                                      verbose=-1))
    return trained_model(frame, config.CLASSIFICATION, make)


@pytest.fixture(scope="module")
def regressor() -> TrainedModel:
    # 1,000 rows: a reference sample large enough that an unshifted batch reads as stable.
    frame = tiny_frame(1_000, task=config.REGRESSION)
    return trained_model(frame, config.REGRESSION, lambda schema: pipeline_for(schema, "linear", Ridge()))


def _proba(model: TrainedModel) -> list[str]:
    return [f"proba_{label}" for label in model.schema.classes]


def test_missing_column_is_an_input_error_naming_it(classifier: TrainedModel) -> None:
    raw = classifier.test_inputs.drop(columns=["region"])
    with pytest.raises(InputError, match="'region'") as error:
        predict_frame(classifier, raw)
    assert error.value.column == "region"


def test_several_missing_columns_are_all_named(classifier: TrainedModel) -> None:
    with pytest.raises(InputError, match="'load'.*'size'"):
        check_input(classifier.test_inputs.drop(columns=["load", "size"]), classifier.schema)


def test_no_rows_is_an_input_error(classifier: TrainedModel) -> None:
    with pytest.raises(InputError, match="no rows"):
        predict_frame(classifier, classifier.test_inputs.head(0))


def test_classification_gives_labels_and_probabilities_summing_to_one(classifier: TrainedModel) -> None:
    out, messages = predict_frame(classifier, classifier.test_inputs)
    assert list(out.columns) == ["prediction", *_proba(classifier)]
    assert set(out["prediction"]) <= set(classifier.schema.classes)
    np.testing.assert_allclose(out[_proba(classifier)].sum(axis=1), 1.0, atol=1e-9)
    assert (out[_proba(classifier)].idxmax(axis=1).str.removeprefix("proba_") == out["prediction"]).all()
    assert not [m for m in messages if m.startswith(WARNING)]


def test_predictions_match_the_models_own_test_predictions(classifier: TrainedModel) -> None:
    out, _ = predict_frame(classifier, classifier.test_inputs)
    assert (out["prediction"].to_numpy() == classifier.test_predictions["y_pred"].to_numpy()).all()


def test_unseen_category_warns_with_counts_and_still_predicts(classifier: TrainedModel) -> None:
    raw = classifier.test_inputs.copy()
    raw.loc[raw.index[:3], "region"] = "atlantis"
    raw.loc[raw.index[3], "region"] = "mu"
    out, messages = predict_frame(classifier, raw)
    warning = [m for m in messages if m.startswith(WARNING) and "'region'" in m]
    assert len(warning) == 1
    assert "4 rows" in warning[0] and "'atlantis' ×3" in warning[0] and "'mu' ×1" in warning[0]
    assert out["prediction"].notna().all() and len(out) == len(raw)


def test_extra_columns_are_ignored_with_a_note(classifier: TrainedModel) -> None:
    raw = classifier.test_inputs.assign(comment="hello", y="class_a")
    out, messages = predict_frame(classifier, raw)
    plain, _ = predict_frame(classifier, classifier.test_inputs)
    pd.testing.assert_frame_equal(out, plain)
    assert any(m.startswith(NOTE) and "comment" in m and "y" in m for m in messages)


def test_row_order_and_index_are_kept(classifier: TrainedModel) -> None:
    raw = classifier.test_inputs
    shuffled = raw.sample(frac=1.0, random_state=3)
    shuffled.index = [f"row-{i}" for i in range(len(shuffled))]
    out, _ = predict_frame(classifier, shuffled)
    assert list(out.index) == list(shuffled.index)
    straight, _ = predict_frame(classifier, raw)
    reordered = straight.loc[raw.sample(frac=1.0, random_state=3).index]
    np.testing.assert_allclose(out[_proba(classifier)].to_numpy(), reordered[_proba(classifier)].to_numpy())


def test_a_single_row_predicts_like_the_batch(classifier: TrainedModel) -> None:
    batch, _ = predict_frame(classifier, classifier.test_inputs)
    one, _ = predict_frame(classifier, classifier.test_inputs.iloc[[5]])
    np.testing.assert_allclose(one[_proba(classifier)].to_numpy(), batch[_proba(classifier)].iloc[[5]].to_numpy())


def test_numbers_that_do_not_parse_become_missing_with_a_warning(regressor: TrainedModel) -> None:
    raw = regressor.test_inputs.astype({"load": object})
    raw.loc[raw.index[:2], "load"] = "n/a"
    raw.loc[raw.index[2], "load"] = " 51.5 "
    checked, messages = check_input(raw, regressor.schema)
    assert checked["load"].iloc[:2].isna().all() and checked["load"].iloc[2] == 51.5
    assert any(m.startswith(WARNING) and "'load'" in m and "2 rows" in m and "n/a" in m for m in messages)
    out, _ = predict_frame(regressor, raw)
    assert np.isfinite(out["prediction"]).all()


def test_values_outside_the_training_range_get_a_note(regressor: TrainedModel) -> None:
    raw = regressor.test_inputs.copy()
    raw.loc[raw.index[0], "size"] = 1_000.0
    _, messages = check_input(raw, regressor.schema)
    assert any(m.startswith(NOTE) and "'size'" in m and "1 row " in m for m in messages)


def test_regression_gives_numbers(regressor: TrainedModel) -> None:
    out, _ = predict_frame(regressor, regressor.test_inputs)
    assert list(out.columns) == ["prediction"]
    assert pd.api.types.is_float_dtype(out["prediction"])
    np.testing.assert_allclose(out["prediction"], regressor.test_predictions["y_pred"])


def test_single_row_fields_describe_the_form(classifier: TrainedModel) -> None:
    fields = {f["name"]: f for f in single_row_fields(classifier.schema)}
    assert set(fields) == set(classifier.schema.names)
    load = fields["load"]
    assert load["kind"] == "numeric" and load["min"] <= load["default"] <= load["max"]
    region = fields["region"]
    assert region["kind"] == "categorical" and set(region["options"]) == {"north", "south", "east", "west"}
    assert region["default"] == region["options"][0]
    seen_at = fields["seen_at"]
    assert seen_at["kind"] == "datetime" and seen_at["default"] == seen_at["max"]
    # The form's defaults make a valid row.
    row = pd.DataFrame([{name: field["default"] for name, field in fields.items()}])
    out, _ = predict_frame(classifier, row)
    assert len(out) == 1


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift() -> None:
    same = np.array([0.25, 0.25, 0.5])
    assert population_stability(same, same) == pytest.approx(0.0)
    assert population_stability(same, np.array([0.2, 0.3, 0.5])) < population_stability(same, np.array([0.5, 0.5, 0]))


def test_drift_report_flags_a_batch_shifted_by_two_sd(regressor: TrainedModel) -> None:
    batch = tiny_frame(500, task=config.REGRESSION, seed=7)[list(regressor.schema.names)]
    shift = 2 * regressor.schema.reference["load"].std()
    report = drift_report(regressor.schema, batch.assign(load=batch["load"] + shift)).set_index("column")
    assert report.loc["load", "level"] == config.DRIFT_MAJOR
    assert report.loc["load", "psi"] >= config.DRIFT_MAJOR_PSI
    assert report.loc["load", "outside_range"] > 0
    assert report.loc["size", "level"] == config.DRIFT_STABLE


def test_drift_report_keeps_an_unshifted_sample_stable(regressor: TrainedModel) -> None:
    batch = tiny_frame(500, task=config.REGRESSION, seed=7)[list(regressor.schema.names)]
    report = drift_report(regressor.schema, batch).set_index("column")
    measured = report[report["kind"].isin(["numeric", "categorical"])]
    assert set(measured.index) == {"load", "size", "region"}
    assert (measured["level"] == config.DRIFT_STABLE).all(), measured
    assert report.loc["seen_at", "level"] == config.DRIFT_NOT_MEASURED
    assert report.loc["load", "missing_train"] == pytest.approx(regressor.schema.column("load").missing_share)


def test_drift_report_counts_unseen_categories_and_missing_shares(regressor: TrainedModel) -> None:
    batch = tiny_frame(200, task=config.REGRESSION, seed=8)[list(regressor.schema.names)]
    batch.loc[batch.index[:60], "region"] = "atlantis"
    batch.loc[batch.index[60:100], "region"] = None
    report = drift_report(regressor.schema, batch).set_index("column")
    assert report.loc["region", "unseen"] == 60
    assert report.loc["region", "missing_now"] == pytest.approx(batch["region"].isna().mean())
    assert report.loc["region", "missing_now"] >= 0.2
    assert report.loc["region", "level"] == config.DRIFT_MAJOR
