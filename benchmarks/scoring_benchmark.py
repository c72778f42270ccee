"""How fast `lakehouse score` scores the whole bundled year, end to end, beside LightGBM's bare
predict on the same rows.

End to end = the point-in-time features from the published warehouse, preprocessing, predict with
each task's champion, the predictions written as Parquet and loaded into a warehouse with the
feature table (`ml.predictions`, `ml.flight_features`). Bare = `Booster.predict` on the already
preprocessed matrix. Works on copies in a temporary folder: the registry and the published
warehouse are only read. Needs `make run` first (a published warehouse and trained champions).
Not run by the tests: timings are noisy.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from lakehouse.config import TrainingConfig, paths
from lakehouse.models.batch import load_scoring_tables_into, predict_with_champions
from lakehouse.models.features.build import read_features
from lakehouse.models.registry import current_champion, data_fingerprint, load_model
from lakehouse.models.tasks import TASKS


def main() -> int:
    p = paths()
    horizon = TrainingConfig().horizon_minutes
    champions = [current_champion(p.model_registry, task, horizon) for task in TASKS]
    if not p.warehouse.exists() or None in champions:
        print("needs a published warehouse and trained champions: run `make run` first")
        return 1
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shutil.copy(p.warehouse, work / "warehouse.duckdb")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        features = read_features(p.warehouse, horizon)
        timings["features"] = time.perf_counter() - started
        fingerprint = data_fingerprint(features)
        timings["fingerprint"] = time.perf_counter() - started - timings["features"]
        shutil.copytree(p.model_registry, work / "registry")
        mark = time.perf_counter()
        predict_with_champions(work / "registry", work / "predictions", features, fingerprint)
        timings["preprocess + predict + write Parquet"] = time.perf_counter() - mark
        mark = time.perf_counter()
        load_scoring_tables_into(work / "warehouse.duckdb", work / "predictions", features)
        timings["load into the warehouse"] = time.perf_counter() - mark
        total = time.perf_counter() - started
        bare = 0.0
        for entry in champions:
            assert entry is not None
            model = load_model(Path(entry.artifact_dir))
            matrix = model.pre.for_trees(features)
            mark = time.perf_counter()
            model.booster.predict(matrix, num_iteration=model.booster.best_iteration)
            bare += time.perf_counter() - mark
    rows = features.height * len(TASKS)
    print(f"\nscoring {features.height:,} flights x {len(TASKS)} champions = {rows:,} predictions\n")
    for name, seconds in timings.items():
        print(f"  {name:<38} {seconds:7.2f} s")
    print(f"\n  {'end to end':<38} {total:7.2f} s  {rows / total:>12,.0f} predictions/s")
    print(f"  {'LightGBM bare predict':<38} {bare:7.2f} s  {rows / bare:>12,.0f} predictions/s")
    print(f"  end to end takes {total / bare:.1f}x the bare predict\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
