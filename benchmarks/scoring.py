"""How fast batch scoring (`lakehouse predict`, the pipeline's predict step) scores the whole
bundled year, end to end, beside LightGBM's bare predict on the same rows.

End to end = the point-in-time features from the published warehouse, preprocessing, predict with
each task's champion, the predictions written as Parquet and loaded into a warehouse with the
feature table (`ml.predictions`, `ml.flight_features`). Bare = `Booster.predict` on the already
preprocessed matrix. Works on copies in a temporary folder: the registry and the published
warehouse are only read. Needs `make run` first (a published warehouse and trained champions).
Not run by the tests: timings are noisy.

The two are measured in turns (`--repeat` times each: end to end, then bare) and the ratio is that
of their medians, so that the machine's speed drifting during the run weighs on both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from lakehouse.config import Paths, TrainingConfig, paths
from lakehouse.models.batch import load_scoring_tables_into, predict_with_champions
from lakehouse.models.features.build import read_features
from lakehouse.models.registry import RegistryEntry, current_champion, data_fingerprint, load_model
from lakehouse.models.tasks import TASKS


def score_end_to_end(p: Paths, horizon: int, work: Path) -> tuple[pl.DataFrame, dict[str, float], float]:
    """The features, their fingerprint, the predictions and their load, each step timed, on a copy
    of the warehouse in `work` (the registry is only read); returns the features, the steps and
    the total."""
    shutil.copy(p.warehouse, work / "warehouse.duckdb")
    # The copy is the benchmark's, not scoring's: on disk before the clock starts, or the load's
    # commit (DuckDB syncs the file) would pay for writing the whole copied warehouse.
    with open(work / "warehouse.duckdb", "rb") as copy:
        os.fsync(copy.fileno())
    timings: dict[str, float] = {}
    started = time.perf_counter()
    features = read_features(p.warehouse, horizon)
    timings["features"] = time.perf_counter() - started
    fingerprint = data_fingerprint(features)
    timings["fingerprint"] = time.perf_counter() - started - timings["features"]
    mark = time.perf_counter()
    predict_with_champions(p.model_registry, work / "predictions", features, fingerprint)
    timings["preprocess + predict + write Parquet"] = time.perf_counter() - mark
    mark = time.perf_counter()
    load_scoring_tables_into(work / "warehouse.duckdb", work / "predictions", features)
    timings["load into the warehouse"] = time.perf_counter() - mark
    return features, timings, time.perf_counter() - started


def bare_predict_seconds(champions: Sequence[RegistryEntry], features: pl.DataFrame) -> float:
    """LightGBM's `Booster.predict` alone, on the features each champion preprocessed beforehand."""
    bare = 0.0
    for entry in champions:
        model = load_model(Path(entry.artifact_dir))
        matrix = model.pre.for_trees(features)
        mark = time.perf_counter()
        model.booster.predict(matrix, num_iteration=model.booster.best_iteration)
        bare += time.perf_counter() - mark
    return bare


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="measurements of each, in turns (default 3; at least 1)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat is at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    p = paths()
    horizon = TrainingConfig().horizon_minutes
    found = [current_champion(p.model_registry, task, horizon) for task in TASKS]
    champions = [entry for entry in found if entry is not None]
    if not p.warehouse.exists() or len(champions) < len(found):
        print("needs a published warehouse and trained champions: run `make run` first")
        return 1
    runs: list[tuple[float, dict[str, float]]] = []
    bares: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for turn in range(args.repeat):
            work = Path(folder) / str(turn)
            work.mkdir()
            features, timings, total = score_end_to_end(p, horizon, work)
            runs.append((total, timings))
            bares.append(bare_predict_seconds(champions, features))
            shutil.rmtree(work)
            print(f"  turn {turn + 1}: end to end {total:.2f} s, bare predict {bares[-1]:.2f} s")
    rows = features.height * len(TASKS)
    # the lower middle of an even count, so that the steps shown are those of the total shown
    total, timings = sorted(runs, key=lambda run: run[0])[(len(runs) - 1) // 2]
    bare = statistics.median_low(bares)
    print(f"\nscoring {features.height:,} flights x {len(TASKS)} champions = {rows:,} predictions")
    print(f"medians of {args.repeat} turns\n")
    for name, seconds in timings.items():
        print(f"  {name:<38} {seconds:7.2f} s")
    print(f"\n  {'end to end':<38} {total:7.2f} s  {rows / total:>12,.0f} predictions/s")
    print(f"  {'LightGBM bare predict':<38} {bare:7.2f} s  {rows / bare:>12,.0f} predictions/s")
    print(f"  end to end takes {total / bare:.1f}x the bare predict\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
