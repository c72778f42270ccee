"""How long the point-in-time feature build takes and how much memory it needs, by scale.

Uses the warehouses the gate benchmark builds and caches (benchmarks/runner.py; 1x = the bundled
data, 10x and 100x = synthetic copies of 2013), runs the feature build in a fresh process per scale
writing the result to Parquet, month by month (`write_features`, the default) or in one pass
over the whole data (`--whole`), and reads that
process's peak memory from wait4(). Not run by the tests: timings are noisy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from benchmarks.runner import DEFAULT_WORKDIR, MIB, cached_warehouse, run_child
from lakehouse.config import DEFAULT_HORIZON_MINUTES
from lakehouse.models.features.build import build_features, monthly_windows, write_features


def _write_whole(connection: duckdb.DuckDBPyConnection, output: Path) -> None:
    """The one-pass build over the whole warehouse, to one Parquet file."""
    build_features(connection, DEFAULT_HORIZON_MINUTES).write_parquet(output / "all.parquet")


def _write_by_month(connection: duckdb.DuckDBPyConnection, output: Path) -> None:
    """Every month, then what a month cost early and late: it must not grow with the history."""
    finished = [time.perf_counter()]

    def done(_: Path) -> None:
        finished.append(time.perf_counter())

    write_features(connection, output, DEFAULT_HORIZON_MINUTES, on_month=done)
    seconds = [b - a for a, b in itertools.pairwise(finished)]
    tenth = max(len(seconds) // 10, 1)
    print(
        f"  {len(seconds)} months: the first {tenth} {sum(seconds[:tenth]) / tenth:.2f} s a month, "
        f"the last {tenth} {sum(seconds[-tenth:]) / tenth:.2f} s a month",
        file=sys.stderr,
    )


def _write_first_and_last(connection: duckdb.DuckDBPyConnection, output: Path, months: int) -> None:
    """The first and the last months: what a month costs must not depend on what precedes it."""
    windows = monthly_windows(connection)
    for part in (windows[:months], windows[-months:]):
        began = time.perf_counter()
        write_features(connection, output, DEFAULT_HORIZON_MINUTES, part)
        per_month = (time.perf_counter() - began) / len(part)
        print(f"  {part[0][0]:%Y-%m} to {part[-1][0]:%Y-%m}: {per_month:.1f} s a month", file=sys.stderr)


def child(warehouse: Path, output: Path, memory_limit: str, whole: bool, months: int | None) -> int:
    """Entry point of the child: build the features into `output`, print the figures as JSON."""
    started = time.perf_counter()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set enable_progress_bar = false")
        connection.execute(f"set memory_limit = '{memory_limit}'")
        output.mkdir(parents=True, exist_ok=True)
        if whole:
            _write_whole(connection, output)
        elif months is None:
            _write_by_month(connection, output)
        else:
            _write_first_and_last(connection, output, months)
        rows = connection.execute(f"select count(*) from read_parquet('{output}/*.parquet')").fetchall()[0][0]
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))
    return 0


def features_in_child(scale: int, workdir: Path, args: argparse.Namespace) -> None:
    """Build one scale's features in a fresh process and print its row of the table."""
    warehouse = cached_warehouse(scale, workdir)
    output = warehouse.parent / "features"
    shutil.rmtree(output, ignore_errors=True)
    options = [
        "--memory-limit",
        args.memory_limit,
        *(["--whole"] if args.whole else []),
        *(["--months", str(args.months)] if args.months else []),
        "--child",
        str(warehouse),
        str(output),
    ]
    run = run_child("benchmarks.features", options)
    if run.exit_code != 0:
        print(f"{scale:>4}x failed")
        return
    figures = run.last_json()
    print(
        f"{scale:>4}x {figures['rows']:>12,} {figures['seconds']:8.1f} "
        f"{figures['rows'] / figures['seconds']:10,.0f} {run.peak_rss_bytes / MIB:9.0f}"
    )
    shutil.rmtree(output, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.features", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB's memory_limit for the build")
    parser.add_argument("--whole", action="store_true", help="one pass over the year, not month by month")
    parser.add_argument("--months", type=int, help="only the first and the last N months of each scale")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1], args.memory_limit, args.whole, args.months)
    build_kind = "one pass" if args.whole else "month by month"
    print(f"\nfeature build, {build_kind}, DuckDB memory_limit {args.memory_limit}")
    print(f"{'scale':>5} {'flights':>12} {'seconds':>8} {'flights/s':>10} {'peak MiB':>9}")
    for scale in [int(s) for s in args.scales.split(",")]:
        features_in_child(scale, args.workdir.resolve(), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
