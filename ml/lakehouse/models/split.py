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


def split_by_month(frame: pl.DataFrame, config: TrainingConfig) -> dict[str, pl.DataFrame]:
    """train / validation / test by the month of the scheduled departure (local date)."""
    month = month_of(frame)
    return {
        "train": frame.filter(month.is_in(config.train_months)),
        "validation": frame.filter(month.is_in(config.validation_months)),
        "test": frame.filter(month.is_in(config.test_months)),
    }


def task_splits(frame: pl.DataFrame, config: TrainingConfig, task: Task) -> dict[str, pl.DataFrame]:
    """The split of the rows a task learns from."""
    return {name: task_rows(rows, task) for name, rows in split_by_month(frame, config).items()}


def expanding_folds(frame: pl.DataFrame, config: TrainingConfig) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """Tuning folds: fit on months 1..k, check on month k + 1, for each k of the configuration."""
    month = month_of(frame)
    return [
        (frame.filter(month <= last), frame.filter(month == last + 1)) for last in config.cv_last_train_months
    ]
