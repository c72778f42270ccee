"""Training one task: the models side by side on the same split, from the prior to LightGBM with
the tuned parameters and features (`lakehouse tune` chose them), each evaluated on validation and
test.

Each model is fitted twice, as a production system would: on the training months, where its
validation predictions choose the early-stopped rounds, the threshold and the champion; then the
same recipe on every month before the test month (training and validation), the model that scores
(`refit`), with LightGBM's rounds scaled to the larger set. Validation metrics come from the first
fit, test metrics from the refit: what the scoring model does on the month after its data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.linear_model import LinearRegression, LogisticRegression

from lakehouse.common.progress import Progress
from lakehouse.config import MAX_ROUNDS, TrainingConfig, Tuned
from lakehouse.models.boosting import fit_lightgbm, refit_lightgbm, scaled_rounds, tuned_params
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.metrics import choose_threshold, task_metrics
from lakehouse.models.predict import predict
from lakehouse.models.preprocess import Preprocessor
from lakehouse.models.split import task_splits
from lakehouse.models.tasks import Task, labels

# The final model of a task: LightGBM with the tuned parameters on the features tuning kept.
FINAL_MODEL = "lightgbm"


@dataclass
class ModelRun:
    """One model of the side-by-side table: its fit on the training months (`model`) and its
    refit on training + validation (`refit`), what they predicted and how they scored."""

    name: str
    task: Task
    features: list[str]
    model: Any
    pre: Preprocessor
    refit: Any = None
    refit_pre: Preprocessor | None = None
    threshold: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)
    # LightGBM's rounds: early-stopped on validation, and scaled for the refit
    rounds: int | None = None
    refit_rounds: int | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def scoring(self) -> tuple[Any, Preprocessor]:
        """The model that scores flights, and its preprocessing."""
        assert self.refit_pre is not None, "a model is refitted before it scores"
        return self.refit, self.refit_pre


@dataclass
class TaskResult:
    task: Task
    models: list[ModelRun]
    # the positive rate (or mean) of the training months, and of training + validation
    prior: float
    refit_prior: float
    importance_gain: dict[str, float]
    seconds: float

    @property
    def final(self) -> ModelRun:
        return self.models[-1]


def make_preprocessor(rows: pl.DataFrame, features: list[str]) -> Preprocessor:
    categorical = [c for c in FEATURES.categorical if c in features]
    return Preprocessor.fit(rows, [c for c in features if c not in categorical], categorical)


def refit_rows(splits: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every row before the test months: what the scoring model is fitted on."""
    return pl.concat([splits["train"], splits["validation"]])


def tuned_features(tuned: Tuned) -> list[str]:
    """Every feature but those tuning dropped."""
    return [name for name in FEATURES.all if name not in tuned.dropped_features]


def evaluate_run(
    run: ModelRun, splits: dict[str, pl.DataFrame], prior: float, refit_prior: float
) -> ModelRun:
    """Validation by the model fitted on the training months (and a classifier's threshold chosen
    there), test by the refit."""
    validation, test = splits["validation"], splits["test"]
    run.predictions["validation"] = predict(run.model, run.pre, validation)
    model, pre = run.scoring
    run.predictions["test"] = predict(model, pre, test)
    if run.task == "classification":
        run.threshold = choose_threshold(labels(validation, run.task), run.predictions["validation"])
        if isinstance(run.refit, float):
            # a constant ranks nothing: validation chose "late for every flight", whatever the
            # refit's rate
            run.threshold = min(run.threshold, run.refit)
    run.metrics["validation"] = task_metrics(
        run.task, labels(validation, run.task), run.predictions["validation"], run.threshold, prior
    )
    run.metrics["test"] = task_metrics(
        run.task, labels(test, run.task), run.predictions["test"], run.threshold, refit_prior
    )
    return run


def constant_run(
    task: Task, splits: dict[str, pl.DataFrame], pre: Preprocessor, refit_pre: Preprocessor
) -> ModelRun:
    """The prior rate (or the mean) of the training months, and of training + validation."""
    prior = float(labels(splits["train"], task).mean())
    refit_prior = float(labels(refit_rows(splits), task).mean())
    run = ModelRun(
        "prior" if task == "classification" else "mean", task, [], prior, pre, refit_prior, refit_pre
    )
    return evaluate_run(run, splits, prior, refit_prior)


def _baselines(
    task: Task, splits: dict[str, pl.DataFrame], pre: Preprocessor, refit_pre: Preprocessor
) -> list[ModelRun]:
    """The prior rate (or mean) and a linear model on every feature."""
    train, refit = splits["train"], refit_rows(splits)
    prior, refit_prior = float(labels(train, task).mean()), float(labels(refit, task).mean())

    def linear(rows: pl.DataFrame, rows_pre: Preprocessor) -> Any:
        model: Any = (
            # Newton steps on the Cholesky factor: the lbfgs optimum in a third of the time (rows >> features)
            LogisticRegression(max_iter=1000, C=1.0, solver="newton-cholesky")
            if task == "classification"
            else LinearRegression()
        )
        return model.fit(rows_pre.for_linear(rows), labels(rows, task))

    features = list(FEATURES.all)
    fitted = ModelRun("linear", task, features, linear(train, pre), pre, linear(refit, refit_pre), refit_pre)
    return [constant_run(task, splits, pre, refit_pre), evaluate_run(fitted, splits, prior, refit_prior)]


def lightgbm_run(
    name: str,
    task: Task,
    splits: dict[str, pl.DataFrame],
    features: list[str],
    params: dict[str, Any],
    pre: Preprocessor | None = None,
    refit_pre: Preprocessor | None = None,
    max_rounds: int = MAX_ROUNDS,
) -> ModelRun:
    """LightGBM on `features` with `params`: early-stopped on validation (`max_rounds` at most),
    refitted on training + validation with the rounds scaled; `pre` and `refit_pre` when the caller
    has fitted the features' preprocessing already."""
    train, refit = splits["train"], refit_rows(splits)
    pre = pre or make_preprocessor(train, features)
    refit_pre = refit_pre or make_preprocessor(refit, features)
    booster = fit_lightgbm(pre, train, splits["validation"], task, params, max_rounds)
    rounds = scaled_rounds(booster.best_iteration, train.height, refit.height)
    run = ModelRun(
        name,
        task,
        features,
        booster,
        pre,
        refit_lightgbm(refit_pre, refit, task, params, rounds),
        refit_pre,
        params=params,
        rounds=booster.best_iteration,
        refit_rounds=rounds,
    )
    return evaluate_run(run, splits, float(labels(train, task).mean()), float(labels(refit, task).mean()))


def schedule_run(
    task: Task, splits: dict[str, pl.DataFrame], params: dict[str, Any], config: TrainingConfig
) -> ModelRun:
    """LightGBM with the tuned parameters on the schedule features alone: what the data
    engineering's features add is the final model's lead over it."""
    return lightgbm_run(
        "lightgbm_schedule", task, splits, list(FEATURES.schedule_only), params, max_rounds=config.max_rounds
    )


def train_task(
    frame: pl.DataFrame, task: Task, config: TrainingConfig, tuned: Tuned, progress: Progress
) -> TaskResult:
    """Prior, linear model, LightGBM on schedule features, LightGBM with the tuned parameters and
    features (the final model), all on the same split."""
    started = time.perf_counter()
    splits = task_splits(frame, config, task)
    all_features = list(FEATURES.all)
    pre_all = make_preprocessor(splits["train"], all_features)
    refit_pre_all = make_preprocessor(refit_rows(splits), all_features)
    params = tuned_params(task, config, tuned)

    progress("baseline and linear model")
    models = _baselines(task, splits, pre_all, refit_pre_all)

    progress("LightGBM on schedule features")
    models.append(schedule_run(task, splits, params, config))

    progress("LightGBM, tuned")
    features = tuned_features(tuned)
    final = lightgbm_run(FINAL_MODEL, task, splits, features, params, max_rounds=config.max_rounds)
    models.append(final)
    gain = dict(zip(final.pre.tree_features, final.model.feature_importance("gain").tolist(), strict=True))
    prior = float(models[0].model)
    refit_prior = float(models[0].refit)
    return TaskResult(task, models, prior, refit_prior, gain, time.perf_counter() - started)


def train_final(
    frame: pl.DataFrame, task: Task, config: TrainingConfig, tuned: Tuned, progress: Progress
) -> TaskResult:
    """The final model alone (beside the prior its metrics are judged against), at a horizon where
    the side-by-side table is not needed."""
    started = time.perf_counter()
    splits = task_splits(frame, config, task)
    pre = make_preprocessor(splits["train"], [])
    prior = constant_run(task, splits, pre, pre)
    progress("LightGBM, tuned")
    final = lightgbm_run(
        FINAL_MODEL,
        task,
        splits,
        tuned_features(tuned),
        tuned_params(task, config, tuned),
        max_rounds=config.max_rounds,
    )
    gain = dict(zip(final.pre.tree_features, final.model.feature_importance("gain").tolist(), strict=True))
    return TaskResult(
        task, [prior, final], float(prior.model), float(prior.refit), gain, time.perf_counter() - started
    )
