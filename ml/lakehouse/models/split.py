"""The time split: train, validation and test by the month of the scheduled departure.

Protocol: fit on January-September, choose on October-November (early stopping, tuning objective
folds aside, the probability threshold, feature selection, the champion), test on December once
per run, for the report only. Tuning uses expanding-window folds over the training months."""

from __future__ import annotations

import polars as pl

from lakehouse.config import TrainingConfig
from lakehouse.models.tasks import Task, task_rows

SPLITS = ("train", "validation", "test")


def month_of(frame: pl.DataFrame) -> pl.Series:
    return frame["scheduled_departure_date"].dt.month()


class SplitError(ValueError):
    """A split of the protocol has no rows: the data lacks its months."""


def split_by_month(frame: pl.DataFrame, config: TrainingConfig) -> dict[str, pl.DataFrame]:
    """train / validation / test by the month of the scheduled departure (local date); a split
    without rows is a SplitError naming its months and those the data holds."""
    month = month_of(frame)
    months = {
        "train": config.train_months,
        "validation": config.validation_months,
        "test": config.test_months,
    }
    splits = {name: frame.filter(month.is_in(chosen)) for name, chosen in months.items()}
    for name, rows in splits.items():
        if rows.is_empty():
            held = sorted(month.unique().drop_nulls().to_list())
            raise SplitError(
                f"no flights in the {name} months ({', '.join(map(str, months[name]))}): the data holds "
                f"months {', '.join(map(str, held)) or 'none'}; training fits on months "
                f"{_span(config.train_months)}, chooses on {_span(config.validation_months)} and tests "
                f"on {_span(config.test_months)}"
            )
    return splits


def _span(months: tuple[int, ...]) -> str:
    return f"{months[0]}-{months[-1]}" if len(months) > 1 else str(months[0])


def task_splits(frame: pl.DataFrame, config: TrainingConfig, task: Task) -> dict[str, pl.DataFrame]:
    """The split of the rows a task learns from."""
    return {name: task_rows(rows, task) for name, rows in split_by_month(frame, config).items()}


def expanding_folds(frame: pl.DataFrame, config: TrainingConfig) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """Tuning folds: fit on months 1..k, check on month k + 1, for each k of the configuration."""
    month = month_of(frame)
    return [
        (frame.filter(month <= last), frame.filter(month == last + 1)) for last in config.cv_last_train_months
    ]
