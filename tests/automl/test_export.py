"""ONNX export: every exportable family reproduces its pipeline within the parity tolerances, an
ensemble becomes one graph, and a model that does not convert or does not match is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from xgboost import XGBClassifier, XGBRegressor

from core.automl import config, features
from core.automl.artifact import ONNX_FILE, TrainedModel
from core.automl.export import NotExportable, check_parity, export_model, onnx_predict, to_onnx
from core.automl.predict import predict_frame
from core.automl.schema import Schema
from tests.automl.trained_models import ROLES, encode_target, pipeline_for, tiny_frame, trained_model

# Few, small trees and one thread each: the suite shares two cores with other work.
TREES = 15
CLASSIFIERS: dict[str, tuple[features.Family, Callable[[], Any]]] = {
    "lightgbm": ("tree", lambda: LGBMClassifier(n_estimators=TREES, num_leaves=8, n_jobs=1, verbose=-1)),
    "xgboost": ("tree", lambda: XGBClassifier(n_estimators=TREES, max_depth=3, n_jobs=1)),
    "random_forest": ("tree", lambda: RandomForestClassifier(n_estimators=TREES, max_depth=6, random_state=0)),
    "extra_trees": ("tree", lambda: ExtraTreesClassifier(n_estimators=TREES, max_depth=6, random_state=0)),
    "logistic": ("linear", lambda: LogisticRegression(max_iter=500)),
}
REGRESSORS: dict[str, tuple[features.Family, Callable[[], Any]]] = {
    "lightgbm": ("tree", lambda: LGBMRegressor(n_estimators=TREES, num_leaves=8, n_jobs=1, verbose=-1)),
    "xgboost": ("tree", lambda: XGBRegressor(n_estimators=TREES, max_depth=3, n_jobs=1)),
    "random_forest": ("tree", lambda: RandomForestRegressor(n_estimators=TREES, max_depth=6, random_state=0)),
    "extra_trees": ("tree", lambda: ExtraTreesRegressor(n_estimators=TREES, max_depth=6, random_state=0)),
    "ridge": ("linear", lambda: Ridge()),
    "elastic_net": ("linear", lambda: ElasticNet(alpha=0.05)),
    "lasso": ("linear", lambda: Lasso(alpha=0.05)),
    "linear_regression": ("linear", lambda: LinearRegression()),
}


def _model(task: str, family: features.Family, make: Callable[[], Any], *, classes: int = 2) -> TrainedModel:
    frame = tiny_frame(task=task, classes=classes)
    return trained_model(frame, task, lambda schema: pipeline_for(schema, family, make()))


def _assert_parity(model: TrainedModel) -> dict[str, Any]:
    parity = check_parity(model, to_onnx(model), model.test_inputs)
    assert parity["ok"], parity["reason"]
    assert parity["rows"] == len(model.test_inputs) > 0
    assert parity["max_abs_diff"] <= parity["tolerance"]
    return parity


def test_the_test_inputs_hold_missing_numbers_and_categories() -> None:
    # Parity over rows without gaps would not exercise the imputers, indicators and MISSING level.
    model = _model(config.CLASSIFICATION, *CLASSIFIERS["logistic"])
    assert model.test_inputs["load"].isna().any()
    assert model.test_inputs["region"].isna().any()


@pytest.mark.parametrize("classes", [2, 3], ids=["binary", "three_classes"])
@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_classifier_probabilities_match_within_tolerance(name: str, classes: int) -> None:
    model = _model(config.CLASSIFICATION, *CLASSIFIERS[name], classes=classes)
    parity = _assert_parity(model)
    assert parity["tolerance"] == config.PARITY_PROBA_TOLERANCE


@pytest.mark.parametrize("name", list(REGRESSORS))
def test_regressor_values_match_within_tolerance(name: str) -> None:
    model = _model(config.REGRESSION, *REGRESSORS[name])
    parity = _assert_parity(model)
    expected = config.PARITY_REGRESSION_RELATIVE * model.test_predictions["y_true"].std(ddof=0)
    assert parity["tolerance"] == pytest.approx(expected)


def test_classifier_graph_outputs_label_and_probabilities_without_zipmap() -> None:
    model = _model(config.CLASSIFICATION, *CLASSIFIERS["lightgbm"], classes=3)
    graph = to_onnx(model)
    assert [o.name for o in graph.graph.output] == ["label", "probabilities"]
    assert "ZipMap" not in {node.op_type for node in graph.graph.node}
    inputs = {i.name: i.type.tensor_type.elem_type for i in graph.graph.input}
    assert inputs["region"] == onnx.TensorProto.STRING
    assert inputs["load"] == onnx.TensorProto.FLOAT
    assert list(inputs) == features.numeric_columns(model.schema) + features.categorical_columns(model.schema)
    metadata = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(metadata["classes"]) == list(model.schema.classes)


def test_tree_models_see_the_missing_indicator_in_onnx_too() -> None:
    # The indicator is a column of the fitted preprocessor; the graph must produce it, or the trees read
    # the wrong feature (an ONNX Runtime error, or silently shifted columns).
    model = _model(config.REGRESSION, *REGRESSORS["random_forest"])
    prep = model.pipeline.named_steps["prep"]
    assert "missingindicator_load" in prep.get_feature_names_out()
    _assert_parity(model)


@pytest.mark.parametrize("classes", [2, 3], ids=["binary", "three_classes"])
def test_soft_voting_ensemble_becomes_one_graph(classes: int) -> None:
    def ensemble(schema: Schema) -> VotingClassifier:
        members = [("lightgbm", pipeline_for(schema, "tree", CLASSIFIERS["lightgbm"][1]())),
                   ("logistic", pipeline_for(schema, "linear", CLASSIFIERS["logistic"][1]()))]
        return VotingClassifier(members, voting="soft", weights=[2, 1])

    model = trained_model(tiny_frame(task=config.CLASSIFICATION, classes=classes), config.CLASSIFICATION, ensemble)
    _assert_parity(model)


def test_averaging_regressor_ensemble_becomes_one_graph() -> None:
    def ensemble(schema: Schema) -> VotingRegressor:
        return VotingRegressor([("forest", pipeline_for(schema, "tree", REGRESSORS["random_forest"][1]())),
                                ("xgboost", pipeline_for(schema, "tree", REGRESSORS["xgboost"][1]())),
                                ("ridge", pipeline_for(schema, "linear", Ridge()))], weights=[0.5, 0.3, 0.2])

    model = trained_model(tiny_frame(task=config.REGRESSION), config.REGRESSION, ensemble)
    _assert_parity(model)


def test_column_names_that_are_not_identifiers_still_feed_the_graph() -> None:
    renamed = {"load": "cpu load (%)", "region": "région/zone"}
    frame = tiny_frame(task=config.REGRESSION).rename(columns=renamed)
    roles = {renamed.get(name, name): role for name, role in ROLES.items()}
    model = trained_model(frame, config.REGRESSION, lambda schema: pipeline_for(schema, "linear", Ridge()),
                          roles=roles)
    _assert_parity(model)


def test_columns_named_like_the_outputs_do_not_clash() -> None:
    renamed = {"load": "label", "region": "probabilities"}
    frame = tiny_frame(task=config.CLASSIFICATION, classes=3).rename(columns=renamed)
    roles = {renamed.get(name, name): role for name, role in ROLES.items()}

    def ensemble(schema: Schema) -> VotingClassifier:
        return VotingClassifier([("lightgbm", pipeline_for(schema, "tree", CLASSIFIERS["lightgbm"][1]())),
                                 ("logistic", pipeline_for(schema, "linear", LogisticRegression()))], voting="soft")

    model = trained_model(frame, config.CLASSIFICATION, ensemble, roles=roles)
    _assert_parity(model)


def test_export_writes_the_graph_and_onnx_predicts_like_the_model(tmp_path: Path) -> None:
    model = _model(config.CLASSIFICATION, *CLASSIFIERS["xgboost"], classes=3)
    result = export_model(model, tmp_path)
    assert result.exportable and result.path == tmp_path / ONNX_FILE and result.path.exists()
    assert model.exportable and model.parity["ok"] and result.reason == ""

    raw = model.test_inputs.assign(region=["atlantis"] + list(model.test_inputs["region"].iloc[1:]))
    from_onnx = onnx_predict(tmp_path, raw, model.schema)
    from_model, _ = predict_frame(model, raw)
    assert list(from_onnx.columns) == list(from_model.columns)
    assert (from_onnx["prediction"] == from_model["prediction"]).all()
    proba = [f"proba_{label}" for label in model.schema.classes]
    assert np.abs(from_onnx[proba].to_numpy() - from_model[proba].to_numpy()).max() <= config.PARITY_PROBA_TOLERANCE


def test_a_step_without_converter_refuses_the_export(tmp_path: Path) -> None:
    def with_log_step(schema: Schema) -> Pipeline:
        numeric = features.numeric_columns(schema)
        prep = ColumnTransformer([("log", FunctionTransformer(np.log1p), ["size"]),
                                  ("rest", features.make_preprocessor(schema, "tree"), numeric + ["region"])])
        return Pipeline([("prep", prep), ("model", RandomForestRegressor(n_estimators=5, random_state=0))])

    model = trained_model(tiny_frame(task=config.REGRESSION), config.REGRESSION, with_log_step)
    (tmp_path / ONNX_FILE).write_bytes(b"stale")
    result = export_model(model, tmp_path)
    assert not result.exportable and result.path is None
    assert "did not convert to ONNX" in result.reason and "FunctionTransformer" in result.reason
    assert not model.exportable and model.parity["ok"] is False
    assert not (tmp_path / ONNX_FILE).exists()


def test_an_estimator_without_converter_is_not_exportable() -> None:
    model = _model(config.CLASSIFICATION, "tree", lambda: HistGradientBoostingClassifier(max_iter=10))
    with pytest.raises(NotExportable, match="HistGradientBoostingClassifier"):
        to_onnx(model)


def test_hard_voting_is_not_exportable() -> None:
    def ensemble(schema: Schema) -> VotingClassifier:
        return VotingClassifier([("a", pipeline_for(schema, "linear", LogisticRegression())),
                                 ("b", pipeline_for(schema, "tree", CLASSIFIERS["random_forest"][1]()))], voting="soft")

    model = trained_model(tiny_frame(task=config.CLASSIFICATION), config.CLASSIFICATION, ensemble)
    model.pipeline.set_params(voting="hard")  # fitted soft (the builder reads probabilities), then switched
    with pytest.raises(NotExportable, match="hard-voting"):
        to_onnx(model)


def test_native_categorical_splits_are_not_exportable() -> None:
    frame = tiny_frame(task=config.CLASSIFICATION)
    make = CLASSIFIERS["lightgbm"][1]
    model = trained_model(frame, config.CLASSIFICATION, lambda schema: pipeline_for(schema, "tree", make()))
    # Refit with the region's ordinal codes declared categorical: LightGBM then learns category-set splits.
    train = frame.iloc[: len(frame) - len(model.test_inputs)]
    names = list(model.pipeline.named_steps["prep"].get_feature_names_out())
    model.pipeline.set_params(model__min_data_per_group=5, model__cat_smooth=1.0)
    model.pipeline.fit(features.model_frame(train, model.schema), encode_target(train["y"], model.schema),
                       model__categorical_feature=[names.index("region")])
    with pytest.raises(NotExportable, match="categorical"):
        to_onnx(model)


def _perturbed(graph: onnx.ModelProto) -> onnx.ModelProto:
    """The same graph with the linear model's intercepts moved: a graph that no longer matches."""
    copy = onnx.ModelProto()
    copy.CopyFrom(graph)
    for node in copy.graph.node:
        for attribute in node.attribute:
            if attribute.name == "intercepts":
                attribute.floats[:] = [value + 0.5 for value in attribute.floats]
                return copy
    raise AssertionError("no intercepts in the graph")


def test_a_graph_that_disagrees_fails_parity() -> None:
    model = _model(config.CLASSIFICATION, *CLASSIFIERS["logistic"])
    parity = check_parity(model, _perturbed(to_onnx(model)), model.test_inputs)
    assert parity["ok"] is False
    assert parity["max_abs_diff"] > config.PARITY_PROBA_TOLERANCE
    assert "differs" in parity["reason"]


def test_parity_needs_test_rows() -> None:
    model = _model(config.REGRESSION, *REGRESSORS["ridge"])
    parity = check_parity(model, to_onnx(model), model.test_inputs.head(0))
    assert parity["ok"] is False and parity["rows"] == 0


def test_parity_failure_makes_export_refuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.automl import export

    model = _model(config.CLASSIFICATION, *CLASSIFIERS["logistic"])
    monkeypatch.setattr(export, "to_onnx", lambda m: _perturbed(to_onnx(m)))
    result = export_model(model, tmp_path)
    assert not result.exportable and "differs" in result.reason
    assert not model.exportable and not (tmp_path / ONNX_FILE).exists()


def test_onnx_predict_regression_values(tmp_path: Path) -> None:
    model = _model(config.REGRESSION, *REGRESSORS["lightgbm"])
    assert export_model(model, tmp_path).exportable
    out = onnx_predict(tmp_path, model.test_inputs, model.schema)
    expected, _ = predict_frame(model, model.test_inputs)
    assert list(out.columns) == ["prediction"]
    assert isinstance(out, pd.DataFrame) and out.index.equals(model.test_inputs.index)
    assert np.abs(out["prediction"] - expected["prediction"]).max() <= model.parity["tolerance"]
