"""LightGBM: its parameters, a fit with early stopping, and the refit of the same recipe on more
rows with the early-stopped rounds scaled to them."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import polars as pl

from lakehouse.config import EARLY_STOPPING_ROUNDS, LIGHTGBM_PARAMS, MAX_ROUNDS, TrainingConfig, Tuned
from lakehouse.models.preprocess import Preprocessor
from lakehouse.models.tasks import Task, labels


def base_params(task: Task, config: TrainingConfig) -> dict[str, Any]:
    """The task's objective and metric, the configured parameters, the run's seed and threads."""
    return {
        "objective": "binary" if task == "classification" else "regression",
        "metric": "auc" if task == "classification" else "rmse",
        **LIGHTGBM_PARAMS,
        "seed": config.seed,
        "num_threads": config.num_threads,
    }


def tuned_params(task: Task, config: TrainingConfig, tuned: Tuned) -> dict[str, Any]:
    """The base parameters with what tuning chose for the task."""
    return base_params(task, config) | tuned.params


def fit_lightgbm(
    pre: Preprocessor,
    train: pl.DataFrame,
    validation: pl.DataFrame,
    task: Task,
    params: dict[str, Any],
    max_rounds: int = MAX_ROUNDS,
) -> lgb.Booster:
    """LightGBM with early stopping on `validation`, `max_rounds` at most."""
    train_set = lgb.Dataset(
        pre.for_trees(train),
        labels(train, task),
        feature_name=pre.tree_features,
        categorical_feature=pre.categorical,
        free_raw_data=False,
    )
    valid_set = lgb.Dataset(pre.for_trees(validation), labels(validation, task), reference=train_set)
    return lgb.train(
        params,
        train_set,
        num_boost_round=max_rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )


def scaled_rounds(best_iteration: int, fitted_rows: int, refit_rows: int) -> int:
    """The early-stopped rounds scaled to a larger training set (more rows: more rounds before the
    model starts to overfit), at least one."""
    return max(1, round(best_iteration * refit_rows / fitted_rows))


def refit_lightgbm(
    pre: Preprocessor, rows: pl.DataFrame, task: Task, params: dict[str, Any], rounds: int
) -> lgb.Booster:
    """LightGBM on `rows` for a fixed number of rounds (no validation rows left to stop on)."""
    train_set = lgb.Dataset(
        pre.for_trees(rows),
        labels(rows, task),
        feature_name=pre.tree_features,
        categorical_feature=pre.categorical,
    )
    return lgb.train(params, train_set, num_boost_round=rounds)
