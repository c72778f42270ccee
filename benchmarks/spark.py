"""The same dbt build and point-in-time features on DuckDB and on local Spark, by scale
(`make bench-spark`).

For each scale (1x = the bundled year; 10x = synthetic copies of 2013, benchmarks/synthetic.py),
in a fresh process per engine so that neither warms the other:
- DuckDB: `dbt build --selector core` (the pipeline's first build), then the features of all the
  data at the default horizon in one pass (the sort-based lookups), written to Parquet.
- Spark: the raw files landed as Parquet and the same `dbt build --target spark`
  (`lakehouse.platform.spark.build_on_spark`), then the same features on a Spark session of its
  own, written to Parquet by Spark (`spark_feature_query`: nothing is collected to the driver).

It prints each engine's seconds, Spark's ratio to DuckDB, seconds per million flights and each
scale's time against the 1x time (about linear: at most scale x 1.1). `--spark-features-scales`
limits the Spark feature build to some scales (it is the longest step). Peak memory is DuckDB's
only: Spark's runs in its own JVM, bounded by spark.driver.memory. A step that fails is reported
as such, and the others still run. Not run by the tests: timings are noisy.
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
    """One engine at one scale: its dbt build and its feature build, in seconds (None: not run, or
    failed, as `note` says)."""

    flights: int
    dbt_seconds: float | None
    feature_seconds: float | None
    peak_rss_bytes: int | None = None
    note: str = ""


def spark_child(raw: Path, root: Path, features: bool) -> int:
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
    figures: dict[str, float | int | str | None] = {"dbt": time.perf_counter() - started, "features": None}
    session = spark_session(folders, DBT_PROJECT_DIR)
    figures["flights"] = session.table("fct_flights").count()
    if features:
        began = time.perf_counter()
        try:
            output = str(root / "features")
            spark_feature_query(session, DEFAULT_HORIZON_MINUTES).write.mode("overwrite").parquet(output)
            figures["features"] = time.perf_counter() - began
        except Exception as error:  # the figure is reported as failed, with its cause
            figures["note"] = f"features failed after {time.perf_counter() - began:.0f} s: {str(error)[:200]}"
    session.stop()
    print(json.dumps(figures))
    return 0


def duckdb_figures(scale: int, raw: Path, workdir: Path) -> EngineFigures:
    """The dbt build in a child (benchmarks.runner), then the features in another (benchmarks.features)."""
    run = RunDir(workdir / f"spark-bench-duckdb-{scale}x")
    build = build_in_child(scale, raw, run, DBT_PROJECT_DIR)
    if not build.ok:
        return EngineFigures(
            build.flights, None, None, build.peak_rss_bytes, f"dbt {build.status}: {build.detail}"
        )
    output = run.root / "features"
    features = run_child("benchmarks.features", ["--whole", "--child", str(run.warehouse), str(output)])
    seconds = float(features.last_json()["seconds"]) if features.exit_code == 0 else None
    note = "" if seconds is not None else f"features: exit code {features.exit_code}"
    shutil.rmtree(run.root)
    return EngineFigures(build.flights, build.seconds, seconds, build.peak_rss_bytes, note)


def spark_figures(scale: int, raw: Path, workdir: Path, features: bool) -> EngineFigures:
    root = workdir / f"spark-bench-spark-{scale}x"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    args = ["--child", str(raw), str(root), *([] if features else ["--no-features"])]
    with (root / "child.stderr").open("wb") as errors:
        child = run_child("benchmarks.spark", args, stderr=errors)
    if child.exit_code != 0:
        return EngineFigures(0, None, None, note=f"exit code {child.exit_code}: see {root / 'child.stderr'}")
    figures = child.last_json()
    note = str(figures.get("note") or ("" if features else "features not run at this scale"))
    if figures.get("note"):
        print(f"    {note} (log: {root / 'child.stderr'})")
    else:
        shutil.rmtree(root)
    return EngineFigures(int(figures["flights"]), float(figures["dbt"]), figures["features"], note=note)


def _seconds(value: float | None) -> str:
    """n/a: not run or failed, as the row's note says."""
    return "n/a" if value is None else f"{value:.1f}"


def print_header() -> None:
    print("\n== dbt build (--selector core) and features (all the data, default horizon) by engine ==")
    print(
        f"{'scale':>5} {'engine':<7} {'flights':>11} {'dbt s':>8} {'s/M':>6} {'features s':>10} {'s/M':>6} "
        f"{'peak GiB':>8}  note"
    )


def print_row(scale: int, engine: str, figures: EngineFigures) -> None:
    def per_million(value: float | None) -> str:
        return (
            f"{value / (figures.flights / 1e6):6.1f}" if value is not None and figures.flights else "   n/a"
        )

    peak = f"{figures.peak_rss_bytes / GIB:8.2f}" if figures.peak_rss_bytes else f"{'(JVM)':>8}"
    print(
        f"{scale:>4}x {engine:<7} {figures.flights:>11,} {_seconds(figures.dbt_seconds):>8} "
        f"{per_million(figures.dbt_seconds)} {_seconds(figures.feature_seconds):>10} "
        f"{per_million(figures.feature_seconds)} {peak}  {figures.note}",
        flush=True,
    )


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a is not None and b else "n/a"


def print_summary(results: dict[int, tuple[EngineFigures, EngineFigures]]) -> None:
    """Spark against DuckDB at each scale, then each scale against 1x (about linear)."""
    print("(s/M: seconds per million flights; peak: DuckDB's dbt build child, max RSS)")
    for scale, (duck, spark) in results.items():
        print(
            f"Spark / DuckDB at {scale}x: dbt {_ratio(spark.dbt_seconds, duck.dbt_seconds)}, "
            f"features {_ratio(spark.feature_seconds, duck.feature_seconds)}"
        )
    base = results.get(1)
    if base is None:
        return
    for scale, engines in results.items():
        if scale == 1:
            continue
        for engine, figures, baseline in zip(ENGINES, engines, base, strict=True):
            for step, value, one in (
                ("dbt", figures.dbt_seconds, baseline.dbt_seconds),
                ("features", figures.feature_seconds, baseline.feature_seconds),
            ):
                if value is None or one is None:
                    continue
                ratio = value / one
                verdict = "PASS" if ratio <= scale * LINEAR_TOLERANCE else "FAIL"
                label = f"{engine} {step} {scale}x at most about {scale}x the 1x time"
                print(f"target: {label}: {verdict} ({ratio:.1f}x)")


def _scales(text: str) -> set[int]:
    return {int(part) for part in text.split(",") if part.strip()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.spark", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--scales", default="1,10", help="multiples of the bundled flights, e.g. 1,10")
    parser.add_argument(
        "--spark-features-scales", default=None, help="the scales of the Spark feature build (default: all)"
    )
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="scratch folder")
    parser.add_argument("--keep", action="store_true", help="keep the generated landing zones")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-features", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return spark_child(args.child[0].resolve(), args.child[1].resolve(), not args.no_features)
    from lakehouse.platform.spark import java_available

    if not java_available():
        print("Spark needs Java 17 or later: no `java` on PATH and no JAVA_HOME")
        return 1
    workdir: Path = args.workdir.resolve()
    scales = sorted({1, *_scales(args.scales)})
    with_features = _scales(args.spark_features_scales) if args.spark_features_scales else set(scales)
    results: dict[int, tuple[EngineFigures, EngineFigures]] = {}
    print_header()
    for scale in scales:
        raw, _ = landing_zone(scale, workdir)
        duck = duckdb_figures(scale, raw, workdir)
        print_row(scale, "duckdb", duck)
        spark = spark_figures(scale, raw, workdir, scale in with_features)
        print_row(scale, "spark", spark)
        results[scale] = (duck, spark)
        if scale != 1 and not args.keep:
            shutil.rmtree(raw)
    print_summary(results)
    return 0 if all(f.dbt_seconds is not None for pair in results.values() for f in pair) else 1


if __name__ == "__main__":
    sys.exit(main())
