"""Metrics, thresholds, calibration and confidence intervals: pure functions on arrays."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn import metrics

from lakehouse.config import F1_DENOMINATOR_FLOOR, LOG_LOSS_EPSILON
from lakehouse.models.tasks import SELECTION_METRIC, Task

# Metrics that count rows: shown as whole numbers (1,000, not 1000.0000).
COUNT_METRICS = frozenset({"rows"})


def choose_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold that maximizes F1 (chosen on validation, used on test)."""
    precision, recall, thresholds = metrics.precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, F1_DENOMINATOR_FLOOR)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float, prior: float) -> dict[str, float]:
    """Threshold metrics at `threshold`, ranking metrics, and probability quality against the
    prior-rate forecast (Brier skill > 0: better than always predicting the prior)."""
    y = y.astype(int)
    predicted = (p >= threshold).astype(int)
    brier = float(metrics.brier_score_loss(y, p))
    brier_prior = float(np.mean((y - prior) ** 2))
    return {
        "rows": len(y),
        "positive_rate": float(y.mean()),
        "mean_predicted": float(p.mean()),
        "threshold": threshold,
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "precision": float(metrics.precision_score(y, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(y, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(y, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan"),
        "pr_auc": float(metrics.average_precision_score(y, p)) if y.sum() else float("nan"),
        "log_loss": float(
            metrics.log_loss(y, np.clip(p, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON), labels=[0, 1])
        ),
        "brier": brier,
        "brier_prior": brier_prior,
        "brier_skill": 1 - brier / brier_prior if brier_prior else float("nan"),
    }


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    mse = float(metrics.mean_squared_error(y, predicted))
    return {
        "rows": len(y),
        "mean_actual": float(y.mean()),
        "mean_predicted": float(predicted.mean()),
        "mse": mse,
        "rmse": mse**0.5,
        "mae": float(metrics.mean_absolute_error(y, predicted)),
        # R² compares with the variance of y: undefined for a single row (a small segment)
        "r2": float(metrics.r2_score(y, predicted)) if len(y) > 1 else float("nan"),
    }


def task_metrics(
    task: Task, y: np.ndarray, predicted: np.ndarray, threshold: float, prior: float
) -> dict[str, float]:
    """Every metric of a task's predictions (`threshold` and `prior` matter to a classifier only)."""
    if task == "classification":
        return classification_metrics(y, predicted, threshold, prior)
    return regression_metrics(y, predicted)


def selection_value(task: Task, y: np.ndarray, predicted: np.ndarray) -> float:
    """The metric a task's models are chosen by (tuning, feature selection)."""
    return task_metrics(task, y, predicted, 0.5, float(y.mean()))[SELECTION_METRIC[task]]


@dataclass(frozen=True)
class Calibration:
    predicted: list[float]
    observed: list[float]
    counts: list[int]


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> Calibration:
    """Mean predicted vs observed rate in equal-count bins of the prediction."""
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, bins) if len(g)]
    return Calibration(
        predicted=[float(p[g].mean()) for g in groups],
        observed=[float(y[g].mean()) for g in groups],
        counts=[len(g) for g in groups],
    )


@dataclass(frozen=True)
class _Ranked:
    """Rows sorted by score once, so that the AUC of any reweighting of them is one pass."""

    y: np.ndarray
    p: np.ndarray
    block: np.ndarray  # the rank of each row's score among the distinct scores
    blocks: int
    day: np.ndarray  # each row's day, as an index into the days
    days: int

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray, days: Sequence[object]) -> _Ranked:
        order = np.argsort(p, kind="stable")
        _, block = np.unique(p[order], return_inverse=True)
        unique_days, day = np.unique(np.asarray(days)[order], return_inverse=True)
        return cls(y[order].astype(float), p[order], block, int(block.max()) + 1, day, len(unique_days))


def weighted_auc(ranked: _Ranked, weights: np.ndarray) -> float | None:
    """ROC AUC of the rows counted `weights` times each (ties count one half, as sklearn's), or
    None when the weighted rows hold one class only."""
    positive = np.bincount(ranked.block, weights=weights * ranked.y, minlength=ranked.blocks)
    negative = np.bincount(ranked.block, weights=weights * (1 - ranked.y), minlength=ranked.blocks)
    total_positive, total_negative = positive.sum(), negative.sum()
    if total_positive == 0 or total_negative == 0:
        return None
    below = np.cumsum(negative) - negative
    return float(np.sum(positive * (below + 0.5 * negative)) / (total_positive * total_negative))


def weighted_rmse(ranked: _Ranked, weights: np.ndarray) -> float:
    return float(np.sqrt(np.sum(weights * (ranked.y - ranked.p) ** 2) / np.sum(weights)))


# The metric a day-block interval is computed for, per task.
BOOTSTRAP_METRIC: dict[str, Callable[[_Ranked, np.ndarray], float | None]] = {
    "classification": weighted_auc,
    "regression": weighted_rmse,
}


def day_block_bootstrap(
    groups: Sequence[tuple[np.ndarray, np.ndarray, Sequence[object]]],
    metric: Callable[[_Ranked, np.ndarray], float | None],
    samples: int,
    seed: int,
) -> tuple[float, float]:
    """95% interval of the mean over `groups` (labels, predictions, days: a month each, say) of
    `metric`, resampling whole days within each group (flights of one day are not independent):
    a resample counts each row as many times as its day was drawn. A resample where the metric is
    undefined (one class only) is left out."""
    ranked = [_Ranked.of(y, p, days) for y, p, days in groups]
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(samples):
        values = []
        for group in ranked:
            drawn = np.bincount(rng.integers(0, group.days, group.days), minlength=group.days)
            values.append(metric(group, drawn[group.day].astype(float)))
        defined = [value for value in values if value is not None]
        if len(defined) == len(values):
            means.append(float(np.mean(defined)))
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def paired_day_block_bootstrap(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    days: Sequence[object],
    task: Task,
    samples: int,
    seed: int,
) -> tuple[float, float]:
    """95% interval of the challenger's improvement over the champion in the task's bootstrap
    metric (AUC gained, or RMSE saved: positive means better) on the same rows, both models
    scored on each resample of whole days (the same draw for both: the pair, not each model
    alone, carries the noise). A resample where the metric is undefined is left out."""
    metric = BOOTSTRAP_METRIC[task]
    sign = 1.0 if task == "classification" else -1.0
    mine, theirs = _Ranked.of(y, challenger, days), _Ranked.of(y, champion, days)
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(samples):
        drawn = np.bincount(rng.integers(0, mine.days, mine.days), minlength=mine.days).astype(float)
        # the days are indexed alike in both (sorted distinct days of the same rows)
        a, b = metric(mine, drawn[mine.day]), metric(theirs, drawn[theirs.day])
        if a is not None and b is not None:
            differences.append(sign * (a - b))
    if not differences:
        return float("nan"), float("nan")
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def day_block_bootstrap_auc(
    y: np.ndarray, p: np.ndarray, days: Sequence[object], samples: int, seed: int
) -> tuple[float, float]:
    """95% interval of ROC AUC, resampling whole days."""
    return day_block_bootstrap([(y, p, days)], weighted_auc, samples, seed)


def group_metrics(
    task: Task, keys: np.ndarray, y: np.ndarray, predicted: np.ndarray, threshold: float, prior: float
) -> dict[str, dict[str, float]]:
    """The metrics of each group of rows (a carrier, an origin, a month)."""
    groups = {}
    for key in sorted(set(keys.tolist())):
        rows = keys == key
        groups[str(key)] = task_metrics(task, y[rows], predicted[rows], threshold, prior)
    return groups
