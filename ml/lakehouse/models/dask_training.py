"""Training on a Dask cluster when the features outgrow one machine: the champion's recipe (its
parameters, features, preprocessing and number of rounds) refitted through LightGBM's Dask API
on the point-in-time features read from the feature lake month by month, and compared with the
champion on the months after its training window.

The feature lake is the features of each horizon as Parquet, one file per month
(`<folder>/<h>min/<YYYY-MM>.parquet`): what every worker reads its
share of, from a folder they all see (a shared disk, or object storage through fsspec)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl

from lakehouse.common.files import write_parquet_atomically
from lakehouse.models.metrics import task_metrics
from lakehouse.models.predict import predict
from lakehouse.models.registry import RegistryEntry, SavedModel, load_model
from lakehouse.models.tasks import LABEL, Task, labels, task_rows


def month_key(day: date) -> str:
    return f"{day:%Y-%m}"


def write_feature_lake(frame: pl.DataFrame, folder: Path) -> list[Path]:
    """The features of one horizon (`read_features`), one Parquet file per month of the
    scheduled departure (`<folder>/<h>min/<YYYY-MM>.parquet`), each replaced whole. Returns the
    files written."""
    horizons = frame["horizon_minutes"].unique().to_list()
    if len(horizons) != 1:
        raise ValueError(f"a feature lake file holds one horizon; got {horizons}")
    written = []
    months = frame.with_columns(pl.col("scheduled_departure_date").dt.strftime("%Y-%m").alias("_month"))
    for (month,), rows in months.partition_by("_month", as_dict=True, maintain_order=True).items():
        path = _file(folder, horizons[0], month)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomically(rows.drop("_month"), path)
        written.append(path)
    return written


def _file(folder: Path, horizon_minutes: int, month: str) -> Path:
    return folder / f"{horizon_minutes}min" / f"{month}.parquet"


def lake_months(folder: Path, horizon_minutes: int) -> list[str]:
    """The months the feature lake holds for a horizon, in order."""
    return sorted(path.stem for path in (folder / f"{horizon_minutes}min").glob("????-??.parquet"))


def _files(folder: Path, horizon_minutes: int, months: list[str]) -> list[str]:
    return [str(_file(folder, horizon_minutes, month)) for month in months]


@dataclass(frozen=True)
class DaskFit:
    """A champion's recipe refitted on the cluster, beside the champion on the months after its
    training window (the same rows, the same preprocessing)."""

    model_id: str
    task: str
    horizon_minutes: int
    rounds: int
    trained_rows: int
    trained_months: list[str]
    tested_months: list[str]
    tested_rows: int
    metric: str
    champion_value: float
    dask_value: float
    max_abs_difference: float
    mean_abs_difference: float
    seconds: float
    booster: lgb.Booster


def comparison_record(fit: DaskFit) -> dict[str, Any]:
    """What a refit compared, as JSON: every field of `fit` but its model."""
    return {f.name: getattr(fit, f.name) for f in fields(fit) if f.name != "booster"}


COMPARISON_FILE = "comparison.json"


def _estimator(task: str, client: Any, rounds: int, params: dict[str, Any]) -> Any:
    from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

    kwargs = {k: v for k, v in params.items() if k not in ("metric", "num_threads", "objective")}
    estimator = DaskLGBMClassifier if task == "classification" else DaskLGBMRegressor
    return estimator(client=client, n_estimators=rounds, **kwargs)


def fit_on_dask(client: Any, folder: Path, entry: RegistryEntry) -> DaskFit:
    """Refit `entry`'s scoring model (every month of its training window) on the cluster behind
    `client`, reading the feature lake in `folder`; compare on the later months the lake holds."""
    import dask.dataframe as dd

    started = time.perf_counter()
    task = cast(Task, entry.task)
    model: SavedModel = load_model(Path(entry.artifact_dir))
    pre = model.pre
    params = json.loads(entry.params)
    rounds = model.booster.num_trees()
    months = lake_months(folder, entry.horizon_minutes)
    first, last = month_key(entry.train_start_date), month_key(entry.train_end_date)
    trained = [m for m in months if first <= m <= last]
    tested = [m for m in months if m > last]
    if not trained or not tested:
        raise FileNotFoundError(
            f"{folder}: the feature lake has no months {first} to {last} (training) and after them "
            f"(test) at {entry.horizon_minutes} min; write it with `lakehouse export-features`"
        )
    label = LABEL[task]
    columns = pre.tree_features
    read = [*model.features, label]

    def month_rows(path: str) -> pd.DataFrame:
        """One month of the lake as the model's input, on the worker that reads it."""
        rows = task_rows(pl.read_parquet(path, columns=read), task)
        out = pd.DataFrame(pre.for_trees(rows), columns=columns)
        out[label] = labels(rows, task)
        return out

    meta = pd.DataFrame({c: pd.Series(dtype="float64") for c in [*columns, label]})
    # a partition per month file; one array, then its columns: features and label chunk alike
    frame = dd.from_map(month_rows, _files(folder, entry.horizon_minutes, trained), meta=meta)
    rows = frame.to_dask_array(lengths=True)
    x, y = rows[:, :-1], rows[:, -1]
    estimator = _estimator(task, client, rounds, params)
    estimator.fit(x, y, feature_name=columns, categorical_feature=list(range(len(pre.categorical))))
    booster: lgb.Booster = estimator.to_local().booster_
    test = task_rows(pl.read_parquet(_files(folder, entry.horizon_minutes, tested)), task)
    champion, distributed = predict(model.booster, pre, test), predict(booster, pre, test)
    metric = entry.validation_metric
    truth = labels(test, task)
    values = [
        task_metrics(task, truth, scores, model.threshold, float(np.mean(truth)))[metric]
        for scores in (champion, distributed)
    ]
    difference = np.abs(champion - distributed)
    return DaskFit(
        model_id=entry.model_id,
        task=entry.task,
        horizon_minutes=entry.horizon_minutes,
        rounds=rounds,
        trained_rows=int(y.shape[0]),
        trained_months=trained,
        tested_months=tested,
        tested_rows=test.height,
        metric=metric,
        champion_value=float(values[0]),
        dask_value=float(values[1]),
        max_abs_difference=float(difference.max()),
        mean_abs_difference=float(difference.mean()),
        seconds=time.perf_counter() - started,
        booster=booster,
    )
