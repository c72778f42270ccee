"""The two prediction tasks: what each predicts, from which rows, judged by which metric.

- classification: P(departure more than 15 minutes late, or cancelled) for every scheduled flight;
  the same model is also scored on departed flights only (the variant without cancellations);
- regression: arrival delay in minutes, for flights that arrived."""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
LABEL: dict[Task, str] = {"classification": "is_delayed", "regression": "arr_delay_minutes"}
# What a model is judged on in validation: higher is better for AUC, lower for RMSE.
SELECTION_METRIC: dict[Task, str] = {"classification": "roc_auc", "regression": "rmse"}


def higher_is_better(task: Task) -> bool:
    return task == "classification"


def task_rows(frame: pl.DataFrame, task: Task) -> pl.DataFrame:
    """The rows a task learns from: every flight for classification, arrived ones for regression."""
    return frame.filter(pl.col(LABEL[task]).is_not_null())


def labels(frame: pl.DataFrame, task: Task) -> np.ndarray:
    return frame[LABEL[task]].cast(pl.Float64).to_numpy()
