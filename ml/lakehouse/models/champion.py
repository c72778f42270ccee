"""The champion decision. A challenger replaces the champion of its task and horizon when:

- there is no champion yet;
- the champion's training months hold other data now than when it was fitted (a month was
  corrected since: the fingerprint of those months' features it recorded differs from theirs
  today): it learned from data that is no longer accepted, and the challenger is the retrain on the
  current data;
- or the challenger is better on this run's validation rows by more than their noise: the champion
  is re-scored on the same rows, and a paired day-block bootstrap (both models on each resample of
  whole days) gives a 95% interval of the improvement, which must exclude 0.

The interval is recorded with the decision, whichever way it went."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from lakehouse.common.files import DamagedFileError
from lakehouse.common.formatting import format_number
from lakehouse.models.metrics import paired_day_block_bootstrap, task_metrics
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
    # 95% paired day-block interval of the challenger's improvement over the champion on the same
    # validation rows (AUC gained, RMSE saved); None when the champion could not be re-scored.
    improvement_low: float | None = None
    improvement_high: float | None = None


@dataclass(frozen=True)
class Challenger:
    """What the decision needs of the challenger: its validation value and predictions, and the
    fingerprint, today, of the training months of the champion it is judged against."""

    value: float
    predictions: np.ndarray
    # `registry.data_fingerprint` of the champion's training window in the current features
    champion_window_fingerprint: str | None = None


def _number(value: float) -> str:
    return format_number(value, trim=False)


def decide(
    challenger: float,
    champion: float | None,
    metric: str,
    interval: tuple[float, float] | None,
    higher: bool,
) -> tuple[bool, str]:
    """Promote a challenger only on an improvement the validation rows support: the lower end of
    its `interval` above 0. Without an interval (the champion could not be re-scored on these
    rows) it must beat the champion's recorded value."""
    if champion is None:
        return True, f"no champion yet: promoted with validation {metric} {_number(challenger)}"
    compared = f"validation {metric} {_number(challenger)} against the champion's {_number(champion)}"
    if interval is None:
        better = challenger > champion if higher else challenger < champion
        return better, f"{compared}: {'beats' if better else 'does not beat'} it"
    low, high = interval
    gained = challenger - champion if higher else champion - challenger
    if low > 0:
        verdict = "excludes 0"
    elif high < 0:
        verdict = "lies below 0: worse than the champion"
    else:
        verdict = "includes 0: within the noise"
    return low > 0, (
        f"{compared} on the same rows: improvement {_number(gained)}, 95% day-block interval "
        f"[{_number(low)}, {_number(high)}] {verdict}"
    )


def rescore(
    champion: RegistryEntry, validation: pl.DataFrame, task: Task, prior: float
) -> tuple[float, np.ndarray | None, str]:
    """The selection metric on `validation` of the champion's model fitted on its training months
    (its scoring model has seen the validation months) and its predictions there, and a note when
    it cannot be re-scored there: a champion reading a feature that no longer exists is compared
    on the validation value it recorded (its own run's rows)."""
    saved = load_model(Path(champion.artifact_dir))
    missing = sorted(set(saved.features) - set(validation.columns))
    if missing:
        note = (
            f" (the champion reads removed features {', '.join(missing)}: compared on the "
            "validation value it recorded)"
        )
        return float(champion.validation_value), None, note
    predicted = predict(saved.validation_booster, saved.validation_pre, validation)
    value = task_metrics(task, labels(validation, task), predicted, saved.threshold, prior)[
        SELECTION_METRIC[task]
    ]
    return value, predicted, ""


def corrected_since(champion: RegistryEntry, challenger: Challenger) -> bool:
    """Do the champion's training months hold other data now than those it was fitted on?"""
    recorded = champion.training_data_fingerprint
    current = challenger.champion_window_fingerprint
    return recorded is not None and current is not None and recorded != current


def judge(
    challenger: Challenger,
    champion: RegistryEntry | None,
    validation: pl.DataFrame,
    task: Task,
    prior: float,
    samples: int,
    seed: int,
) -> Decision:
    """The decision on `challenger` (its value and predictions on `validation`) against
    `champion`; `samples` resamples of the validation days, drawn from `seed`."""
    metric = SELECTION_METRIC[task]
    if champion is None:
        return Decision(*decide(challenger.value, None, metric, None, True), None, None)
    try:
        champion_value, champion_predictions, note = rescore(champion, validation, task, prior)
    except DamagedFileError:
        # it cannot score: whatever its recorded value, it is no champion
        recorded = float(champion.validation_value)
        reason = (
            "the champion's model cannot be read (a file missing or damaged): replaced; validation "
            f"{metric} {_number(challenger.value)} (the champion recorded {_number(recorded)})"
        )
        return Decision(True, reason, champion, recorded)
    interval = None
    if champion_predictions is not None:
        interval = paired_day_block_bootstrap(
            labels(validation, task),
            challenger.predictions,
            champion_predictions,
            validation["scheduled_departure_date"].to_list(),
            task,
            samples,
            seed,
        )
    promoted, reason = decide(challenger.value, champion_value, metric, interval, higher_is_better(task))
    reason += note
    if corrected_since(champion, challenger):
        promoted = True
        reason = (
            f"the champion's training months ({champion.train_start_date} to {champion.train_end_date}) "
            "hold other data now than it was fitted on (corrected since): replaced by this retrain on "
            f"the current data; {reason}"
        )
    low, high = interval if interval is not None else (None, None)
    return Decision(promoted, reason, champion, champion_value, low, high)
