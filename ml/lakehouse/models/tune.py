"""Hyperparameter search: Optuna (TPE, seeded) over expanding-window folds of the training months."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import polars as pl

from lakehouse.common.progress import Progress
from lakehouse.config import SEARCH_SPACE, TrainingConfig
from lakehouse.models.boosting import base_params, fit_lightgbm
from lakehouse.models.metrics import selection_value
from lakehouse.models.predict import predict
from lakehouse.models.preprocess import Preprocessor
from lakehouse.models.split import expanding_folds
from lakehouse.models.tasks import SELECTION_METRIC, Task, higher_is_better, labels

TRIAL_PREFIX = "trial "


def is_trial_message(message: str) -> bool:
    """Tuning reports every trial; a console log shows only the stages."""
    return any(part.startswith(TRIAL_PREFIX) for part in message.split(": "))


def _suggest(trial: optuna.Trial) -> dict[str, Any]:
    """One draw from the search space, in its order."""
    params: dict[str, Any] = {}
    for name, space in SEARCH_SPACE.items():
        if space.kind == "int":
            params[name] = trial.suggest_int(name, int(space.low), int(space.high), log=space.log)
        else:
            params[name] = trial.suggest_float(name, space.low, space.high, log=space.log)
    return params


def tune(
    frame: pl.DataFrame, task: Task, pre: Preprocessor, config: TrainingConfig, progress: Progress
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The best parameters found (on top of the base ones) and every trial's mean fold value."""
    folds = expanding_folds(frame, config)
    sign = 1.0 if higher_is_better(task) else -1.0

    def objective(trial: optuna.Trial) -> float:
        params = base_params(task, config) | _suggest(trial)
        values = []
        for fit_rows, check_rows in folds:
            model = fit_lightgbm(pre, fit_rows, check_rows, task, params, config.max_rounds)
            values.append(selection_value(task, labels(check_rows, task), predict(model, pre, check_rows)))
        value = float(np.mean(values))
        progress(f"{TRIAL_PREFIX}{trial.number + 1}/{config.trials}: {SELECTION_METRIC[task]} {value:.4f}")
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
