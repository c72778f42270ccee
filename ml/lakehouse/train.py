"""Training: the time split, the models side by side, tuning, feature selection.

Protocol: fit on January-September, choose on October-November (early stopping, tuning objective
folds aside, the probability threshold, feature selection, the champion), test on December once
per run, for the report only. Tuning uses expanding-window folds over the training months.

Tasks:
- classification: P(departure more than 15 minutes late, or cancelled) for every scheduled flight;
  the same model is also scored on departed flights only (the variant without cancellations);
- regression: arrival delay in minutes, for flights that arrived."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import optuna
import polars as pl
from sklearn.linear_model import LinearRegression, LogisticRegression

from lakehouse.config import TrainingConfig
from lakehouse.evaluate import choose_threshold, classification_metrics, regression_metrics
from lakehouse.features import FEATURES
from lakehouse.preprocess import Preprocessor

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
LABEL: dict[Task, str] = {"classification": "is_delayed", "regression": "arr_delay_minutes"}
# What a model is judged on in validation: higher is better for AUC, lower for RMSE.
SELECTION_METRIC: dict[Task, str] = {"classification": "roc_auc", "regression": "rmse"}
MAX_ROUNDS = 1000
EARLY_STOPPING_ROUNDS = 30

Progress = Callable[[str], None]


def is_trial_message(message: str) -> bool:
    """Tuning reports every trial; a console log shows only the stages."""
    return any(part.startswith("trial ") for part in message.split(": "))


def higher_is_better(task: Task) -> bool:
    return task == "classification"


def month_of(frame: pl.DataFrame) -> pl.Series:
    return frame["scheduled_departure_date"].dt.month()


def split_by_month(frame: pl.DataFrame, config: TrainingConfig) -> dict[str, pl.DataFrame]:
    """train / validation / test by the month of the scheduled departure (local date)."""
    month = month_of(frame)
    return {
        "train": frame.filter(month.is_in(config.train_months)),
        "validation": frame.filter(month.is_in(config.validation_months)),
        "test": frame.filter(month.is_in(config.test_months)),
    }


def task_rows(frame: pl.DataFrame, task: Task) -> pl.DataFrame:
    """The rows a task learns from: every flight for classification, arrived ones for regression."""
    return frame.filter(pl.col(LABEL[task]).is_not_null())


def labels(frame: pl.DataFrame, task: Task) -> np.ndarray:
    return frame[LABEL[task]].cast(pl.Float64).to_numpy()


def base_params(task: Task, config: TrainingConfig) -> dict[str, Any]:
    return {
        "objective": "binary" if task == "classification" else "regression",
        "metric": "auc" if task == "classification" else "rmse",
        "learning_rate": 0.08,
        "num_leaves": 63,
        "min_data_in_leaf": 100,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": config.num_threads,
        "verbose": -1,
    }


def fit_lightgbm(
    pre: Preprocessor,
    train: pl.DataFrame,
    validation: pl.DataFrame,
    task: Task,
    params: dict[str, Any],
) -> lgb.Booster:
    """LightGBM with early stopping on `validation`."""
    names = pre.tree_features
    train_set = lgb.Dataset(
        pre.for_trees(train),
        labels(train, task),
        feature_name=names,
        categorical_feature=pre.categorical,
        free_raw_data=False,
    )
    valid_set = lgb.Dataset(pre.for_trees(validation), labels(validation, task), reference=train_set)
    return lgb.train(
        params,
        train_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )


def predict(model: Any, pre: Preprocessor, frame: pl.DataFrame, task: Task) -> np.ndarray:
    if isinstance(model, lgb.Booster):
        return np.asarray(model.predict(pre.for_trees(frame), num_iteration=model.best_iteration))
    if isinstance(model, LogisticRegression):
        return np.asarray(model.predict_proba(pre.for_linear(frame))[:, 1])
    if isinstance(model, LinearRegression):
        return np.asarray(model.predict(pre.for_linear(frame)))
    # a constant: the prior rate or the mean
    return np.full(frame.height, float(model))


def score(
    task: Task, y: np.ndarray, predicted: np.ndarray, threshold: float, prior: float
) -> dict[str, float]:
    if task == "classification":
        return classification_metrics(y, predicted, threshold, prior)
    return regression_metrics(y, predicted)


def selection_value(task: Task, y: np.ndarray, predicted: np.ndarray) -> float:
    return score(task, y, predicted, 0.5, float(y.mean()))[SELECTION_METRIC[task]]


def tune(
    frame: pl.DataFrame, task: Task, pre: Preprocessor, config: TrainingConfig, progress: Progress
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Optuna (TPE, seeded) over expanding-window folds of the training months."""
    month = month_of(frame)
    folds = [
        (frame.filter(month <= last), frame.filter(month == last + 1)) for last in config.cv_last_train_months
    ]
    sign = 1.0 if higher_is_better(task) else -1.0

    def objective(trial: optuna.Trial) -> float:
        params = base_params(task, config) | {
            "learning_rate": trial.suggest_float("learning_rate", 0.04, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 15, 255, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 50, 2000, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        }
        values = []
        for fit_rows, check_rows in folds:
            model = fit_lightgbm(pre, fit_rows, check_rows, task, params)
            values.append(
                selection_value(task, labels(check_rows, task), predict(model, pre, check_rows, task))
            )
        value = float(np.mean(values))
        progress(f"trial {trial.number + 1}/{config.trials}: {SELECTION_METRIC[task]} {value:.4f}")
        return sign * value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed))
    study.optimize(objective, n_trials=config.trials, timeout=config.tuning_timeout_seconds)
    trials = [
        {"trial": t.number, "value": sign * float(t.value or 0.0), **t.params}
        for t in study.trials
        if t.value is not None
    ]
    return base_params(task, config) | study.best_params, trials


def permutation_importance(
    model: lgb.Booster, pre: Preprocessor, frame: pl.DataFrame, task: Task, seed: int
) -> dict[str, float]:
    """How much the validation metric worsens when one feature's values are shuffled."""
    x = pre.for_trees(frame)
    y = labels(frame, task)
    sign = 1.0 if higher_is_better(task) else -1.0
    baseline = selection_value(task, y, np.asarray(model.predict(x, num_iteration=model.best_iteration)))
    rng = np.random.default_rng(seed)
    importance = {}
    for j, name in enumerate(pre.tree_features):
        shuffled = x.copy()
        shuffled[:, j] = rng.permutation(shuffled[:, j])
        value = selection_value(
            task, y, np.asarray(model.predict(shuffled, num_iteration=model.best_iteration))
        )
        importance[name] = sign * (baseline - value)
    return importance


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


def _evaluate(run: ModelRun, splits: dict[str, pl.DataFrame], prior: float) -> ModelRun:
    for name, rows in splits.items():
        run.predictions[name] = predict(run.model, run.pre, rows, run.task)
    if run.task == "classification":
        run.threshold = choose_threshold(
            labels(splits["validation"], run.task), run.predictions["validation"]
        )
    for name, rows in splits.items():
        run.metrics[name] = score(
            run.task, labels(rows, run.task), run.predictions[name], run.threshold, prior
        )
    return run


def train_task(frame: pl.DataFrame, task: Task, config: TrainingConfig, progress: Progress) -> TaskResult:
    """Baseline, linear model, LightGBM on schedule features, LightGBM on everything (tuned, then
    feature-selected), all on the same split."""
    started = time.perf_counter()
    splits = {name: task_rows(rows, task) for name, rows in split_by_month(frame, config).items()}
    train, validation = splits["train"], splits["validation"]
    y_train = labels(train, task)
    prior = float(y_train.mean())
    all_features = list(FEATURES.all)
    pre_all = make_preprocessor(train, all_features)
    models: list[ModelRun] = []

    progress("baseline and linear model")
    models.append(
        _evaluate(
            ModelRun("prior" if task == "classification" else "mean", task, prior, pre_all, []), splits, prior
        )
    )
    linear: Any = LogisticRegression(max_iter=1000, C=1.0) if task == "classification" else LinearRegression()
    linear.fit(pre_all.for_linear(train), y_train)
    models.append(_evaluate(ModelRun("linear", task, linear, pre_all, all_features), splits, prior))

    progress("tuning LightGBM")
    tuned, trials = tune(train, task, pre_all, config, progress)

    progress("LightGBM on schedule features")
    schedule = list(FEATURES.schedule_only)
    pre_schedule = make_preprocessor(train, schedule)
    booster = fit_lightgbm(pre_schedule, train, validation, task, tuned)
    models.append(
        _evaluate(
            ModelRun("lightgbm_schedule", task, booster, pre_schedule, schedule, params=tuned), splits, prior
        )
    )

    progress("LightGBM on all features")
    booster = fit_lightgbm(pre_all, train, validation, task, tuned)
    full = _evaluate(
        ModelRun("lightgbm_all_features", task, booster, pre_all, all_features, params=tuned), splits, prior
    )
    gain = dict(zip(pre_all.tree_features, booster.feature_importance("gain").tolist(), strict=True))

    progress("permutation importance and feature selection")
    rows = validation
    if config.permutation_max_rows is not None and validation.height > config.permutation_max_rows:
        rows = validation.sample(config.permutation_max_rows, seed=config.seed)
    permutation = permutation_importance(booster, pre_all, rows, task, config.seed)
    dropped = {name: value for name, value in permutation.items() if value <= config.selection_min_importance}
    final = full
    if dropped:
        kept = [name for name in all_features if name not in dropped]
        pre_kept = make_preprocessor(train, kept)
        selected = _evaluate(
            ModelRun(
                "lightgbm_selected",
                task,
                fit_lightgbm(pre_kept, train, validation, task, tuned),
                pre_kept,
                kept,
                params=tuned,
            ),
            splits,
            prior,
        )
        metric = SELECTION_METRIC[task]
        better = selected.metrics["validation"][metric] >= full.metrics["validation"][metric]
        if not higher_is_better(task):
            better = selected.metrics["validation"][metric] <= full.metrics["validation"][metric]
        if better:
            models.append(full)
            final = selected
        else:
            dropped = {}
    models.append(final)
    return TaskResult(task, models, prior, trials, gain, permutation, dropped, time.perf_counter() - started)
