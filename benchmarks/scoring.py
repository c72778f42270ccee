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
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lakehouse.config import Paths, TrainingConfig, paths
from lakehouse.models.batch import load_scoring_tables_into, predict_with_champions
from lakehouse.models.features.build import read_features
from lakehouse.models.registry import RegistryEntry, current_champion, data_fingerprint, load_model
from lakehouse.models.tasks import TASKS


@dataclass(frozen=True)
class Spent:
    """Wall-clock seconds and this process's CPU seconds (every thread, user and system)."""

    wall: float
    cpu: float

    def __add__(self, other: Spent) -> Spent:
        return Spent(self.wall + other.wall, self.cpu + other.cpu)


def _clock() -> Spent:
    times = os.times()
    return Spent(time.perf_counter(), times.user + times.system)


def _since(mark: Spent) -> Spent:
    now = _clock()
    return Spent(now.wall - mark.wall, now.cpu - mark.cpu)


def score_end_to_end(p: Paths, horizon: int, work: Path) -> tuple[pl.DataFrame, dict[str, Spent], Spent]:
    """The features, their fingerprint, the predictions and their load, each step timed, on a copy
    of the warehouse in `work` (the registry is only read); returns the features, the steps and
    the total."""
    shutil.copy(p.warehouse, work / "warehouse.duckdb")
    # The copy is the benchmark's, not scoring's: on disk before the clock starts, or the load's
    # commit (DuckDB syncs the file) would pay for writing the whole copied warehouse.
    with open(work / "warehouse.duckdb", "rb") as copy:
        os.fsync(copy.fileno())
    steps: dict[str, Spent] = {}
    started = mark = _clock()
    features = read_features(p.warehouse, horizon)
    steps["features"] = _since(mark)
    mark = _clock()
    fingerprint = data_fingerprint(features)
    steps["fingerprint"] = _since(mark)
    mark = _clock()
    scored = predict_with_champions(p.model_registry, work / "predictions", features, fingerprint)
    steps["preprocess + predict + write Parquet"] = _since(mark)
    mark = _clock()
    current = [s.model_id for s in scored]
    load_scoring_tables_into(
        work / "warehouse.duckdb", work / "predictions", p.model_registry, features, current
    )
    steps["load into the warehouse"] = _since(mark)
    return features, steps, _since(started)


def bare_predict(champions: Sequence[RegistryEntry], features: pl.DataFrame) -> Spent:
    """LightGBM's `Booster.predict` alone, on the features each champion preprocessed beforehand."""
    bare = Spent(0.0, 0.0)
    for entry in champions:
        model = load_model(Path(entry.artifact_dir))
        matrix = model.pre.for_trees(features)
        mark = _clock()
        model.booster.predict(matrix, num_iteration=model.booster.best_iteration)
        bare += _since(mark)
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
    runs: list[tuple[Spent, dict[str, Spent]]] = []
    bares: list[Spent] = []
    with tempfile.TemporaryDirectory() as folder:
        for turn in range(args.repeat):
            work = Path(folder) / str(turn)
            work.mkdir()
            features, steps, total = score_end_to_end(p, horizon, work)
            runs.append((total, steps))
            bares.append(bare_predict(champions, features))
            shutil.rmtree(work)
            print(f"  turn {turn + 1}: end to end {total.wall:.2f} s, bare predict {bares[-1].wall:.2f} s")
    rows = features.height * len(TASKS)
    # the lower middle of an even count, so that the steps shown are those of the total shown
    total, steps = sorted(runs, key=lambda run: run[0].wall)[(len(runs) - 1) // 2]
    bare = sorted(bares, key=lambda spent: spent.wall)[(len(bares) - 1) // 2]
    print(f"\nscoring {features.height:,} flights x {len(TASKS)} champions = {rows:,} predictions")
    print(f"medians of {args.repeat} turns; CPU: this process's, every thread ({os.cpu_count()} cores)\n")
    print(f"  {'':<38} {'wall s':>7} {'CPU s':>7}")
    for name, spent in steps.items():
        print(f"  {name:<38} {spent.wall:7.2f} {spent.cpu:7.2f}")
    print()
    for name, spent in (("end to end", total), ("LightGBM bare predict", bare)):
        speed = rows / spent.wall
        print(f"  {name:<38} {spent.wall:7.2f} {spent.cpu:7.2f}  {speed:>10,.0f} predictions/s")
    print(
        f"  end to end takes {total.wall / bare.wall:.1f}x the bare predict's time "
        f"({total.cpu / bare.cpu:.1f}x its CPU)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
