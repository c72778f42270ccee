"""The tuning job (`lakehouse tune`): LightGBM's parameters searched by Optuna and the features
selected by permutation importance, for each task, written to the reviewed file every training
run reads (`config.TUNED_PARAMS_FILE`), with a report of the search.

Tuning is a job of its own because it costs minutes and changes the models: its result is
committed and reviewed like code, and a training run reproduces the models from it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from lakehouse.common.html import page, table, titled_table
from lakehouse.common.progress import Progress
from lakehouse.config import SEARCH_SPACE, TrainingConfig, Tuned, tuned_document, tuned_yaml
from lakehouse.models.boosting import fit_lightgbm
from lakehouse.models.features.build import read_features
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.metrics import selection_value
from lakehouse.models.predict import predict
from lakehouse.models.registry import data_fingerprint
from lakehouse.models.report import bar_plot
from lakehouse.models.selection import (
    is_at_least_as_good,
    permutation_importance,
    permutation_rows,
    unimportant,
)
from lakehouse.models.split import task_splits
from lakehouse.models.tasks import SELECTION_METRIC, Task, higher_is_better, labels
from lakehouse.models.train import make_preprocessor
from lakehouse.models.tune import tune

HEADER = """\
# LightGBM's tuned parameters and the features tuning dropped, per task. Written by
# `lakehouse tune`; read by every training run (`make run`, `lakehouse train`). A change here
# changes the models: review it like code. `search` says how the values were found: the same
# data, seed, trials and folds give the same values.
"""


@dataclass(frozen=True)
class TaskTuning:
    task: Task
    tuned: Tuned
    trials: list[dict[str, Any]]
    importance: dict[str, float]
    # validation value with every feature, and with the kept ones (None when nothing was dropped)
    all_features_value: float
    selected_value: float | None


@dataclass(frozen=True)
class TuningRun:
    tuning_id: str
    tasks: list[TaskTuning]
    output: Path
    report: Path
    seconds: float


def _validation_value(
    task: Task, booster: Any, features: list[str], splits: dict[str, pl.DataFrame]
) -> float:
    pre = make_preprocessor(splits["train"], features)
    validation = splits["validation"]
    return selection_value(task, labels(validation, task), predict(booster, pre, validation))


def tune_task(
    frame: pl.DataFrame, task: Task, config: TrainingConfig, fingerprint: str, progress: Progress
) -> TaskTuning:
    """The search on the training months' folds, then feature selection on validation: LightGBM
    on every feature with the best parameters, the features whose shuffling costs nothing
    dropped, kept only if validation does not get worse."""
    splits = task_splits(frame, config, task)
    train, validation = splits["train"], splits["validation"]
    all_features = list(FEATURES.all)
    pre_all = make_preprocessor(train, all_features)
    progress("searching LightGBM's parameters")
    params, trials = tune(train, task, pre_all, config, progress)
    progress("LightGBM on all features")
    full = fit_lightgbm(pre_all, train, validation, task, params, config.max_rounds)
    all_value = _validation_value(task, full, all_features, splits)
    progress("permutation importance and feature selection")
    importance = permutation_importance(
        full, pre_all, permutation_rows(validation, config), task, config.seed
    )
    dropped = unimportant(importance, config)
    selected_value = None
    if dropped:
        kept = [name for name in all_features if name not in dropped]
        selected = fit_lightgbm(
            make_preprocessor(train, kept), train, validation, task, params, config.max_rounds
        )
        selected_value = _validation_value(task, selected, kept, splits)
        if not is_at_least_as_good(task, selected_value, all_value):
            dropped = {}
    search = {
        "horizon_minutes": config.horizon_minutes,
        "trials": config.trials,
        "seed": config.seed,
        "fold_last_train_months": list(config.cv_last_train_months),
        "metric": SELECTION_METRIC[task],
        "best_fold_value": (max if higher_is_better(task) else min)(t["value"] for t in trials),
        "validation_value_all_features": all_value,
        "validation_value_selected": selected_value,
        "data_fingerprint": fingerprint,
    }
    tuned = Tuned({name: params[name] for name in SEARCH_SPACE}, tuple(sorted(dropped)), search)
    return TaskTuning(task, tuned, trials, importance, all_value, selected_value)


def write_tuned(path: Path, tuned: dict[str, Tuned], tuned_at: datetime) -> Path:
    """The reviewed file: the header, then per task its parameters, dropped features and search.
    Tasks not tuned now keep what the file had."""
    document = tuned_document(path) if path.exists() else {}
    for task, result in tuned.items():
        document[task] = {
            "params": result.params,
            "dropped_features": list(result.dropped_features),
            "search": {**result.search, "tuned_at": f"{tuned_at:%Y-%m-%dT%H:%M:%SZ}"},
        }
    path.write_text(HEADER + tuned_yaml(document))
    return path


def _report(folder: Path, tuning_id: str, results: list[TaskTuning], output: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<h1>Tuning {escape(tuning_id)}</h1>",
        f"<p class='note'>Written to <span class='mono'>{escape(str(output))}</span>. The search runs "
        "on expanding-window folds of the training months; the selection drops the features whose "
        "shuffling on validation does not worsen the validation metric, kept only if validation "
        "does not get worse.</p>",
    ]
    for result in results:
        metric = SELECTION_METRIC[result.task]
        parts.append(f"<h2>{result.task}</h2>")
        parts.append(
            titled_table(
                "Feature selection",
                [
                    {"model": "every feature", f"validation {metric}": result.all_features_value},
                    {"model": "the features kept", f"validation {metric}": result.selected_value},
                ],
                ["model", f"validation {metric}"],
                f"Dropped: {', '.join(result.tuned.dropped_features) or 'nothing'}.",
            )
        )
        image = bar_plot(
            result.importance,
            "Permutation importance on validation",
            "metric lost when shuffled",
            folder / f"permutation_{result.task}.png",
        )
        parts.append(f"<img src='{image}' alt='{image}'>")
        parts.append("<h3>Trials (mean over the folds)</h3>" + table(result.trials, list(result.trials[0])))
    path = folder / "index.html"
    path.write_text(page(f"Tuning {tuning_id}", "".join(parts)))
    return path


def run_tuning(
    models_dir: Path,
    config: TrainingConfig,
    tasks: list[Task],
    progress: Progress,
    warehouse: Path,
    output: Path,
) -> TuningRun:
    """Tune each task on `warehouse`'s features and write `output`; the report goes to
    `models_dir/tuning/<id>/`."""
    started = time.perf_counter()
    tuned_at = datetime.now(UTC)
    tuning_id = f"{tuned_at:%Y%m%dT%H%M%SZ}"
    progress(f"features at T = departure - {config.horizon_minutes} min")
    frame = read_features(warehouse, config.horizon_minutes)
    fingerprint = data_fingerprint(frame)
    results = []
    for task in tasks:

        def task_progress(message: str, task: Task = task) -> None:
            progress(f"{task}: {message}")

        results.append(tune_task(frame, task, config, fingerprint, task_progress))
    write_tuned(output, {r.task: r.tuned for r in results}, tuned_at)
    report = _report(models_dir / "tuning" / tuning_id, tuning_id, results, output)
    return TuningRun(tuning_id, results, output, report, time.perf_counter() - started)
