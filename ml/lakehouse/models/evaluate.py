"""The evaluation of a task's final model beyond the side-by-side table: per carrier, origin and
month, and December with a day-block interval, without cancellations and without the aircraft
features. Each part gives metric rows for the registry and a section of the training report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from lakehouse.common.html import titled_table
from lakehouse.config import TrainingConfig
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.metrics import day_block_bootstrap_auc, group_metrics, task_metrics
from lakehouse.models.predict import predict
from lakehouse.models.tasks import SELECTION_METRIC, Task, labels
from lakehouse.models.train import TaskResult


@dataclass(frozen=True)
class MetricRow:
    """One value of `ml.model_metrics`: which model (of which run, task and horizon), on which
    rows, which metric."""

    run_id: str
    task: str
    horizon_minutes: int
    model_name: str
    split: str
    segment_kind: str
    segment: str
    metric: str
    value: float


@dataclass(frozen=True)
class Rows:
    """Where metric rows come from: a run (or a backtest), a task, a horizon."""

    run_id: str
    task: str
    horizon_minutes: int

    def of(
        self, model: str, split: str, kind: str, segment: str, values: dict[str, float]
    ) -> list[MetricRow]:
        """A row per metric of `values`."""
        return [
            MetricRow(
                self.run_id, self.task, self.horizon_minutes, model, split, kind, segment, name, float(value)
            )
            for name, value in values.items()
        ]


def metrics_frame(rows: list[MetricRow]) -> pl.DataFrame:
    return pl.DataFrame([asdict(row) for row in rows])


@dataclass
class Evaluation:
    """What an evaluation adds: metric rows for the registry, sections for the report."""

    rows: list[MetricRow] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)

    def add(self, other: Evaluation) -> None:
        self.rows += other.rows
        self.sections += other.sections


def side_by_side(origin: Rows, result: TaskResult) -> Evaluation:
    """Every model's metrics on validation and test."""
    return Evaluation(
        [
            row
            for run in result.models
            for split in ("validation", "test")
            for row in origin.of(run.name, split, "overall", "all", run.metrics[split])
        ]
    )


def _group_columns(task: Task, key: str) -> list[str]:
    return [
        key,
        "rows",
        SELECTION_METRIC[task],
        "mean_predicted",
        "positive_rate" if task == "classification" else "mean_actual",
    ]


def by_segment(origin: Rows, result: TaskResult, splits: dict[str, pl.DataFrame]) -> Evaluation:
    """The final model per carrier and origin on December, and per month over validation and test."""
    task, final = result.task, result.final
    test = splits["test"]
    evaluation = Evaluation()
    for kind in ("carrier", "origin"):
        groups = group_metrics(
            task,
            test[kind].to_numpy(),
            labels(test, task),
            final.predictions["test"],
            final.threshold,
            result.prior,
        )
        evaluation.rows += [
            row
            for segment, values in groups.items()
            for row in origin.of(final.name, "test", kind, segment, values)
        ]
        evaluation.sections.append(
            titled_table(
                f"{final.name} by {kind}, December",
                [{kind: s, **v} for s, v in groups.items()],
                _group_columns(task, kind),
            )
        )
    months = pl.concat([splits["validation"], test])
    groups = group_metrics(
        task,
        months["scheduled_departure_date"].dt.month().to_numpy(),
        labels(months, task),
        np.concatenate([final.predictions["validation"], final.predictions["test"]]),
        final.threshold,
        result.prior,
    )
    evaluation.rows += [
        row
        for segment, values in groups.items()
        for row in origin.of(final.name, "validation+test", "month", str(segment), values)
    ]
    evaluation.sections.append(
        titled_table(
            f"{final.name} by month",
            [{"month": s, **v} for s, v in groups.items()],
            _group_columns(task, "month"),
        )
    )
    return evaluation


def december_honestly(
    origin: Rows, result: TaskResult, test: pl.DataFrame, config: TrainingConfig
) -> Evaluation:
    """The classifier's December AUC with a day-block bootstrap interval, on departed flights
    only, and with the aircraft features shuffled (they use the tail that finally flew)."""
    task, final = result.task, result.final
    y_test = labels(test, task)
    low, high = day_block_bootstrap_auc(
        y_test,
        final.predictions["test"],
        test["scheduled_departure_date"].to_list(),
        config.bootstrap_samples,
        config.seed,
    )
    departed = ~test["is_cancelled"].to_numpy()
    variant = task_metrics(
        task,
        test["is_delayed_departed"].to_numpy()[departed].astype(float),
        final.predictions["test"][departed],
        final.threshold,
        result.refit_prior,
    )
    aircraft = [f for f in FEATURES.aircraft if f in final.features]
    shuffled = test.with_columns(pl.col(c).shuffle(seed=config.seed) for c in aircraft)
    model, pre = final.scoring
    without_aircraft = task_metrics(
        task, y_test, predict(model, pre, shuffled), final.threshold, result.refit_prior
    )
    rows = origin.of(
        final.name, "test", "bootstrap", "95% interval", {"roc_auc_low": low, "roc_auc_high": high}
    ) + origin.of(final.name, "test", "variant", "departed flights only", variant)
    section = titled_table(
        "December, honestly",
        [
            {"measure": "December ROC AUC", "value": final.metrics["test"]["roc_auc"]},
            {"measure": "day-block bootstrap 95% interval, low", "value": low},
            {"measure": "day-block bootstrap 95% interval, high", "value": high},
            {
                "measure": "ROC AUC, departed flights only (cancellations left out)",
                "value": variant["roc_auc"],
            },
            {"measure": "ROC AUC with the aircraft features shuffled", "value": without_aircraft["roc_auc"]},
        ],
        ["measure", "value"],
        "One test month is noisy: the interval resamples whole days. The aircraft features use "
        "the tail number that finally flew (a swap after T is baked in): what they add is "
        "optimistic.",
    )
    return Evaluation(rows, [section])
