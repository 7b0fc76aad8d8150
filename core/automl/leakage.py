"""Columns that predict the target almost perfectly on their own: a sign they are computed from the
target or only known after it (taxis: ``total`` includes ``tip``), so a model would score well here and
fail in use.

Each model-role column gets a one-column shallow decision tree, cross-validated on a sample (the
preprocessing fitted inside each fold, through the same ``model_frame`` and tree preprocessor training
uses), scored by ROC AUC (macro one-vs-rest for several classes) or R². A column is flagged when that
score is near-perfect or when it is a near-copy of the target (correlation, or values that each go
with one class). IDs, constants and high-cardinality columns are not model inputs and are not scanned.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from core.automl import config
from core.automl.detection import present_values, validate_target
from core.automl.eda import correlation_ratio, spearman
from core.automl.features import make_preprocessor, model_frame
from core.automl.schema import build_schema, category_text
from core.errors import InputError

LEAKAGE_TABLE = ["column", "score", "metric", "near_copy", "flagged", "reason"]
Splits = list[tuple[np.ndarray, np.ndarray]]


def _sample(frame: pd.DataFrame, target: str, seed: int) -> pd.DataFrame:
    labelled = frame[present_values(frame[target]).notna().to_numpy()]
    if len(labelled) > config.LEAKAGE_SAMPLE_ROWS:
        labelled = labelled.sample(config.LEAKAGE_SAMPLE_ROWS, random_state=seed)
    return labelled.reset_index(drop=True)


def _labels(values: pd.Series, task: str) -> np.ndarray:
    if task == config.CLASSIFICATION:
        codes, _ = pd.factorize(category_text(values), sort=True)
        return codes
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if np.isnan(numbers).any():
        raise InputError("holds values that are not numbers, so it cannot be a regression target",
                         column=str(values.name))
    return numbers


def _splits(y: np.ndarray, task: str, seed: int) -> Splits:
    folds = config.LEAKAGE_FOLDS
    if task == config.CLASSIFICATION and np.bincount(y).min() >= folds:
        cv: StratifiedKFold | KFold = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        cv = KFold(folds, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y))


def _cv_score(sample: pd.DataFrame, column: str, role: str, target: str, task: str, y: np.ndarray,
              splits: Splits, seed: int) -> float:
    """The one-column tree's out-of-fold ROC AUC or R²."""
    schema = build_schema(sample[[column, target]], {column: role, target: config.TARGET}, target, task, seed=seed)
    # ±inf would stop the imputer; as missing it still tells the tree something.
    x = model_frame(sample, schema).replace([np.inf, -np.inf], np.nan)
    tree: DecisionTreeClassifier | DecisionTreeRegressor
    if task == config.CLASSIFICATION:
        tree = DecisionTreeClassifier(max_depth=config.LEAKAGE_TREE_DEPTH, min_samples_leaf=config.LEAKAGE_MIN_LEAF,
                                      random_state=seed)
    else:
        tree = DecisionTreeRegressor(max_depth=config.LEAKAGE_TREE_DEPTH, min_samples_leaf=config.LEAKAGE_MIN_LEAF,
                                     random_state=seed)
    classes = int(y.max()) + 1 if task == config.CLASSIFICATION else 0
    predicted = np.zeros((len(y), classes)) if classes else np.zeros(len(y))
    for train, test in splits:
        model = Pipeline([("prep", make_preprocessor(schema, "tree")), ("tree", tree)])
        model.fit(x.iloc[train], y[train])
        if classes:
            # A class absent from a training fold keeps probability 0 in that fold.
            predicted[np.ix_(test, model.classes_)] = model.predict_proba(x.iloc[test])
        else:
            predicted[test] = model.predict(x.iloc[test])
    if not classes:
        return float(r2_score(y, predicted))
    if classes == 2:
        return float(roc_auc_score(y, predicted[:, 1]))
    return float(roc_auc_score(y, predicted, multi_class="ovr", average="macro", labels=np.arange(classes)))


def _purity(values: pd.Series, y: np.ndarray) -> tuple[float, int]:
    """Share of rows whose class is their value's most common class, and the number of values."""
    groups = pd.DataFrame({"v": values.to_numpy(), "y": y}).groupby("v", sort=False)["y"]
    majority = groups.agg(lambda g: g.value_counts().iloc[0])
    return float(majority.sum() / len(y)), int(len(majority))


def _near_copy(values: pd.Series, role: str, task: str, y: np.ndarray) -> tuple[float, str] | None:
    """(strength, how) when the column is a near-copy of the target, else None."""
    if role != config.FEATURE:
        return None  # datetimes and text can still be flagged by their score
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    few = values.nunique(dropna=False) <= config.MAX_CATEGORIES and values.nunique() < len(values) / 2
    if task == config.CLASSIFICATION:
        if not few:
            return None
        purity, count = _purity(category_text(values), y)
        if purity >= config.LEAKAGE_NEAR_COPY:
            return purity, f"each of its {count} values goes with one class ({purity:.1%} of rows): it decides the target"
        return None
    target = pd.Series(y)
    if numeric:
        numbers = pd.Series(values.to_numpy(dtype=float))
        keep = np.isfinite(numbers.to_numpy())
        if keep.sum() < 3 or numbers[keep].std() == 0:
            return None
        pearson = abs(float(np.corrcoef(numbers[keep], target[keep])[0, 1]))
        rank = spearman(numbers[keep], target[keep])
        strength = max(pearson, rank)
        if strength >= config.LEAKAGE_NEAR_COPY:
            return strength, f"a near-copy of the target (|Pearson r| {pearson:.3f}, |Spearman ρ| {rank:.3f})"
        return None
    if few:
        eta = correlation_ratio(category_text(values), target)
        if eta >= config.LEAKAGE_NEAR_COPY:
            return eta, f"its categories pin the target down (correlation ratio η {eta:.3f})"
    return None


def _offset_share(residual: np.ndarray, step: float) -> float:
    """Share of rows whose residual is one of the few most common amounts (missing rows never are)."""
    finite = residual[np.isfinite(residual)]
    if finite.size == 0:
        return 0.0
    _, counts = np.unique(np.round(finite / step), return_counts=True)
    return float(np.sort(counts)[-config.LEAKAGE_IDENTITY_OFFSETS:].sum() / residual.size)


Terms = tuple[tuple[str, int], ...]


def _identity_candidates(numbers: dict[str, np.ndarray], y: np.ndarray, step: float, rows: np.ndarray,
                         floor: float) -> list[tuple[Terms, float]]:
    """Signed sums of up to LEAKAGE_IDENTITY_TERMS columns whose residual on ``rows`` is one of a few
    fixed amounts in at least ``floor`` of them: smallest sums first, then the best share."""
    found: list[tuple[Terms, float]] = []
    for size in range(1, config.LEAKAGE_IDENTITY_TERMS + 1):
        for chosen in itertools.combinations(list(numbers), size):
            for signs in itertools.product((1, -1), repeat=size):
                residual = y[rows] - sum(sign * numbers[name][rows] for name, sign in zip(chosen, signs, strict=True))
                share = _offset_share(np.asarray(residual, dtype=float), step)
                if share >= floor:
                    found.append((tuple(zip(chosen, signs, strict=True)), share))
    return sorted(found, key=lambda item: (len(item[0]), -item[1]))


def accounting_identity(sample: pd.DataFrame, target: str, columns: list[str], *,
                        seed: int = config.DEFAULT_SEED) -> tuple[list[str], str] | None:
    """(columns, reason) when the numeric target is a signed sum of a few numeric columns plus one of
    a few fixed amounts (taxis: tip = total - fare - tolls - a surcharge); None otherwise."""
    y = pd.to_numeric(sample[target], errors="coerce").to_numpy(dtype=float)
    step = (float(np.nanstd(y)) or 1.0) * 1e-6
    if _offset_share(y, step) >= config.LEAKAGE_IDENTITY_SHARE:
        return None  # the target alone takes a few values: every sum would "explain" it

    def strength(column: str) -> float:
        x = sample[column].to_numpy(dtype=float)
        keep = np.isfinite(x) & np.isfinite(y)
        return spearman(pd.Series(x[keep]), pd.Series(y[keep])) if keep.sum() > 2 else 0.0

    ranked = sorted(columns, key=lambda c: -strength(c))
    numbers = {c: sample[c].to_numpy(dtype=float) for c in ranked[: config.LEAKAGE_IDENTITY_COLUMNS]}
    # Screen on a random subset with some slack, then confirm each candidate on the whole sample.
    everything = np.arange(len(y))
    screen = np.random.default_rng(seed).permutation(everything)[:2_000]
    for terms, _ in _identity_candidates(numbers, y, step, screen, config.LEAKAGE_IDENTITY_SHARE - 0.05):
        residual = y - sum(sign * numbers[name] for name, sign in terms)
        share = _offset_share(np.asarray(residual, dtype=float), step)
        if share >= config.LEAKAGE_IDENTITY_SHARE:
            formula = " ".join(f"{'-' if sign < 0 else '+'} {name}" for name, sign in terms).lstrip("+ ")
            reason = (f"{target} = {formula} plus one of {config.LEAKAGE_IDENTITY_OFFSETS} fixed amounts in "
                      f"{share:.0%} of rows: together these columns give the target away (drop the one "
                      "computed from it)")
            return [name for name, _ in terms], reason
    return None


def _verdict(score: float, metric: str, copy: tuple[float, str] | None, identity: str | None) -> tuple[bool, str]:
    threshold = config.LEAKAGE_AUC if metric.startswith("roc_auc") else config.LEAKAGE_R2
    name = "ROC AUC" if metric.startswith("roc_auc") else "R²"
    alone = f"alone it scores {name} {score:.3f} in {config.LEAKAGE_FOLDS}-fold CV"
    if copy is not None:
        return True, f"{copy[1]}; {alone}: is it computed from the target or known only after it?"
    if identity is not None:
        return True, f"{identity}; {alone}"
    if score >= threshold:
        return True, (f"{alone} (≥ {threshold}): is it computed from the target or known only after it? "
                      "Drop it unless it is available at prediction time")
    return False, f"{alone}: no sign of leakage"


def leakage_scan(frame: pd.DataFrame, target: str, task: str, roles: dict[str, str], *,
                 seed: int = config.DEFAULT_SEED) -> pd.DataFrame:
    """One row per model-role column (``LEAKAGE_TABLE``), flagged ones first: the column's single-column
    cross-validated score, whether it is a near-copy of the target, and why it is (not) flagged."""
    validate_target(frame, target)
    sample = _sample(frame, target, seed)
    y = _labels(present_values(sample[target]), task)
    metric = "r2"
    if task == config.CLASSIFICATION:
        metric = "roc_auc" if y.max() == 1 else "roc_auc_ovr_macro"
    splits = _splits(y, task, seed)
    identity = None
    if task == config.REGRESSION:
        numeric = [c for c in frame.columns if c != target and roles.get(c, config.FEATURE) == config.FEATURE
                   and pd.api.types.is_numeric_dtype(sample[c]) and not pd.api.types.is_bool_dtype(sample[c])]
        identity = accounting_identity(sample, target, numeric, seed=seed)
    rows = []
    for column in frame.columns:
        role = roles.get(column, config.FEATURE)
        if column == target or role not in config.MODEL_ROLES:
            continue
        values = present_values(sample[column])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = _cv_score(sample, column, role, target, task, y, splits, seed)
        copy = _near_copy(values, role, task, y)
        in_identity = identity[1] if identity is not None and column in identity[0] else None
        flagged, reason = _verdict(score, metric, copy, in_identity)
        rows.append({"column": column, "score": round(score, 4), "metric": metric, "near_copy": copy is not None,
                     "flagged": flagged, "reason": reason})
    table = pd.DataFrame(rows, columns=LEAKAGE_TABLE)
    return table.sort_values(["flagged", "score"], ascending=[False, False], kind="stable").reset_index(drop=True)
