"""Feature selection by permutation importance on validation."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import polars as pl

from lakehouse.config import TrainingConfig
from lakehouse.models.metrics import selection_value
from lakehouse.models.preprocess import Preprocessor
from lakehouse.models.tasks import Task, higher_is_better, labels


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


def permutation_rows(validation: pl.DataFrame, config: TrainingConfig) -> pl.DataFrame:
    """The validation rows permutation importance shuffles: all, or a seeded sample of them."""
    if config.permutation_max_rows is not None and validation.height > config.permutation_max_rows:
        return validation.sample(config.permutation_max_rows, seed=config.seed)
    return validation


def unimportant(importance: dict[str, float], config: TrainingConfig) -> dict[str, float]:
    """The features whose shuffling did not worsen the metric by more than the configured floor."""
    return {name: value for name, value in importance.items() if value <= config.selection_min_importance}


def is_at_least_as_good(task: Task, selected: float, full: float) -> bool:
    """The selected model is kept when validation does not get worse."""
    return selected >= full if higher_is_better(task) else selected <= full
