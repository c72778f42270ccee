"""One training run, end to end: features from a warehouse, every model of each task, the
evaluation beyond the side-by-side table, the champion decision, the report and the registry."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from lakehouse.common.progress import Progress
from lakehouse.config import Paths, TrainingConfig, Tuned, read_tuned
from lakehouse.models import registry
from lakehouse.models.champion import Decision, judge
from lakehouse.models.evaluate import (
    Evaluation,
    by_segment,
    december_honestly,
    metrics_frame,
    other_horizons,
    side_by_side,
)
from lakehouse.models.features.build import read_features
from lakehouse.models.report import write_report
from lakehouse.models.split import split_by_month, task_splits
from lakehouse.models.tasks import SELECTION_METRIC, Task
from lakehouse.models.train import TaskResult, train_task


@dataclass
class TrainingRun:
    run_id: str
    results: list[TaskResult]
    entries: list[registry.RegistryEntry]
    report: Path
    seconds: float
    horizons: list[dict[str, Any]]


@dataclass(frozen=True)
class _Provenance:
    """What every entry of a run records about where its model came from."""

    run_id: str
    created: datetime
    run_dir: Path
    horizon_minutes: int
    data_fingerprint: str
    code_version: str
    training_signature: str
    windows: dict[str, tuple[date, date]]


def _provenance(
    run_id: str, created: datetime, run_dir: Path, frame: pl.DataFrame, config: TrainingConfig
) -> _Provenance:
    splits = split_by_month(frame, config)
    # the scoring model is fitted on training and validation: its scores there are in-sample
    dates = {
        "train": pl.concat([splits["train"], splits["validation"]])["scheduled_departure_date"],
        "validation": splits["validation"]["scheduled_departure_date"],
    }
    return _Provenance(
        run_id=run_id,
        created=created,
        run_dir=run_dir,
        horizon_minutes=config.horizon_minutes,
        data_fingerprint=registry.data_fingerprint(frame),
        code_version=registry.code_version(),
        training_signature=registry.training_signature(config),
        windows={name: (values.min(), values.max()) for name, values in dates.items()},  # type: ignore[misc]
    )


def _entry(
    origin: _Provenance, result: TaskResult, directory: Path, decision: Decision, tuned: Tuned
) -> registry.RegistryEntry:
    final = result.final
    metric = SELECTION_METRIC[result.task]
    return registry.RegistryEntry(
        model_id=f"{origin.run_id}-{result.task}",
        run_id=origin.run_id,
        task=result.task,
        model_name=final.name,
        horizon_minutes=origin.horizon_minutes,
        created_at=origin.created,
        artifact_dir=str(directory),
        features=",".join(final.features),
        params=json.dumps(final.params, sort_keys=True),
        threshold=final.threshold,
        data_fingerprint=origin.data_fingerprint,
        code_version=origin.code_version,
        training_signature=origin.training_signature,
        train_start_date=origin.windows["train"][0],
        train_end_date=origin.windows["train"][1],
        validation_start_date=origin.windows["validation"][0],
        validation_end_date=origin.windows["validation"][1],
        validation_metric=metric,
        validation_value=final.metrics["validation"][metric],
        test_value=final.metrics["test"][metric],
        champion_model_id=None if decision.champion is None else decision.champion.model_id,
        champion_validation_value=decision.champion_value,
        is_promoted=decision.promoted,
        decision_reason=decision.reason,
        report_path=str(origin.run_dir / "report" / "index.html"),
        tuning=json.dumps(
            {"params": tuned.params, "dropped_features": tuned.dropped_features, **tuned.search}
        ),
    )


def _evaluate(
    run_id: str,
    result: TaskResult,
    splits: dict[str, pl.DataFrame],
    config: TrainingConfig,
    warehouse: Path,
    progress: Progress,
) -> tuple[Evaluation, list[dict[str, Any]]]:
    """Everything a task's run records and reports beyond training; for the classifier, also its
    recipe at the other horizons."""
    evaluation = side_by_side(run_id, result)
    evaluation.add(by_segment(run_id, result, splits))
    horizons: list[dict[str, Any]] = []
    if result.task == "classification":
        evaluation.add(december_honestly(run_id, result, splits["test"], config))
        horizons, at_other_horizons = other_horizons(warehouse, result, config, progress)
        evaluation.add(at_other_horizons)
    return evaluation, horizons


def run_training(
    p: Paths,
    config: TrainingConfig,
    tasks: list[Task],
    progress: Progress,
    warehouse: Path,
    frame: pl.DataFrame | None = None,
) -> TrainingRun:
    """Train on `warehouse`'s features (or `frame`, when the caller has built them already) and
    append the run to the registry files; putting the registry into a warehouse is the caller's."""
    started = time.perf_counter()
    created = datetime.now(UTC)
    run_id = f"{created:%Y%m%dT%H%M%SZ}"
    run_dir = p.model_runs / run_id
    if frame is None:
        progress(f"features at T = departure - {config.horizon_minutes} min")
        frame = read_features(warehouse, config.horizon_minutes)
    origin = _provenance(run_id, created, run_dir, frame, config)
    results: list[TaskResult] = []
    frames: dict[str, dict[str, pl.DataFrame]] = {}
    rows = []
    sections: dict[str, str] = {}
    entries: list[registry.RegistryEntry] = []
    horizons: list[dict[str, Any]] = []
    tuning: dict[str, Tuned] = {}
    for task in tasks:
        progress(f"{task}: training")

        def task_progress(message: str, task: Task = task) -> None:
            progress(f"{task}: {message}")

        tuning[task] = read_tuned(task)
        result = train_task(frame, task, config, tuning[task], task_progress)
        results.append(result)
        splits = frames[task] = task_splits(frame, config, task)
        evaluation, task_horizons = _evaluate(run_id, result, splits, config, warehouse, progress)
        horizons = task_horizons or horizons
        final = result.final
        directory = registry.save_model(
            run_dir / task,
            final.scoring,
            (final.model, final.pre),
            final.features,
            final.params,
            final.threshold,
            {"early_stopped": final.rounds, "refit": final.refit_rounds},
        )
        champion = registry.current_champion(p.model_registry, task, config.horizon_minutes)
        metric = SELECTION_METRIC[task]
        decision = judge(
            final.metrics["validation"][metric], champion, splits["validation"], task, result.prior
        )
        verdict = "Promoted" if decision.promoted else "Not promoted"
        evaluation.sections.append(f"<h3>Champion decision</h3><p>{verdict}: {escape(decision.reason)}.</p>")
        rows += evaluation.rows
        sections[task] = "".join(evaluation.sections)
        entries.append(_entry(origin, result, directory, decision, tuning[task]))
    progress("report")
    report = write_report(
        run_dir / "report", run_id, config.horizon_minutes, results, frames, sections, tuning
    )
    registry.save_entries(p.model_registry, run_id, entries, metrics_frame(rows))
    return TrainingRun(run_id, results, entries, report, time.perf_counter() - started, horizons)
