"""ONNX export of a trained AutoML model, and the parity check that gates deploy.

The whole fitted pipeline (``ColumnTransformer`` + estimator, or a soft-voting average of such
pipelines) becomes one ONNX graph with one input per ``features.model_frame`` column: numbers as
float32 ``[N, 1]``, categories as strings ``[N, 1]``. ``model_frame`` runs before the graph on the
serving side too, so missing text arrives as ``config.MISSING`` (ONNX has no string NaN) and unseen
categories as ``config.OTHER``. Classifiers output the class index (``label``) and the class
probabilities (no ZipMap); regressors one value per row.

ONNX computes in float32, the pipeline in float64: a model is exportable only when ONNX Runtime
reproduces the pipeline on the kept test rows within ``config.PARITY_*`` tolerances. Heavy imports
(skl2onnx, onnxmltools, onnxruntime) happen inside the functions that need them.
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.automl import config
from core.automl.artifact import ONNX_FILE, TrainedModel
from core.automl.features import categorical_columns, model_frame, numeric_columns
from core.automl.predict import check_input
from core.automl.schema import Schema

if TYPE_CHECKING:
    import onnx
    import onnxruntime

# Opsets every ONNX Runtime from 1.14 on runs; TreeEnsemble* of ai.onnx.ml 3 take float inputs.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
CLASSIFIER_OPTIONS = {"nocl": [True, False], "zipmap": [True, False, "columns"]}


class NotExportable(Exception):
    """The model cannot become an ONNX graph that matches it; ``reason`` is written for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ExportResult:
    exportable: bool
    path: Path | None  # the written model.onnx (None when not exportable)
    reason: str  # why not exportable ("" when it is)
    parity: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


# --- converters -----------------------------------------------------------------------------------


def _missing_indicator_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([rows, len(operator.raw_operator.features_)])


def _convert_missing_indicator(scope: Any, operator: Any, container: Any) -> None:
    """MissingIndicator as IsNaN -> Gather(the flagged columns) -> Cast to float (skl2onnx has none)."""
    from onnx import TensorProto

    features = [int(i) for i in operator.raw_operator.features_]
    is_nan = scope.get_unique_variable_name("is_nan")
    picked = scope.get_unique_variable_name("is_nan_picked")
    indices = scope.get_unique_variable_name("indicator_columns")
    container.add_initializer(indices, TensorProto.INT64, [len(features)], features)
    container.add_node("IsNaN", operator.inputs[0].full_name, is_nan, name=scope.get_unique_operator_name("IsNaN"))
    container.add_node("Gather", [is_nan, indices], picked, axis=1, name=scope.get_unique_operator_name("Gather"))
    container.add_node("Cast", picked, operator.outputs[0].full_name, to=TensorProto.FLOAT,
                       name=scope.get_unique_operator_name("Cast"))


def warm_up() -> None:
    """Import the converters and ONNX Runtime (seconds, once per process): callers run this in a thread
    while the search runs, so the export inside the budget pays only for the conversion."""
    import onnxruntime  # noqa: F401
    import skl2onnx  # noqa: F401

    _register_converters()


@functools.cache
def _register_converters() -> None:
    """Teach skl2onnx the LightGBM and XGBoost estimators (converters from onnxmltools) and
    MissingIndicator, so they convert inside sklearn pipelines. Once per process."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from sklearn.impute import MissingIndicator
    from xgboost import XGBClassifier, XGBRegressor

    update_registered_converter(LGBMClassifier, "LightGbmLGBMClassifier", calculate_linear_classifier_output_shapes,
                                convert_lightgbm, options=CLASSIFIER_OPTIONS)
    update_registered_converter(LGBMRegressor, "LightGbmLGBMRegressor", calculate_linear_regressor_output_shapes,
                                convert_lightgbm)
    update_registered_converter(XGBClassifier, "XGBoostXGBClassifier", calculate_linear_classifier_output_shapes,
                                convert_xgboost, options=CLASSIFIER_OPTIONS)
    update_registered_converter(XGBRegressor, "XGBoostXGBRegressor", calculate_linear_regressor_output_shapes,
                                convert_xgboost)
    update_registered_converter(MissingIndicator, "SklearnMissingIndicator", _missing_indicator_shape,
                                _convert_missing_indicator)


# --- what converts --------------------------------------------------------------------------------


def _supported_estimators() -> tuple[type, ...]:
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
    from xgboost import XGBClassifier, XGBRegressor

    return (LGBMClassifier, LGBMRegressor, XGBClassifier, XGBRegressor, RandomForestClassifier,
            RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor, LogisticRegression, Ridge,
            ElasticNet, Lasso, LinearRegression)


def _check_no_native_categories(estimator: Any) -> None:
    """Native categorical splits (LightGBM categorical_feature, XGBoost enable_categorical) have no
    faithful ONNX form; the preprocessors hand trees ordinal codes so this should never trigger."""
    from lightgbm import LGBMModel
    from xgboost import XGBModel

    name = type(estimator).__name__
    if isinstance(estimator, LGBMModel):
        text = estimator.booster_.model_to_string()
        if re.search(r"^num_cat=[1-9]", text, flags=re.MULTILINE):
            raise NotExportable(f"{name} uses native categorical splits, which ONNX cannot reproduce")
    if isinstance(estimator, XGBModel):
        types = estimator.get_booster().feature_types or []
        if "c" in types:
            raise NotExportable(f"{name} uses native categorical splits, which ONNX cannot reproduce")


def _check_pipeline(pipeline: Any) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):
        raise NotExportable(f"{type(pipeline).__name__} is not a preprocessing + model pipeline")
    if not pipeline.steps or not isinstance(pipeline.steps[0][1], ColumnTransformer):
        raise NotExportable("the pipeline does not start with the column preprocessor")
    estimator = pipeline.steps[-1][1]
    if not isinstance(estimator, _supported_estimators()):
        raise NotExportable(f"{type(estimator).__name__} has no ONNX converter here")
    _check_no_native_categories(estimator)


def _members(pipeline: Any) -> list[tuple[Any, float]]:
    """The pipelines an export averages, with their weights (one pipeline: itself, weight 1)."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    if isinstance(pipeline, VotingClassifier | VotingRegressor):
        if isinstance(pipeline, VotingClassifier) and pipeline.voting != "soft":
            raise NotExportable("a hard-voting ensemble has no class probabilities to export")
        # estimators_ holds the fitted members without the dropped ones; weights follow estimators.
        kept = [not (isinstance(e, str) and e == "drop") and e is not None for _, e in pipeline.estimators]
        weights = [float(w) for w, keep in zip(pipeline.weights or [1.0] * len(kept), kept, strict=True) if keep]
        total = sum(weights)
        members = [(member, w / total) for member, w in zip(pipeline.estimators_, weights, strict=True)]
    else:
        members = [(pipeline, 1.0)]
    for member, _ in members:
        _check_pipeline(member)
    return members


# --- conversion -----------------------------------------------------------------------------------


def _initial_types(schema: Schema) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    # model_frame's column order: the numeric columns, then the categorical ones.
    return ([(c, FloatTensorType([None, 1])) for c in numeric_columns(schema)]
            + [(c, StringTensorType([None, 1])) for c in categorical_columns(schema)])


def _convert_one(pipeline: Any, schema: Schema) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn

    _register_converters()
    estimator = pipeline.steps[-1][1]
    options = {id(estimator): {"zipmap": False}} if schema.task == config.CLASSIFICATION else None
    try:
        return convert_sklearn(pipeline, initial_types=_initial_types(schema), options=options,
                               target_opset=TARGET_OPSET)
    except Exception as error:  # noqa: BLE001 - any converter failure means "not exportable", with its reason
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise NotExportable(f"the {type(estimator).__name__} pipeline did not convert to ONNX: "
                            f"{first_line[:300]}") from error


def _free_name(name: str, taken: list[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _average(members: list[tuple[onnx.ModelProto, float]], task: str) -> onnx.ModelProto:
    """One graph running every member on the shared inputs and averaging their outputs with the
    ensemble's weights: probabilities (label = their argmax) or regression values."""
    from onnx import TensorProto, compose, helper

    first = members[0][0]
    inputs = [entry.name for entry in first.graph.input]
    # Names of our own must not collide with an input column's name (a CSV column may be called "label").
    prefix = "ensemble_"
    while any(name.startswith(prefix) for name in inputs):
        prefix = "_" + prefix
    graph = helper.make_graph([], "ensemble", list(first.graph.input), [])
    to_average: list[str] = []
    for i, (member, weight) in enumerate(members):
        prefixed = compose.add_prefix_graph(member.graph, f"{prefix}m{i}_", rename_inputs=False)
        graph.node.extend(prefixed.node)
        graph.initializer.extend(prefixed.initializer)
        value = prefixed.output[1 if task == config.CLASSIFICATION else 0].name
        weight_name, weighted = f"{prefix}m{i}_weight", f"{prefix}m{i}_weighted"
        graph.initializer.append(helper.make_tensor(weight_name, TensorProto.FLOAT, [], [weight]))
        graph.node.append(helper.make_node("Mul", [value, weight_name], [weighted]))
        to_average.append(weighted)
    if task == config.CLASSIFICATION:
        label, probabilities = _free_name("label", inputs), _free_name("probabilities", inputs)
        graph.node.append(helper.make_node("Sum", to_average, [probabilities]))
        graph.node.append(helper.make_node("ArgMax", [probabilities], [label], axis=1, keepdims=0))
        graph.output.extend([helper.make_tensor_value_info(label, TensorProto.INT64, [None]),
                             helper.make_tensor_value_info(probabilities, TensorProto.FLOAT, [None, None])])
    else:
        variable = _free_name("variable", inputs)
        graph.node.append(helper.make_node("Sum", to_average, [variable]))
        graph.output.append(helper.make_tensor_value_info(variable, TensorProto.FLOAT, [None, 1]))
    opsets: dict[str, int] = {}
    for member, _ in members:
        for entry in member.opset_import:
            opsets[entry.domain] = max(opsets.get(entry.domain, 0), entry.version)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                              producer_name="headroom-automl")
    model.ir_version = first.ir_version
    return model


def to_onnx(model: TrainedModel) -> onnx.ModelProto:
    """The model's whole pipeline as one ONNX graph over the model-frame columns; raises
    ``NotExportable`` with the reason when a part has no faithful converter."""
    if not model.schema.columns:
        raise NotExportable("the model reads no input columns")
    members = _members(model.pipeline)
    converted = [(_convert_one(member, model.schema), weight) for member, weight in members]
    if len(converted) == 1:
        graph = converted[0][0]
    else:
        try:
            graph = _average(converted, model.schema.task)
        except Exception as error:  # noqa: BLE001 - a graph we cannot assemble is a reason, not a crash
            raise NotExportable(f"the ensemble's graphs could not be combined: {error}") from error
    _describe(graph, model)
    return graph


def _describe(graph: onnx.ModelProto, model: TrainedModel) -> None:
    """Metadata a deployer needs beside the graph: which model-frame column feeds which input, the
    task, target and class labels (the graph's label output is an index into them)."""
    from onnx import helper

    schema = model.schema
    inputs = dict(zip(numeric_columns(schema) + categorical_columns(schema), (i.name for i in graph.graph.input),
                      strict=True))
    metadata = {"task": schema.task, "target": schema.target, "algorithm": model.algorithm,
                "classes": json.dumps(list(schema.classes)), "inputs": json.dumps(inputs)}
    helper.set_model_props(graph, metadata)


# --- running and parity ---------------------------------------------------------------------------


def _session(model_bytes: bytes) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT warns about unused initializers otherwise
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def _feeds(session: onnxruntime.InferenceSession, frame: pd.DataFrame, schema: Schema) -> dict[str, np.ndarray]:
    """The model frame's columns as graph inputs, by position: skl2onnx renames inputs whose column
    name is not a plain identifier (``"cpu load (%)"`` becomes ``"cpu_load____"``)."""
    names = [node.name for node in session.get_inputs()]
    if len(names) != frame.shape[1]:
        raise ValueError(f"the graph has {len(names)} inputs, the model frame {frame.shape[1]} columns")
    categorical = set(categorical_columns(schema))
    feeds: dict[str, np.ndarray] = {}
    for name, column in zip(names, frame.columns, strict=True):
        values = frame[column].to_numpy()
        kind = object if column in categorical else np.float32
        feeds[name] = values.astype(kind).reshape(-1, 1)
    return feeds


def _run(session: onnxruntime.InferenceSession, raw: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Probabilities (classification) or values (regression) for raw input rows."""
    outputs = session.run(None, _feeds(session, model_frame(raw, schema), schema))
    if schema.task == config.CLASSIFICATION:
        return np.asarray(outputs[1], dtype=np.float64)
    return np.asarray(outputs[0], dtype=np.float64).reshape(-1)


def _pipeline_output(model: TrainedModel, raw: pd.DataFrame) -> np.ndarray:
    frame = model_frame(raw, model.schema)
    if model.schema.task == config.CLASSIFICATION:
        return np.asarray(model.pipeline.predict_proba(frame), dtype=np.float64)
    return np.asarray(model.pipeline.predict(frame), dtype=np.float64).reshape(-1)


def _regression_tolerance(model: TrainedModel, reference: np.ndarray) -> float:
    """``PARITY_REGRESSION_RELATIVE`` x the target's standard deviation (the test split's true values;
    the pipeline's own predictions when those are not kept), never zero."""
    truth = model.test_predictions.get("y_true") if isinstance(model.test_predictions, pd.DataFrame) else None
    values = pd.to_numeric(truth, errors="coerce") if truth is not None else pd.Series(reference)
    spread = float(np.nanstd(values.to_numpy(dtype=float))) if len(values) else 0.0
    if not np.isfinite(spread) or spread <= 0:
        spread = max(float(np.nanstd(reference)), 1.0) if len(reference) else 1.0
    return config.PARITY_REGRESSION_RELATIVE * spread


def check_parity(model: TrainedModel, onnx_model: onnx.ModelProto, raw: pd.DataFrame) -> dict[str, Any]:
    """ONNX Runtime vs the pipeline on raw input rows: classification probabilities within
    ``config.PARITY_PROBA_TOLERANCE``, regression within ``config.PARITY_REGRESSION_RELATIVE`` x the
    target's sd. Returns {ok, max_abs_diff, tolerance, rows, reason}."""
    rows = len(raw)
    if rows == 0:
        return {"ok": False, "max_abs_diff": None, "tolerance": None, "rows": 0,
                "reason": "no test rows were kept to compare ONNX with the model"}
    expected = _pipeline_output(model, raw)
    if model.schema.task == config.CLASSIFICATION:
        tolerance = config.PARITY_PROBA_TOLERANCE
    else:
        tolerance = _regression_tolerance(model, expected)
    try:
        actual = _run(_session(onnx_model.SerializeToString()), raw, model.schema)
    except Exception as error:  # noqa: BLE001 - a graph ONNX Runtime rejects fails parity, with its reason
        return {"ok": False, "max_abs_diff": None, "tolerance": tolerance, "rows": rows,
                "reason": f"ONNX Runtime could not run the graph: {error}"}
    if actual.shape != expected.shape:
        return {"ok": False, "max_abs_diff": None, "tolerance": tolerance, "rows": rows,
                "reason": f"ONNX output shape {actual.shape} differs from the model's {expected.shape}"}
    diff = np.abs(actual - expected)
    # NaN in both is agreement; NaN in one is the largest possible disagreement.
    diff = np.where(np.isnan(actual) & np.isnan(expected), 0.0, diff)
    max_diff = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))
    ok = max_diff <= tolerance
    reason = "" if ok else (f"ONNX differs from the model by up to {max_diff:.3g} on {rows} test rows "
                            f"(tolerance {tolerance:.3g})")
    return {"ok": bool(ok), "max_abs_diff": max_diff, "tolerance": float(tolerance), "rows": rows, "reason": reason}


def export_model(model: TrainedModel, directory: Path) -> ExportResult:
    """Convert, check parity on the kept test rows, and write ``model.onnx`` only when ONNX matches the
    model. Sets ``model.exportable`` and ``model.parity`` (save the model afterwards to keep them)."""
    started = time.perf_counter()
    target = directory / ONNX_FILE
    try:
        graph = to_onnx(model)
    except NotExportable as refused:
        parity: dict[str, Any] = {"ok": False, "max_abs_diff": None, "tolerance": None,
                                  "rows": len(model.test_inputs), "reason": refused.reason}
    else:
        parity = check_parity(model, graph, model.test_inputs)
    model.exportable = bool(parity["ok"])
    model.parity = parity
    if model.exportable:
        directory.mkdir(parents=True, exist_ok=True)
        target.write_bytes(graph.SerializeToString())
    else:
        target.unlink(missing_ok=True)  # never leave a graph that disagrees with the model
    return ExportResult(exportable=model.exportable, path=target if model.exportable else None,
                        reason=str(parity["reason"]), parity=parity, seconds=time.perf_counter() - started)


@functools.lru_cache(maxsize=8)
def _cached_session(path: str, modified_ns: int) -> onnxruntime.InferenceSession:
    # Keyed by modification time too, so a re-exported file is not served from a stale session.
    return _session(Path(path).read_bytes())


def onnx_predict(directory: Path, raw: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Predictions of the exported ``model.onnx`` for raw input rows (index kept): ``prediction``
    (class label or value) and, for classification, ``proba_<class>`` per class. The input goes
    through ``predict.check_input`` first, as for the pipeline (its messages: call it yourself)."""
    path = directory / ONNX_FILE
    session = _cached_session(str(path), path.stat().st_mtime_ns)
    checked, _ = check_input(raw, schema)
    output = _run(session, checked, schema)
    if schema.task != config.CLASSIFICATION:
        return pd.DataFrame({"prediction": output}, index=raw.index)
    labels = np.asarray(schema.classes, dtype=object)[output.argmax(axis=1)]
    frame = pd.DataFrame({"prediction": labels}, index=raw.index)
    for i, label in enumerate(schema.classes):
        frame[f"proba_{label}"] = output[:, i]
    return frame
