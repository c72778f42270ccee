"""How the feature build and training grow with the data on one machine (`make bench-training`).

For each scale (1x = the bundled year; 10x and 100x = the synthetic copies of 2013 that the gate
benchmark builds and caches, benchmarks/runner.py), in a fresh process each, with its time and
peak memory (wait4):

1. the point-in-time features at the default horizon, month by month into a feature lake (one
   Parquet file per month: `write_features`, memory bounded by a month);
2. the classifier's recipe trained on one machine from that lake: the tuned parameters and
   features (`ml/lakehouse/tuned_params.yml`), a fixed number of rounds (`--rounds`), on every
   month before the last full one, which it is then scored on (ROC AUC, a check that it learned). The lake is
   read month by month into one float32 matrix (a month's polars frame at a time), which
   LightGBM bins: the 100x year needs about 7 GB for it, where the frame of every feature as
   training holds it in `lakehouse train` would not fit.

The preprocessing (category codes) is fitted on the first training month: on the synthetic years
every month has the same carriers, airports and manufacturers. Not run by the tests: timings are
noisy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.runner import DEFAULT_WORKDIR, GIB, cached_warehouse, run_child
from lakehouse.config import DEFAULT_HORIZON_MINUTES, TrainingConfig, read_tuned
from lakehouse.models.tasks import Task

TASK: Task = "classification"


def split_months(files: list[Path]) -> tuple[list[Path], Path]:
    """The months to train on and the month to test on: the last month with at least half the
    flights of the median month (the lake's last file can be the few flights of a year's last
    evening that depart in the next month in UTC), and every month before it."""
    sizes = [pl.scan_parquet(path).select(pl.len()).collect().item() for path in files]
    full = [i for i, size in enumerate(sizes) if size >= float(np.median(sizes)) / 2]
    return files[: full[-1]], files[full[-1]]


def train_child(lake: Path, rounds: int) -> int:
    """Entry point of the training child: train on the months of `lake` before the last full one,
    score that one (`split_months`); print the figures as JSON."""
    import lightgbm as lgb

    from lakehouse.models.boosting import tuned_params
    from lakehouse.models.features.catalog import FEATURES
    from lakehouse.models.metrics import task_metrics
    from lakehouse.models.preprocess import Preprocessor
    from lakehouse.models.tasks import labels, task_rows
    from lakehouse.models.train import tuned_features

    started = time.perf_counter()
    train_files, test_file = split_months(sorted(lake.glob("*.parquet")))
    tuned = read_tuned(TASK, FEATURES.all)
    features = tuned_features(tuned)
    categorical = [c for c in FEATURES.categorical if c in features]
    numeric = [c for c in features if c not in categorical]
    pre = Preprocessor.fit(task_rows(pl.read_parquet(train_files[0]), TASK), numeric, categorical)
    read = [*features, "is_delayed"]
    counts = [task_rows(pl.read_parquet(f, columns=read), TASK).height for f in train_files]
    matrix = np.empty((sum(counts), len(pre.tree_features)), dtype=np.float32)
    label = np.empty(sum(counts), dtype=np.float32)
    at = 0
    for path, count in zip(train_files, counts, strict=True):
        rows = task_rows(pl.read_parquet(path, columns=read), TASK)
        matrix[at : at + count] = pre.for_trees(rows)
        label[at : at + count] = labels(rows, TASK)
        at += count
    read_seconds = time.perf_counter() - started
    began = time.perf_counter()
    params = tuned_params(TASK, TrainingConfig(), tuned)
    dataset = lgb.Dataset(
        matrix, label, feature_name=pre.tree_features, categorical_feature=pre.categorical
    ).construct()
    del matrix
    dataset_seconds = time.perf_counter() - began
    began = time.perf_counter()
    booster = lgb.train(params, dataset, num_boost_round=rounds)
    boosting_seconds = time.perf_counter() - began
    test = task_rows(pl.read_parquet(test_file), TASK)
    scores = np.asarray(booster.predict(pre.for_trees(test)))
    truth = labels(test, TASK)
    auc = task_metrics(TASK, truth, scores, 0.5, float(np.mean(truth)))["roc_auc"]
    figures = {
        "rows": int(sum(counts)),
        "months": len(train_files),
        "read": read_seconds,
        "dataset": dataset_seconds,
        "boosting": boosting_seconds,
        "seconds": time.perf_counter() - started,
        "test_month": test_file.stem,
        "auc": float(auc),
    }
    print(json.dumps(figures))
    return 0


def scale_row(scale: int, workdir: Path, rounds: int, memory_limit: str) -> str:
    """One scale: the features into a lake, then training on it, each in a fresh process."""
    warehouse = cached_warehouse(scale, workdir)
    lake = warehouse.parent / "training-lake"
    shutil.rmtree(lake, ignore_errors=True)
    features = run_child(
        "benchmarks.features", ["--memory-limit", memory_limit, "--child", str(warehouse), str(lake)]
    )
    if features.exit_code != 0:
        return f"{scale:>5}x  features failed (exit code {features.exit_code})"
    training = run_child("benchmarks.training", ["--child", str(lake), "--rounds", str(rounds)])
    shutil.rmtree(lake, ignore_errors=True)
    built = features.last_json()
    if training.exit_code != 0:
        return f"{scale:>5}x {built['rows']:>12,} {built['seconds']:9.1f}  training failed"
    fit = training.last_json()
    return (
        f"{scale:>5}x {built['rows']:>12,} {built['seconds']:9.1f} {features.peak_rss_bytes / GIB:7.2f}"
        f" {fit['rows']:>12,} {fit['read']:7.1f} {fit['dataset']:8.1f} {fit['boosting']:9.1f}"
        f" {fit['seconds']:8.1f} {training.peak_rss_bytes / GIB:7.2f} {fit['auc']:7.4f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.training", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--scales", default="1,10", help="multiples of the bundled flights, e.g. 1,10,100")
    parser.add_argument("--rounds", type=int, default=100, help="LightGBM's boosting rounds")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB's memory_limit for the features")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="scratch folder")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return train_child(args.child, args.rounds)
    print(
        f"\nfeatures month by month (DuckDB memory_limit {args.memory_limit}) at {DEFAULT_HORIZON_MINUTES}"
        f" min, then the {TASK} recipe, {args.rounds} rounds, on the months before the last full one"
    )
    print(
        f"{'scale':>6} {'flights':>12} {'feat s':>9} {'peak GB':>7} {'trained':>12} {'read s':>7}"
        f" {'binning s':>8} {'boost s':>9} {'train s':>8} {'peak GB':>7} {'AUC':>7}"
    )
    for scale in [int(s) for s in args.scales.split(",")]:
        print(scale_row(scale, args.workdir.resolve(), args.rounds, args.memory_limit), flush=True)
    print(
        "(feat s: the feature lake; train s: reading the lake, binning and boosting;"
        " AUC: the last full month)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
