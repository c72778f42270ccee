"""The same dbt build and point-in-time features on DuckDB and on local Spark, by scale
(`make bench-spark`).

For each scale (1x = the bundled year; 10x = synthetic copies of 2013, benchmarks/synthetic.py),
in a fresh process per engine so that neither warms the other:
- DuckDB: `dbt build --selector core` (the pipeline's first build), then the features of the whole
  year at the default horizon, written to Parquet by DuckDB.
- Spark: the raw files landed as Parquet and the same `dbt build --target spark`
  (`lakehouse.platform.spark.build_on_spark`), then the same features on a Spark session of its
  own, written to Parquet by Spark (`spark_feature_query`: nothing is collected to the driver).

It prints each engine's seconds, Spark's ratio to DuckDB, seconds per million flights and each
scale's time against the 1x time (about linear: at most scale x 1.1). Peak memory is DuckDB's only:
Spark's runs in its own JVM, bounded by spark.driver.memory. Not run by the tests: timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.build import LINEAR_TOLERANCE, landing_zone
from benchmarks.runner import DEFAULT_WORKDIR, GIB, RunDir, build_in_child, run_child
from lakehouse.config import DBT_PROJECT_DIR, DEFAULT_HORIZON_MINUTES

ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class EngineFigures:
    """One engine at one scale: its dbt build and its feature build, in seconds."""

    dbt_seconds: float
    feature_seconds: float
    feature_rows: int
    peak_rss_bytes: int | None = None


def spark_child(raw: Path, root: Path) -> int:
    """Entry point of the Spark child: land and build on Spark, then the features, timed; prints
    the figures as JSON."""
    from lakehouse.models.features.build import spark_feature_query
    from lakehouse.platform.spark import SparkFolders, build_on_spark, spark_build_args, spark_session

    folders = SparkFolders(root)
    started = time.perf_counter()
    build_on_spark(
        spark_build_args(),
        folders=folders,
        raw_dir=raw,
        project_dir=DBT_PROJECT_DIR,
        target_dir=root / "target",
    )
    built = time.perf_counter()
    session = spark_session(folders, DBT_PROJECT_DIR)
    output = root / "features"
    spark_feature_query(session, DEFAULT_HORIZON_MINUTES).write.mode("overwrite").parquet(str(output))
    featured = time.perf_counter()
    rows = session.read.parquet(str(output)).count()
    session.stop()
    print(json.dumps({"dbt": built - started, "features": featured - built, "rows": rows}))
    return 0


def duckdb_figures(scale: int, raw: Path, workdir: Path) -> EngineFigures:
    """The dbt build in a child (benchmarks.runner), then the features in another (benchmarks.features)."""
    run = RunDir(workdir / f"spark-bench-duckdb-{scale}x")
    build = build_in_child(scale, raw, run, DBT_PROJECT_DIR)
    if not build.ok:
        raise RuntimeError(f"DuckDB build {scale}x {build.status}: {build.detail}")
    output = run.root / "features"
    features = run_child("benchmarks.features", ["--whole", "--child", str(run.warehouse), str(output)])
    if features.exit_code != 0:
        raise RuntimeError(f"DuckDB features {scale}x: exit code {features.exit_code}")
    figures = features.last_json()
    shutil.rmtree(run.root)
    return EngineFigures(build.seconds, float(figures["seconds"]), int(figures["rows"]), build.peak_rss_bytes)


def spark_figures(scale: int, raw: Path, workdir: Path) -> EngineFigures:
    root = workdir / f"spark-bench-spark-{scale}x"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    with (root / "child.stderr").open("wb") as errors:
        child = run_child("benchmarks.spark", ["--child", str(raw), str(root)], stderr=errors)
    if child.exit_code != 0:
        tail = (root / "child.stderr").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"Spark {scale}x: exit code {child.exit_code}: {tail}")
    figures = child.last_json()
    shutil.rmtree(root)
    return EngineFigures(float(figures["dbt"]), float(figures["features"]), int(figures["rows"]))


def print_table(results: dict[int, tuple[EngineFigures, EngineFigures]]) -> None:
    """A row per scale and engine, then the ratios and the linearity targets."""
    print("\n== dbt build (--selector core) and features (whole year, default horizon) by engine ==")
    print(
        f"{'scale':>5} {'engine':<7} {'flights':>11} {'dbt s':>8} {'features s':>10} {'total s':>8} "
        f"{'s/M flights':>11} {'vs 1x':>6} {'peak GiB':>8}"
    )
    base = results.get(1)
    for scale, engines in results.items():
        for index, figures in enumerate(engines):
            total = sum_of(figures)
            per_million = total / (figures.feature_rows / 1e6)
            versus = f"{total / sum_of(base[index]):5.1f}x" if base else "   n/a"
            peak = f"{figures.peak_rss_bytes / GIB:8.2f}" if figures.peak_rss_bytes else f"{'(JVM)':>8}"
            print(
                f"{scale:>4}x {ENGINES[index]:<7} {figures.feature_rows:>11,} {figures.dbt_seconds:>8.1f} "
                f"{figures.feature_seconds:>10.1f} {total:>8.1f} {per_million:>11.1f} {versus:>6} {peak}"
            )
    print("(flights: rows of the feature build; peak: DuckDB's dbt build child, max RSS)")
    for scale, (duck, spark) in results.items():
        print(
            f"Spark / DuckDB at {scale}x: dbt {spark.dbt_seconds / duck.dbt_seconds:.1f}x, "
            f"features {spark.feature_seconds / duck.feature_seconds:.1f}x"
        )
    if base is None:
        return
    for scale, engines in results.items():
        if scale == 1:
            continue
        for engine, figures, baseline in zip(ENGINES, engines, base, strict=True):
            ratio = sum_of(figures) / sum_of(baseline)
            verdict = "PASS" if ratio <= scale * LINEAR_TOLERANCE else "FAIL"
            print(f"target: {engine} {scale}x at most about {scale}x the 1x time: {verdict} ({ratio:.1f}x)")


def sum_of(figures: EngineFigures) -> float:
    return figures.dbt_seconds + figures.feature_seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.spark", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--scales", default="1,10", help="multiples of the bundled flights, e.g. 1,10")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="scratch folder")
    parser.add_argument("--keep", action="store_true", help="keep the generated landing zones")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return spark_child(args.child[0].resolve(), args.child[1].resolve())
    from lakehouse.platform.spark import java_available

    if not java_available():
        print("Spark needs Java 17 or later: no `java` on PATH and no JAVA_HOME")
        return 1
    workdir: Path = args.workdir.resolve()
    scales = sorted({1, *(int(part) for part in args.scales.split(",") if part.strip())})
    results: dict[int, tuple[EngineFigures, EngineFigures]] = {}
    for scale in scales:
        raw, origin = landing_zone(scale, workdir)
        print(f"... {scale}x ({origin}): DuckDB, then Spark", flush=True)
        results[scale] = (duckdb_figures(scale, raw, workdir), spark_figures(scale, raw, workdir))
        if scale != 1 and not args.keep:
            shutil.rmtree(raw)
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
