"""The rolling backtest (`lakehouse backtest`): the modelling procedure, evaluated by rolling origin.

For each of the last months of the data (four by default), the procedure a training run follows
is replayed as if that month were next: the models are fitted on every month before the one
preceding it, early-stopped and thresholded on that preceding month (the inner validation), refit
on every month before the test month with the rounds scaled, and tested on it. The same features,
preprocessing and tuned parameters as a training run; the prior and the schedule-only LightGBM
beside the final model. What it measures is the procedure, so a result belongs to the training
signature and the data fingerprint it ran with: a training run of the same code, settings and
data shows it in its report.

The tuned parameters were chosen on October and November: the backtest's months among them are
slightly optimistic for the tuned model."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lakehouse.common.files import read_parquet, write_parquet_atomically
from lakehouse.common.html import page, table
from lakehouse.common.progress import Progress
from lakehouse.config import TrainingConfig, Tuned, read_tuned
from lakehouse.models.boosting import tuned_params
from lakehouse.models.evaluate import MetricRow, Rows, metrics_frame
from lakehouse.models.features.build import read_features
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.metrics import BOOTSTRAP_METRIC, day_block_bootstrap
from lakehouse.models.registry import DAMAGED_REGISTRY_FILE, data_fingerprint, training_signature
from lakehouse.models.split import month_of
from lakehouse.models.tasks import SELECTION_METRIC, TASKS, Task, labels, task_rows
from lakehouse.models.train import (
    FINAL_MODEL,
    constant_run,
    lightgbm_run,
    make_preprocessor,
    schedule_run,
    tuned_features,
)

SPLIT = "backtest"
# The metrics the backtest table shows, per task.
SHOWN = {
    "classification": ["roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "precision", "recall", "f1"],
    "regression": ["mae", "rmse"],
}


@dataclass(frozen=True)
class Fold:
    """One month tested: fitted on `train_months`, early-stopped on `validation_month`."""

    test_month: int
    validation_month: int
    train_months: tuple[int, ...]


def folds(frame: pl.DataFrame, months: int) -> list[Fold]:
    """The last `months` months of the data, each with every month before its predecessor."""
    present = sorted(set(month_of(frame).to_list()))
    if len(present) < months + 2:
        raise ValueError(
            f"a backtest of {months} months needs at least {months + 2} months of data, not {len(present)}"
        )
    return [
        Fold(test, present[present.index(test) - 1], tuple(present[: present.index(test) - 1]))
        for test in present[-months:]
    ]


@dataclass(frozen=True)
class Backtest:
    backtest_id: str
    signature: str
    fingerprint: str
    horizon_minutes: int
    rows: list[MetricRow]
    report: Path
    seconds: float

    def table(self, task: str) -> list[dict[str, Any]]:
        """Per month and model the shown metrics, then the mean over months and its interval."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for row in self.rows:
            if row.task == task and row.segment_kind in {"month", "mean"}:
                key = (row.segment, row.model_name)
                out.setdefault(key, {"month": row.segment, "model": row.model_name})[row.metric] = row.value
            if row.task == task and row.segment_kind == "bootstrap":
                key = ("mean", row.model_name)
                out.setdefault(key, {"month": "mean", "model": row.model_name})[row.metric] = row.value
        return list(out.values())


def _fold_splits(frame: pl.DataFrame, fold: Fold, task: Task) -> dict[str, pl.DataFrame]:
    month = month_of(frame)
    return {
        "train": task_rows(frame.filter(month.is_in(fold.train_months)), task),
        "validation": task_rows(frame.filter(month == fold.validation_month), task),
        "test": task_rows(frame.filter(month == fold.test_month), task),
    }


def backtest_task(
    backtest_id: str,
    frame: pl.DataFrame,
    task: Task,
    config: TrainingConfig,
    tuned: Tuned,
    progress: Progress,
) -> list[MetricRow]:
    """Every fold's test metrics of the prior, the schedule-only LightGBM and the final model
    (with the task's `tuned` parameters), and the mean over folds with a day-block interval of the
    selection metric."""
    params = tuned_params(task, config, tuned)
    origin = Rows(backtest_id, task, config.horizon_minutes)
    rows: list[MetricRow] = []
    tested: dict[str, list[tuple[np.ndarray, np.ndarray, list[Any]]]] = {}
    per_month: dict[str, list[dict[str, float]]] = {}
    for fold in folds(frame, config.backtest_months):
        splits = _fold_splits(frame, fold, task)
        first: date = splits["test"]["scheduled_departure_date"].min()  # type: ignore[assignment]
        month = first.strftime("%Y-%m")
        progress(f"{task}: {month}, fitted on the {len(fold.train_months) + 1} months before it")
        pre = make_preprocessor(splits["train"], [])
        runs = [
            constant_run(task, splits, pre, pre),
            schedule_run(task, splits, params, config),
            lightgbm_run(
                FINAL_MODEL, task, splits, tuned_features(tuned), params, max_rounds=config.max_rounds
            ),
        ]
        days = splits["test"]["scheduled_departure_date"].to_list()
        for run in runs:
            rows += origin.of(run.name, SPLIT, "month", month, run.metrics["test"])
            per_month.setdefault(run.name, []).append(run.metrics["test"])
            tested.setdefault(run.name, []).append(
                (labels(splits["test"], task), run.predictions["test"], days)
            )
    metric = SELECTION_METRIC[task]
    for name, months in per_month.items():
        mean = {key: float(np.mean([m[key] for m in months])) for key in months[0]}
        rows += origin.of(name, SPLIT, "mean", "mean", mean)
        low, high = day_block_bootstrap(
            tested[name], BOOTSTRAP_METRIC[task], config.bootstrap_samples, config.seed
        )
        rows += origin.of(name, SPLIT, "bootstrap", "mean", {f"{metric}_low": low, f"{metric}_high": high})
    return rows


def section(backtest: Backtest) -> str:
    """The backtest as a report section (in its own page, and in the matching training reports)."""
    parts = [
        "<!-- backtest -->",
        f"<h2>Rolling backtest {escape(backtest.backtest_id)}</h2>",
        "<p class='note'>Each month tested by the procedure a training run follows, as if it were the "
        "next month: fitted on the months before the one preceding it, early-stopped and thresholded on "
        "that one, refitted on every month before the test month, tested on it. The mean row averages "
        "the months; the interval resamples whole days within each month.</p>",
    ]
    tasks: tuple[Task, ...] = ("classification", "regression")
    for task in tasks:
        rows = backtest.table(task)
        if not rows:
            continue
        metric = SELECTION_METRIC[task]
        columns = ["month", "model", *SHOWN[task], f"{metric}_low", f"{metric}_high"]
        parts.append(f"<h3>{task}</h3>" + table(rows, columns))
    parts.append("<!-- /backtest -->")
    return "\n".join(parts)


def run_backtest(
    models_dir: Path,
    registry_dir: Path,
    config: TrainingConfig,
    tasks: list[Task],
    progress: Progress,
    warehouse: Path,
) -> Backtest:
    """Backtest each task on `warehouse`'s features; record the metrics in the registry folder
    (they load into ml.model_metrics) and write the report to `models_dir/backtests/<id>/`."""
    started = time.perf_counter()
    created = datetime.now(UTC)
    backtest_id = f"backtest-{created:%Y%m%dT%H%M%SZ}"
    # every task's, not only those tested: the training signature reads them all
    tuning = {task: read_tuned(task, FEATURES.all) for task in TASKS}
    progress(f"features at T = departure - {config.horizon_minutes} min")
    frame = read_features(warehouse, config.horizon_minutes)
    rows = [
        row
        for task in tasks
        for row in backtest_task(backtest_id, frame, task, config, tuning[task], progress)
    ]
    folder = models_dir / "backtests" / backtest_id
    folder.mkdir(parents=True, exist_ok=True)
    backtest = Backtest(
        backtest_id,
        training_signature(config),
        data_fingerprint(frame),
        config.horizon_minutes,
        rows,
        folder / "index.html",
        time.perf_counter() - started,
    )
    backtest.report.write_text(page(f"Backtest {backtest_id}", section(backtest)))
    (folder / "backtest.json").write_text(
        json.dumps(
            {
                "backtest_id": backtest_id,
                "training_signature": backtest.signature,
                "data_fingerprint": backtest.fingerprint,
                "horizon_minutes": backtest.horizon_minutes,
                "months": config.backtest_months,
            },
            indent=1,
        )
    )
    write_parquet_atomically(metrics_frame(rows), registry_dir / f"{backtest_id}.metrics.parquet")
    return backtest


def latest_backtest(
    models_dir: Path, registry_dir: Path, signature: str, fingerprint: str
) -> Backtest | None:
    """The latest backtest of this procedure (training signature) on this data, if any."""
    for record in sorted((models_dir / "backtests").glob("*/backtest.json"), reverse=True):
        meta = json.loads(record.read_text())
        metrics = registry_dir / f"{meta['backtest_id']}.metrics.parquet"
        if (
            meta["training_signature"] == signature
            and meta["data_fingerprint"] == fingerprint
            and metrics.exists()
        ):
            frame = read_parquet(metrics, DAMAGED_REGISTRY_FILE)
            rows = [MetricRow(**row) for row in frame.iter_rows(named=True)]
            return Backtest(
                meta["backtest_id"],
                signature,
                fingerprint,
                meta["horizon_minutes"],
                rows,
                record.parent / "index.html",
                0.0,
            )
    return None
