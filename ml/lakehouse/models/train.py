"""Training one task: the models side by side on the same split, from the prior to LightGBM tuned
and feature-selected, each evaluated on validation and test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.linear_model import LinearRegression, LogisticRegression

from lakehouse.common.progress import Progress
from lakehouse.config import TrainingConfig
from lakehouse.models.boosting import fit_lightgbm
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.metrics import choose_threshold, task_metrics
from lakehouse.models.predict import predict
from lakehouse.models.preprocess import Preprocessor
from lakehouse.models.selection import (
    is_at_least_as_good,
    permutation_importance,
    permutation_rows,
    unimportant,
)
from lakehouse.models.split import task_splits
from lakehouse.models.tasks import SELECTION_METRIC, Task, labels
from lakehouse.models.tune import tune


@dataclass
class ModelRun:
    """One model of the side-by-side table, with what it predicted and how it scored."""

    name: str
    task: Task
    model: Any
    pre: Preprocessor
    features: list[str]
    threshold: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class TaskResult:
    task: Task
    models: list[ModelRun]
    prior: float
    trials: list[dict[str, Any]]
    importance_gain: dict[str, float]
    importance_permutation: dict[str, float]
    dropped: dict[str, float]
    seconds: float

    @property
    def final(self) -> ModelRun:
        return self.models[-1]


def make_preprocessor(train: pl.DataFrame, features: list[str]) -> Preprocessor:
    categorical = [c for c in FEATURES.categorical if c in features]
    return Preprocessor.fit(train, [c for c in features if c not in categorical], categorical)


def evaluate_run(run: ModelRun, splits: dict[str, pl.DataFrame], prior: float) -> ModelRun:
    """Predict every split, choose a classifier's threshold on validation, score every split."""
    for name, rows in splits.items():
        run.predictions[name] = predict(run.model, run.pre, rows)
    if run.task == "classification":
        run.threshold = choose_threshold(
            labels(splits["validation"], run.task), run.predictions["validation"]
        )
    for name, rows in splits.items():
        run.metrics[name] = task_metrics(
            run.task, labels(rows, run.task), run.predictions[name], run.threshold, prior
        )
    return run


def _baselines(
    task: Task, splits: dict[str, pl.DataFrame], pre: Preprocessor, prior: float
) -> list[ModelRun]:
    """The prior rate (or mean) and a linear model on every feature."""
    train = splits["train"]
    constant = ModelRun("prior" if task == "classification" else "mean", task, prior, pre, [])
    linear: Any = LogisticRegression(max_iter=1000, C=1.0) if task == "classification" else LinearRegression()
    linear.fit(pre.for_linear(train), labels(train, task))
    features = list(FEATURES.all)
    return [
        evaluate_run(constant, splits, prior),
        evaluate_run(ModelRun("linear", task, linear, pre, features), splits, prior),
    ]


def _lightgbm(
    name: str,
    task: Task,
    splits: dict[str, pl.DataFrame],
    features: list[str],
    params: dict[str, Any],
    prior: float,
    pre: Preprocessor | None = None,
) -> ModelRun:
    """LightGBM on `features` with `params`, early-stopped on validation, evaluated; `pre` when
    the caller has fitted the features' preprocessor already."""
    pre = pre or make_preprocessor(splits["train"], features)
    booster = fit_lightgbm(pre, splits["train"], splits["validation"], task, params)
    return evaluate_run(ModelRun(name, task, booster, pre, features, params=params), splits, prior)


def train_task(frame: pl.DataFrame, task: Task, config: TrainingConfig, progress: Progress) -> TaskResult:
    """Baseline, linear model, LightGBM on schedule features, LightGBM on everything (tuned, then
    feature-selected), all on the same split."""
    started = time.perf_counter()
    splits = task_splits(frame, config, task)
    train, validation = splits["train"], splits["validation"]
    prior = float(labels(train, task).mean())
    all_features = list(FEATURES.all)
    pre_all = make_preprocessor(train, all_features)

    progress("baseline and linear model")
    models = _baselines(task, splits, pre_all, prior)

    progress("tuning LightGBM")
    tuned, trials = tune(train, task, pre_all, config, progress)

    progress("LightGBM on schedule features")
    models.append(_lightgbm("lightgbm_schedule", task, splits, list(FEATURES.schedule_only), tuned, prior))

    progress("LightGBM on all features")
    full = _lightgbm("lightgbm_all_features", task, splits, all_features, tuned, prior, pre_all)
    gain = dict(zip(full.pre.tree_features, full.model.feature_importance("gain").tolist(), strict=True))

    progress("permutation importance and feature selection")
    permutation = permutation_importance(
        full.model, full.pre, permutation_rows(validation, config), task, config.seed
    )
    dropped = unimportant(permutation, config)
    final = full
    if dropped:
        kept = [name for name in all_features if name not in dropped]
        selected = _lightgbm("lightgbm_selected", task, splits, kept, tuned, prior)
        metric = SELECTION_METRIC[task]
        if is_at_least_as_good(
            task, selected.metrics["validation"][metric], full.metrics["validation"][metric]
        ):
            models.append(full)
            final = selected
        else:
            dropped = {}
    models.append(final)
    return TaskResult(task, models, prior, trials, gain, permutation, dropped, time.perf_counter() - started)
