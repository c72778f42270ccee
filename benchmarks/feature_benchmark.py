"""How long the point-in-time feature build takes and how much memory it needs, by scale.

Uses the warehouses gate_benchmark.py builds and caches (1x = the bundled data, 10x and 100x =
synthetic copies of 2013), runs the feature build in a fresh process per scale with DuckDB writing
the result to Parquet (nothing pulled into Python), month by month (`write_features`, the default)
or in one pass over the whole year (`--whole`), and reads that process's peak memory from wait4().
Not run by the tests: timings are noisy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from build_benchmark import DEFAULT_WORKDIR, REPO_ROOT
from gate_benchmark import build

MIB = 1024**2


def child(warehouse: Path, output: Path, memory_limit: str, whole: bool, months: int | None) -> int:
    import duckdb

    from lakehouse.config import DEFAULT_HORIZON_MINUTES
    from lakehouse.models.features.build import monthly_windows, write_features
    from lakehouse.models.features.sql import feature_sql

    started = time.perf_counter()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set enable_progress_bar = false")
        connection.execute(f"set memory_limit = '{memory_limit}'")
        output.mkdir(parents=True, exist_ok=True)
        if whole:
            connection.execute(f"copy ({feature_sql(DEFAULT_HORIZON_MINUTES)}) to '{output / 'all.parquet'}'")
        elif months is None:
            finished = [time.perf_counter()]

            def done(_: Path) -> None:
                finished.append(time.perf_counter())

            write_features(connection, output, DEFAULT_HORIZON_MINUTES, on_month=done)
            # what a month costs early and late: it must not grow with the history before it
            seconds = [b - a for a, b in itertools.pairwise(finished)]
            tenth = max(len(seconds) // 10, 1)
            print(
                f"  {len(seconds)} months: the first {tenth} {sum(seconds[:tenth]) / tenth:.2f} s a month, "
                f"the last {tenth} {sum(seconds[-tenth:]) / tenth:.2f} s a month",
                file=sys.stderr,
            )
        else:
            # The first and the last months: what a month costs must not depend on what precedes it.
            windows = monthly_windows(connection)
            for part in (windows[:months], windows[-months:]):
                began = time.perf_counter()
                write_features(connection, output, DEFAULT_HORIZON_MINUTES, part)
                per_month = (time.perf_counter() - began) / len(part)
                print(
                    f"  {part[0][0]:%Y-%m} to {part[-1][0]:%Y-%m}: {per_month:.1f} s a month", file=sys.stderr
                )
        rows = connection.execute(f"select count(*) from read_parquet('{output}/*.parquet')").fetchall()[0][0]
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB's memory_limit for the build")
    parser.add_argument("--whole", action="store_true", help="one pass over the year, not month by month")
    parser.add_argument("--months", type=int, help="only the first and the last N months of each scale")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.memory_limit, args.whole, args.months)
    build_kind = "one pass" if args.whole else "month by month"
    print(f"\nfeature build, {build_kind}, DuckDB memory_limit {args.memory_limit}")
    print(f"{'scale':>5} {'flights':>12} {'seconds':>8} {'flights/s':>10} {'peak MiB':>9}")
    for scale in [int(s) for s in args.scales.split(",")]:
        _, warehouse = build(scale, args.workdir.resolve())
        output = warehouse.parent / "features"
        shutil.rmtree(output, ignore_errors=True)
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--memory-limit",
            args.memory_limit,
            *(["--whole"] if args.whole else []),
            *(["--months", str(args.months)] if args.months else []),
            "--child",
            str(warehouse),
            str(output),
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=REPO_ROOT)
        assert process.stdout is not None
        out = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            print(f"{scale:>4}x failed")
            continue
        figures = json.loads(out.decode().strip().splitlines()[-1])
        print(
            f"{scale:>4}x {figures['rows']:>12,} {figures['seconds']:8.1f} "
            f"{figures['rows'] / figures['seconds']:10,.0f} {usage.ru_maxrss * 1024 / MIB:9.0f}"
        )
        shutil.rmtree(output, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
