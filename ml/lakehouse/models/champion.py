"""The champion decision: a challenger replaces the champion of its task and horizon only when it
beats it on this run's validation rows (the champion is re-scored on them, so both are judged on
the same flights)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lakehouse.models.metrics import task_metrics
from lakehouse.models.predict import predict
from lakehouse.models.registry import RegistryEntry, load_model
from lakehouse.models.tasks import SELECTION_METRIC, Task, higher_is_better, labels


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str
    champion: RegistryEntry | None
    # The champion's validation value on this run's rows (or, failing that, the one it recorded).
    champion_value: float | None


def decide(
    challenger: float, champion: float | None, higher_is_better: bool, metric: str
) -> tuple[bool, str]:
    """Promote only a challenger that beats the champion on the same validation rows."""
    if champion is None:
        return True, f"no champion yet: promoted with validation {metric} {challenger:.4f}"
    better = challenger > champion if higher_is_better else challenger < champion
    verb = "beats" if better else "does not beat"
    return (
        better,
        f"validation {metric} {challenger:.4f} {verb} the champion's {champion:.4f} on the same rows",
    )


def rescore(champion: RegistryEntry, validation: pl.DataFrame, task: Task, prior: float) -> tuple[float, str]:
    """The selection metric on `validation` of the champion's model fitted on its training months
    (its scoring model has seen the validation months), and a note when it cannot be re-scored
    there: a champion reading a feature that no longer exists is compared on the validation value
    it recorded (its own run's rows)."""
    saved = load_model(Path(champion.artifact_dir))
    missing = sorted(set(saved.features) - set(validation.columns))
    if missing:
        note = (
            f" (the champion reads removed features {', '.join(missing)}: compared on the "
            "validation value it recorded)"
        )
        return float(champion.validation_value), note
    predicted = predict(saved.validation_booster, saved.validation_pre, validation)
    value = task_metrics(task, labels(validation, task), predicted, saved.threshold, prior)[
        SELECTION_METRIC[task]
    ]
    return value, ""


def judge(
    challenger_value: float,
    champion: RegistryEntry | None,
    validation: pl.DataFrame,
    task: Task,
    prior: float,
) -> Decision:
    """The decision on a challenger with `challenger_value` on `validation`, against `champion`."""
    metric = SELECTION_METRIC[task]
    champion_value, note = (None, "") if champion is None else rescore(champion, validation, task, prior)
    promoted, reason = decide(challenger_value, champion_value, higher_is_better(task), metric)
    return Decision(promoted, reason + note, champion, champion_value)
