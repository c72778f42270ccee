"""One training run, end to end: features from the published warehouse, every model of both
tasks, the evaluation beyond the side-by-side table, the report, the registry and the champion."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lakehouse import registry
from lakehouse.config import Paths, TrainingConfig
from lakehouse.evaluate import day_block_bootstrap_auc, score_groups
from lakehouse.features import FEATURES, read_features
from lakehouse.report import table_html, write_report
from lakehouse.train import (
    SELECTION_METRIC,
    Progress,
    Task,
    TaskResult,
    fit_lightgbm,
    higher_is_better,
    labels,
    make_preprocessor,
    predict,
    score,
    split_by_month,
    task_rows,
    train_task,
)


@dataclass
class TrainingRun:
    run_id: str
    results: list[TaskResult]
    entries: list[registry.RegistryEntry]
    report: Path
    seconds: float
    horizons: list[dict[str, Any]]


def _metric_rows(
    run_id: str, task: str, model: str, split: str, kind: str, segment: str, values: dict[str, float]
) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "task": task,
            "model_name": model,
            "split": split,
            "segment_kind": kind,
            "segment": segment,
            "metric": name,
            "value": float(value),
        }
        for name, value in values.items()
    ]


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
    fingerprint = registry.data_fingerprint(frame)
    version = registry.code_version()
    signature = registry.training_signature(config)
    windows = {name: rows["scheduled_departure_date"] for name, rows in split_by_month(frame, config).items()}
    results: list[TaskResult] = []
    frames: dict[str, dict[str, pl.DataFrame]] = {}
    metric_rows: list[dict[str, Any]] = []
    sections: dict[str, str] = {}
    entries: list[registry.RegistryEntry] = []
    horizons: list[dict[str, Any]] = []
    for task in tasks:
        progress(f"{task}: training")

        def task_progress(message: str, task: Task = task) -> None:
            progress(f"{task}: {message}")

        result = train_task(frame, task, config, task_progress)
        results.append(result)
        splits = {name: task_rows(rows, task) for name, rows in split_by_month(frame, config).items()}
        frames[task] = splits
        final = result.final
        for run in result.models:
            for split in ("validation", "test"):
                metric_rows += _metric_rows(
                    run_id, task, run.name, split, "overall", "all", run.metrics[split]
                )
        test = splits["test"]
        y_test = labels(test, task)
        extra: list[str] = []
        # Per carrier and origin on December; per month over validation and test.
        for kind in ("carrier", "origin"):
            groups = score_groups(
                task, test[kind].to_numpy(), y_test, final.predictions["test"], final.threshold, result.prior
            )
            metric_rows += [
                row
                for segment, values in groups.items()
                for row in _metric_rows(run_id, task, final.name, "test", kind, segment, values)
            ]
            extra.append(
                table_html(
                    [{kind: s, **v} for s, v in groups.items()],
                    [
                        kind,
                        "rows",
                        SELECTION_METRIC[task],
                        "mean_predicted",
                        "positive_rate" if task == "classification" else "mean_actual",
                    ],
                    f"{final.name} by {kind}, December",
                )
            )
        months = pl.concat([splits["validation"], test])
        month_predictions = np.concatenate([final.predictions["validation"], final.predictions["test"]])
        groups = score_groups(
            task,
            months["scheduled_departure_date"].dt.month().to_numpy(),
            labels(months, task),
            month_predictions,
            final.threshold,
            result.prior,
        )
        metric_rows += [
            row
            for segment, values in groups.items()
            for row in _metric_rows(
                run_id, task, final.name, "validation+test", "month", str(segment), values
            )
        ]
        extra.append(
            table_html(
                [{"month": s, **v} for s, v in groups.items()],
                [
                    "month",
                    "rows",
                    SELECTION_METRIC[task],
                    "mean_predicted",
                    "positive_rate" if task == "classification" else "mean_actual",
                ],
                f"{final.name} by month",
            )
        )
        if task == "classification":
            low, high = day_block_bootstrap_auc(
                y_test,
                final.predictions["test"],
                test["scheduled_departure_date"].to_list(),
                config.bootstrap_samples,
                config.seed,
            )
            metric_rows += _metric_rows(
                run_id,
                task,
                final.name,
                "test",
                "bootstrap",
                "95% interval",
                {"roc_auc_low": low, "roc_auc_high": high},
            )
            departed = ~test["is_cancelled"].to_numpy()
            variant = score(
                task,
                test["is_delayed_departed"].to_numpy()[departed].astype(float),
                final.predictions["test"][departed],
                final.threshold,
                result.prior,
            )
            metric_rows += _metric_rows(
                run_id, task, final.name, "test", "variant", "departed flights only", variant
            )
            aircraft = [f for f in FEATURES.aircraft if f in final.features]
            shuffled = test.with_columns(pl.col(c).shuffle(seed=config.seed) for c in aircraft)
            without_aircraft = score(
                task, y_test, predict(final.model, final.pre, shuffled, task), final.threshold, result.prior
            )
            extra.append(
                table_html(
                    [
                        {"measure": "December ROC AUC", "value": final.metrics["test"]["roc_auc"]},
                        {"measure": "day-block bootstrap 95% interval, low", "value": low},
                        {"measure": "day-block bootstrap 95% interval, high", "value": high},
                        {
                            "measure": "ROC AUC, departed flights only (cancellations left out)",
                            "value": variant["roc_auc"],
                        },
                        {
                            "measure": "ROC AUC with the aircraft features shuffled",
                            "value": without_aircraft["roc_auc"],
                        },
                    ],
                    ["measure", "value"],
                    "December, honestly",
                    "One test month is noisy: the interval resamples whole days. The aircraft features use "
                    "the tail number that finally flew (a swap after T is baked in): what they add is "
                    "optimistic.",
                )
            )
            horizons = _other_horizons(warehouse, config, final.features, final.params, progress)
            horizons.insert(
                0,
                {
                    "horizon_minutes": config.horizon_minutes,
                    "roc_auc": final.metrics["test"]["roc_auc"],
                    "validation_roc_auc": final.metrics["validation"]["roc_auc"],
                },
            )
            extra.append(
                table_html(
                    horizons,
                    ["horizon_minutes", "roc_auc", "validation_roc_auc"],
                    "The final classifier at other horizons (December ROC AUC)",
                    "Same features and parameters, refitted on the features at each horizon.",
                )
            )
        directory = registry.save_model(
            run_dir / task, final.model, final.pre, final.features, final.params, final.threshold
        )
        metric = SELECTION_METRIC[task]
        champion = registry.current_champion(p.model_registry, task, config.horizon_minutes)
        champion_value = None
        note = ""
        if champion is not None:
            saved = registry.load_model(Path(champion["artifact_dir"]))
            validation = splits["validation"]
            if set(saved.features) <= set(validation.columns):
                champion_value = score(
                    task,
                    labels(validation, task),
                    predict(saved.booster, saved.pre, validation, task),
                    saved.threshold,
                    result.prior,
                )[metric]
            else:
                # The champion reads a feature that no longer exists: it can only be compared on
                # the validation value it recorded (its own run's rows).
                champion_value = float(champion["validation_value"])
                missing = sorted(set(saved.features) - set(validation.columns))
                note = (
                    f" (the champion reads removed features {', '.join(missing)}: compared on the "
                    "validation value it recorded)"
                )
        promoted, reason = registry.decide(
            final.metrics["validation"][metric], champion_value, higher_is_better(task), metric
        )
        reason += note
        extra.append(
            f"<h3>Champion decision</h3><p>{'Promoted' if promoted else 'Not promoted'}: {reason}.</p>"
        )
        sections[task] = "".join(extra)
        entries.append(
            registry.RegistryEntry(
                model_id=f"{run_id}-{task}",
                run_id=run_id,
                task=task,
                model_name=final.name,
                horizon_minutes=config.horizon_minutes,
                created_at=created,
                artifact_dir=str(directory),
                features=",".join(final.features),
                params=json.dumps(final.params, sort_keys=True),
                threshold=final.threshold,
                data_fingerprint=fingerprint,
                code_version=version,
                training_signature=signature,
                train_start_date=windows["train"].min(),  # type: ignore[arg-type]
                train_end_date=windows["train"].max(),  # type: ignore[arg-type]
                validation_start_date=windows["validation"].min(),  # type: ignore[arg-type]
                validation_end_date=windows["validation"].max(),  # type: ignore[arg-type]
                validation_metric=metric,
                validation_value=final.metrics["validation"][metric],
                test_value=final.metrics["test"][metric],
                champion_model_id=None if champion is None else str(champion["model_id"]),
                champion_validation_value=champion_value,
                is_promoted=promoted,
                decision_reason=reason,
                report_path=str(run_dir / "report" / "index.html"),
            )
        )
    progress("report")
    report = write_report(run_dir / "report", run_id, config.horizon_minutes, results, frames, sections)
    registry.save_entries(p.model_registry, run_id, entries, pl.DataFrame(metric_rows))
    return TrainingRun(run_id, results, entries, report, time.perf_counter() - started, horizons)


def _other_horizons(
    warehouse: Path, config: TrainingConfig, features: list[str], params: dict[str, Any], progress: Progress
) -> list[dict[str, Any]]:
    """The final classifier's recipe refitted at shorter horizons (more is known at T)."""
    rows = []
    for horizon in config.other_horizons_minutes:
        progress(f"classification at T = departure - {horizon} min")
        splits = {
            k: task_rows(v, "classification")
            for k, v in split_by_month(read_features(warehouse, horizon), config).items()
        }
        pre = make_preprocessor(splits["train"], features)
        model = fit_lightgbm(pre, splits["train"], splits["validation"], "classification", params)
        values = {
            split: score(
                "classification",
                labels(splits[split], "classification"),
                predict(model, pre, splits[split], "classification"),
                0.5,
                0.5,
            )["roc_auc"]
            for split in ("validation", "test")
        }
        rows.append(
            {
                "horizon_minutes": horizon,
                "roc_auc": values["test"],
                "validation_roc_auc": values["validation"],
            }
        )
    return rows
