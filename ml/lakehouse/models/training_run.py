"""One training run, end to end: features from a warehouse at each horizon, every model of each
task side by side at the main horizon and the final model at the others, the evaluation beyond
the side-by-side table, the champion decision of each task and horizon, the report and the
registry."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path

import polars as pl

from lakehouse.common.html import titled_table
from lakehouse.common.parallel import run_pooled, threads_per_worker
from lakehouse.common.progress import Progress
from lakehouse.config import Paths, TrainingConfig, Tuned, read_tuned
from lakehouse.models import registry
from lakehouse.models.backtest import latest_backtest
from lakehouse.models.backtest import section as backtest_section
from lakehouse.models.champion import Challenger, Decision, judge
from lakehouse.models.evaluate import (
    MetricRow,
    Rows,
    by_segment,
    december_honestly,
    metrics_frame,
    side_by_side,
)
from lakehouse.models.features.build import read_features
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.report import fill_backtest, write_report
from lakehouse.models.split import split_by_month, task_splits
from lakehouse.models.tasks import SELECTION_METRIC, TASKS, Task
from lakehouse.models.train import Fit, ModelRun, Part, TaskResult, fit_part, task_result, training_fits


@dataclass
class TrainingRun:
    run_id: str
    # the main horizon's results, side by side
    results: list[TaskResult]
    # every model registered: each task at each horizon
    entries: list[registry.RegistryEntry]
    report: Path
    seconds: float


@dataclass(frozen=True)
class _Provenance:
    """What every entry of a run at one horizon records about where its model came from."""

    run_id: str
    created: datetime
    run_dir: Path
    horizon_minutes: int
    data_fingerprint: str
    # of the scoring model's training window alone (what a correction of those months changes)
    training_data_fingerprint: str
    code_version: str
    training_signature: str
    windows: dict[str, tuple[date, date]]


def model_id(run_id: str, task: str, horizon_minutes: int) -> str:
    return f"{run_id}-{task}-{horizon_minutes}"


def _provenance(
    run_id: str, created: datetime, run_dir: Path, frame: pl.DataFrame, config: TrainingConfig, horizon: int
) -> _Provenance:
    splits = split_by_month(frame, config)
    # the scoring model is fitted on training and validation: its scores there are in-sample
    dates = {
        "train": pl.concat([splits["train"], splits["validation"]])["scheduled_departure_date"],
        "validation": splits["validation"]["scheduled_departure_date"],
    }
    windows = {name: (values.min(), values.max()) for name, values in dates.items()}
    return _Provenance(
        run_id=run_id,
        created=created,
        run_dir=run_dir,
        horizon_minutes=horizon,
        data_fingerprint=registry.data_fingerprint(frame),
        training_data_fingerprint=registry.window_fingerprint(frame, *windows["train"]),  # type: ignore[arg-type]
        code_version=registry.code_version(),
        training_signature=registry.training_signature(config),
        windows=windows,  # type: ignore[arg-type]
    )


def _entry(
    origin: _Provenance, result: TaskResult, directory: Path, decision: Decision, tuned: Tuned, models: Path
) -> registry.RegistryEntry:
    """The entry as the registry records it: its paths relative to the `models` folder."""
    final = result.final
    metric = SELECTION_METRIC[result.task]
    return registry.RegistryEntry(
        model_id=model_id(origin.run_id, result.task, origin.horizon_minutes),
        run_id=origin.run_id,
        task=result.task,
        model_name=final.name,
        horizon_minutes=origin.horizon_minutes,
        created_at=origin.created,
        artifact_dir=registry.stored_path(models, directory),
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
        report_path=registry.stored_path(models, origin.run_dir / "report" / "index.html"),
        tuning=json.dumps(
            {**tuned.search, "params": tuned.params, "dropped_features": tuned.dropped_features}
        ),
        training_data_fingerprint=origin.training_data_fingerprint,
        improvement_low=decision.improvement_low,
        improvement_high=decision.improvement_high,
    )


def _register(
    p: Paths,
    origin: _Provenance,
    result: TaskResult,
    frame: pl.DataFrame,
    config: TrainingConfig,
    tuned: Tuned,
) -> tuple[registry.RegistryEntry, Decision]:
    """Save the final model, judge it against the champion of its task and horizon (on the
    validation rows of `frame`, the features at the origin's horizon), and return its registry
    entry."""
    final = result.final
    directory = registry.save_model(
        origin.run_dir / f"{result.task}-{origin.horizon_minutes}",
        final.scoring,
        (final.model, final.pre),
        final.features,
        final.params,
        final.threshold,
        {"early_stopped": final.rounds, "refit": final.refit_rounds},
    )
    champion = registry.current_champion(p.model_registry, result.task, origin.horizon_minutes)
    metric = SELECTION_METRIC[result.task]
    challenger = Challenger(
        final.metrics["validation"][metric],
        final.predictions["validation"],
        None
        if champion is None
        else registry.window_fingerprint(frame, champion.train_start_date, champion.train_end_date),
    )
    validation = task_splits(frame, config, result.task)["validation"]
    decision = judge(
        challenger, champion, validation, result.task, result.prior, config.bootstrap_samples, config.seed
    )
    return _entry(origin, result, directory, decision, tuned, p.models), decision


def _decision_html(decision: Decision) -> str:
    verdict = "Promoted" if decision.promoted else "Not promoted"
    return f"<h3>Champion decision</h3><p>{verdict}: {escape(decision.reason)}.</p>"


def _other_horizons_html(task: str, entries: list[registry.RegistryEntry]) -> str:
    """The final model at every horizon: validation and December values and the decision."""
    metric = SELECTION_METRIC[task]  # type: ignore[index]
    rows = [
        {
            "horizon_minutes": e.horizon_minutes,
            f"validation {metric}": e.validation_value,
            f"December {metric}": e.test_value,
            "promoted": e.is_promoted,
            "decision": e.decision_reason,
        }
        for e in sorted(entries, key=lambda e: -e.horizon_minutes)
    ]
    return titled_table(
        f"{task}: the final model at each horizon",
        rows,
        list(rows[0]),
        "Same features and parameters, fitted and refitted on the features at each horizon; each "
        "horizon has its own champion (the service answers at any of them).",
    )


def features_by_horizon(
    warehouse: Path, config: TrainingConfig, progress: Progress, built: dict[int, pl.DataFrame] | None = None
) -> dict[int, pl.DataFrame]:
    """The features at every horizon the configuration trains, reading what is not `built` yet."""
    frames = dict(built or {})
    for horizon in config.horizons_minutes:
        if horizon not in frames:
            progress(f"features at T = departure - {horizon} min")
            frames[horizon] = read_features(warehouse, horizon)
    return frames


@dataclass
class _TaskOutput:
    result: TaskResult
    splits: dict[str, pl.DataFrame]
    rows: list[MetricRow]
    section: str
    entries: list[registry.RegistryEntry]


def _evaluate_task(
    p: Paths,
    task: Task,
    config: TrainingConfig,
    frames: dict[int, pl.DataFrame],
    origins: dict[int, _Provenance],
    run_id: str,
    fitted: dict[int, dict[Part, list[ModelRun]]],
    tuned: Tuned,
) -> _TaskOutput:
    """One task's fitted models: side by side at the main horizon, the final model at the others,
    the evaluation and the champion decision at each horizon (models saved, nothing registered)."""
    main = config.horizon_minutes
    result = task_result(task, fitted[main])
    splits = task_splits(frames[main], config, task)
    origin = Rows(run_id, task, main)
    evaluation = side_by_side(origin, result)
    evaluation.add(by_segment(origin, result, splits))
    if task == "classification":
        evaluation.add(december_honestly(origin, result, splits["test"], config))
    entry, decision = _register(p, origins[main], result, frames[main], config, tuned)
    evaluation.sections.append(_decision_html(decision))
    entries = [entry]
    for horizon in config.other_horizons_minutes:
        other = task_result(task, fitted[horizon])
        evaluation.add(side_by_side(Rows(run_id, task, horizon), other))
        entries.append(_register(p, origins[horizon], other, frames[horizon], config, tuned)[0])
    if config.other_horizons_minutes:
        evaluation.sections.append(_other_horizons_html(task, entries))
    return _TaskOutput(result, splits, evaluation.rows, "".join(evaluation.sections), entries)


def run_training(
    p: Paths,
    config: TrainingConfig,
    tasks: list[Task],
    progress: Progress,
    warehouse: Path,
    frames: dict[int, pl.DataFrame] | None = None,
) -> TrainingRun:
    """Train on `warehouse`'s features (or `frames` by horizon, when the caller has built them
    already) and append the run to the registry files; putting the registry into a warehouse is
    the caller's."""
    started = time.perf_counter()
    created = datetime.now(UTC)
    run_id = f"{created:%Y%m%dT%H%M%SZ}"
    run_dir = p.model_runs / run_id
    # before the features: a file training cannot use stops the run at once
    # every task's, not only those trained: the training signature reads them all
    tuning: dict[str, Tuned] = {task: read_tuned(task, FEATURES.all) for task in TASKS}
    frames = features_by_horizon(warehouse, config, progress, frames)
    main = config.horizon_minutes
    origins = {
        h: _provenance(run_id, created, run_dir, frames[h], config, h) for h in config.horizons_minutes
    }
    fits = training_fits(tasks, config)
    at_once, threads = threads_per_worker(len(fits), config.num_threads)
    per_fit = replace(config, num_threads=threads)

    def fit(part: Fit) -> list[ModelRun]:
        progress(str(part))
        return fit_part(frames[part.horizon_minutes], part, per_fit, tuning[part.task])

    fitted: dict[Task, dict[int, dict[Part, list[ModelRun]]]] = {}
    for part, runs in zip(fits, run_pooled(fit, fits, at_once), strict=True):
        fitted.setdefault(part.task, {}).setdefault(part.horizon_minutes, {})[part.part] = runs

    progress("evaluation and champion decisions")
    outputs = [
        _evaluate_task(p, task, per_fit, frames, origins, run_id, fitted[task], tuning[task])
        for task in tasks
    ]
    results = [o.result for o in outputs]
    splits_by_task: dict[str, dict[str, pl.DataFrame]] = {o.result.task: o.splits for o in outputs}
    rows = [row for o in outputs for row in o.rows]
    sections: dict[str, str] = {o.result.task: o.section for o in outputs}
    entries = [entry for o in outputs for entry in o.entries]
    progress("report")
    report = write_report(run_dir / "report", run_id, main, results, splits_by_task, sections, tuning)
    earlier = latest_backtest(
        p.models, p.model_registry, origins[main].training_signature, origins[main].data_fingerprint
    )
    if earlier is not None:
        fill_backtest(report, backtest_section(earlier))
    registry.save_entries(p.model_registry, run_id, entries, metrics_frame(rows))
    resolved = [e.resolved(p.models) for e in entries]
    return TrainingRun(run_id, results, resolved, report, time.perf_counter() - started)
