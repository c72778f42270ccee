"""Training one task: the models side by side on the same split, from the prior to LightGBM with
the tuned parameters and features (`lakehouse tune` chose them), each evaluated on validation and
test.

Each model is fitted twice, as a production system would: on the training months, where its
validation predictions choose the early-stopped rounds, the threshold and the champion; then the
same recipe on every month before the test month (training and validation), the model that scores
(`refit`), with LightGBM's rounds scaled to the larger set. Validation metrics come from the first
fit, test metrics from the refit: what the scoring model does on the month after its data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression, Ridge

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
        # Both on the Cholesky factor of the features' Gram matrix (rows >> features): the lbfgs
        # optimum in a third of the time, and least squares in a tenth of an SVD's; both with the
        # same mild L2 penalty (C = 1 / alpha = 1), which also keeps one-hot columns well posed.
        model: Any = (
            LogisticRegression(max_iter=1000, C=1.0, solver="newton-cholesky")
            if task == "classification"
            else Ridge(alpha=1.0, solver="cholesky")
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


# The parts of a task's training at a horizon, each fitted on its own: the final model, the
# schedule-only LightGBM (at the main horizon), and the baselines (the prior; at the main horizon
# the linear model too).
Part = Literal["final", "schedule", "baselines"]


@dataclass(frozen=True)
class Fit:
    task: Task
    horizon_minutes: int
    part: Part

    def __str__(self) -> str:
        return f"{self.task} at {self.horizon_minutes} min: {PART_NAMES[self.part]}"


PART_NAMES: dict[Part, str] = {
    "final": "LightGBM, tuned",
    "schedule": "LightGBM on schedule features",
    "baselines": "baselines",
}


def training_fits(tasks: list[Task], config: TrainingConfig) -> list[Fit]:
    """Every fit of a run, the longest first (the tuned LightGBM at each horizon, then the
    schedule-only one, then the baselines), so that fits running side by side end together."""
    horizons = config.horizons_minutes
    return (
        [Fit(task, h, "final") for h in horizons for task in tasks]
        + [Fit(task, config.horizon_minutes, "schedule") for task in tasks]
        + [Fit(task, h, "baselines") for h in horizons for task in tasks]
    )


def fit_part(frame: pl.DataFrame, fit: Fit, config: TrainingConfig, tuned: Tuned) -> list[ModelRun]:
    """The models of one part, fitted on `frame` (the features at the fit's horizon)."""
    task = fit.task
    splits = task_splits(frame, config, task)
    params = tuned_params(task, config, tuned)
    if fit.part == "final":
        features = tuned_features(tuned)
        return [lightgbm_run(FINAL_MODEL, task, splits, features, params, max_rounds=config.max_rounds)]
    if fit.part == "schedule":
        return [schedule_run(task, splits, params, config)]
    if fit.horizon_minutes != config.horizon_minutes:
        pre = make_preprocessor(splits["train"], [])
        return [constant_run(task, splits, pre, pre)]
    all_features = list(FEATURES.all)
    pre_all = make_preprocessor(splits["train"], all_features)
    return _baselines(task, splits, pre_all, make_preprocessor(refit_rows(splits), all_features))


def task_result(task: Task, fitted: dict[Part, list[ModelRun]]) -> TaskResult:
    """A task's models at one horizon, side by side: the baselines, the schedule-only LightGBM
    (where it was fitted), the final model last."""
    models = [*fitted["baselines"], *fitted.get("schedule", []), *fitted["final"]]
    final = models[-1]
    gain = dict(zip(final.pre.tree_features, final.model.feature_importance("gain").tolist(), strict=True))
    return TaskResult(task, models, float(models[0].model), float(models[0].refit), gain)
