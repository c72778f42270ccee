"""How long the dbt build takes, what dbt itself costs, and how the build scales (`make bench`).

1. dbt's overhead: the bundled data is built with `dbt build`, then the SQL dbt executed (read back
   from its artifacts) is replayed with the DuckDB Python API alone on a fresh database. The gap
   is what dbt adds: parsing, compiling, introspection queries, renames, transactions.
2. Scaling: synthetic landing zones holding 10x and 100x the bundled flights (copy k of the 2013
   data moved to the year 2013 + k, see SOURCE_YEAR in benchmarks/synthetic.py) are built in a
   child process each, so that each build's peak memory can be read.

Nothing here touches data/warehouse.duckdb, data/lake or dbt_project/target: every build writes its
warehouse, lake, dbt artifacts and logs under --workdir. Not run by the tests: timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from benchmarks.dbt_replay import ReplayResult, replay
from benchmarks.runner import (
    BUNDLED_RAW,
    DEFAULT_WORKDIR,
    GIB,
    BuildResult,
    RunDir,
    build_in_child,
    child_build,
    rebuild,
    synthetic_raw_dir,
)
from benchmarks.synthetic import generate_synthetic_raw
from lakehouse.config import DBT_PROJECT_DIR, paths

# Targets (informational: a miss prints FAIL but the benchmark still succeeds).
BUNDLED_BUILD_TARGET_S = 15.0
# dbt's build of the bundled data at most this many times DuckDB running the same SQL alone
DBT_RATIO_TARGET = 2.0
MEMORY_TARGET_GIB = 24.0
# "About linear": a scale may take up to this factor more than scale x the 1x time.
LINEAR_TOLERANCE = 1.1


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _short(unique_id: str, width: int = 52) -> str:
    """`model fct_flights`, `test unique_...` (hash dropped), `unit_test <name>`, cut to width."""
    kind, _, name = unique_id.split(".", 2)
    if kind == "test":
        name = name.rsplit(".", 1)[0]
    elif kind == "unit_test":
        name = name.split(".", 1)[1]
    label = f"{kind} {name}"
    return label if len(label) <= width else label[: width - 3] + "..."


def print_overhead(build: BuildResult, run: RunDir, result: ReplayResult) -> None:
    """dbt's build time beside DuckDB's time for the same SQL, and the slowest nodes."""
    run_results = json.loads((run.target / "run_results.json").read_text())
    node_total = sum(float(r["execution_time"]) for r in run_results["results"])
    print("\n== 1. dbt overhead on the bundled data (336,776 flights) ==")
    print(f"dbt build, wall (run_dbt: start-up, parse, compile, run)   {build.seconds:8.2f} s")
    print(f"  of which run_results elapsed_time (after parsing)        {run_results['elapsed_time']:8.2f} s")
    print(f"  sum of node execution times (2 dbt threads overlap)      {node_total:8.2f} s")
    print(f"DuckDB alone, same SQL in order, one connection            {result.seconds:8.2f} s")
    ratio = build.seconds / result.seconds
    print(f"ratio dbt / DuckDB                                         {ratio:8.2f} x")
    print(
        f"dbt's overhead                                             {build.seconds - result.seconds:8.2f} s"
    )
    if not build.ok:
        print(f"WARNING: dbt reported failures, so the figures cover a partial build:\n  {build.detail}")
    replayed = len(result.node_seconds)
    print(f"replayed {replayed} nodes and {result.post_hooks} post-hooks (lake COPY, read from dbt.log)")
    if result.skipped:
        print(f"not replayed (no run file, or dbt did not run them): {result.skipped}")
    for failure in result.failing_tests:
        print(f"  replayed test failed: {failure}")
    print(f"\n{'slowest nodes (run_results.json)':<54} {'dbt s':>7} {'DuckDB alone s':>14}")
    slowest = sorted(run_results["results"], key=lambda r: -float(r["execution_time"]))[:5]
    for node in slowest:
        alone = result.node_seconds.get(node["unique_id"], float("nan"))
        print(f"  {_short(node['unique_id']):<52} {float(node['execution_time']):7.2f} {alone:14.2f}")
    target = build.seconds < BUNDLED_BUILD_TARGET_S
    verdict = _verdict(target)
    print(f"target: bundled build under {BUNDLED_BUILD_TARGET_S:.0f} s: {verdict} ({build.seconds:.1f} s)")


def print_ratio_targets(build: BuildResult, again: float, loaded: float, result: ReplayResult) -> None:
    """dbt against DuckDB alone, with a fresh parse (a first run), with the parse kept (every
    later pipeline run keeps dbt's target folder and paths), and with dbt already loaded in the
    process (a run's second build: dbt runs in the pipeline's process)."""
    print(f"dbt build again, parse kept (the pipeline's later runs)   {again:8.2f} s")
    print(f"ratio dbt / DuckDB, parse kept                             {again / result.seconds:8.2f} x")
    print(f"dbt build again, dbt already loaded in the process        {loaded:8.2f} s")
    print(f"ratio dbt / DuckDB, dbt already loaded                     {loaded / result.seconds:8.2f} x")
    for label, seconds in (("fresh parse", build.seconds), ("parse kept", again)):
        ratio = seconds / result.seconds
        verdict = _verdict(ratio <= DBT_RATIO_TARGET)
        print(f"target: dbt within {DBT_RATIO_TARGET:g}x DuckDB alone, {label}: {verdict} ({ratio:.2f}x)")


def print_scaling(results: list[BuildResult], generation: dict[int, str]) -> None:
    """One row per scale, the quarantine counts, then the targets."""
    base = next((r for r in results if r.scale == 1 and r.completed), None)
    print("\n== 2. Scaling (synthetic copies of 2013, shifted by whole weeks to 2013 + k) ==")
    header = f"{'scale':>5} {'flights':>12} {'build s':>9} {'s/M flights':>11} {'peak GiB':>9} {'vs 1x':>7}"
    print(header + f" {'warehouse GiB':>13}  {'status':<12}  data")
    for r in results:
        ratio = f"{r.seconds / base.seconds:6.1f}x" if base else "    n/a"
        per_million = r.seconds / (r.flights / 1e6) if r.flights else float("nan")
        peak, size = r.peak_rss_bytes / GIB, r.warehouse_bytes / GIB
        print(
            f"{r.scale:>4}x {r.flights:>12,} {r.seconds:>9.1f} {per_million:>11.1f} "
            f"{peak:>9.2f} {ratio:>7} {size:>13.2f}  {r.status:<12}  {generation[r.scale]}"
        )
    print("(flights: staged rows; build s: dbt invoke inside the child; peak: the child's max RSS)")
    print("quarantined rows per source (expect scale x the 1x counts):")
    for r in results:
        counts = ", ".join(f"{name} {count:,}" for name, count in r.quarantined.items()) or "none"
        print(f"  {r.scale:>4}x: {counts if r.completed else 'n/a'}")
    for r in results:
        if not r.ok:
            print(f"  {r.scale}x {r.status}: {r.detail}")
    _print_scaling_targets(results, base)


def _print_scaling_targets(results: list[BuildResult], base: BuildResult | None) -> None:
    """A build that did not finish passes no target: its time and peak cover part of the work."""
    for r in results:
        if r.scale == 1:
            continue
        peak = r.peak_rss_bytes / GIB
        memory = _verdict(r.ok and peak <= MEMORY_TARGET_GIB)
        unfinished = "" if r.ok else f", build {r.status}"
        print(f"target: {r.scale}x within {MEMORY_TARGET_GIB:.0f} GiB: {memory} ({peak:.2f} GiB{unfinished})")
        if base:
            ratio = r.seconds / base.seconds
            linear = _verdict(r.ok and ratio <= r.scale * LINEAR_TOLERANCE)
            label = f"{r.scale}x time at most about {r.scale}x the 1x time"
            print(f"target: {label}: {linear} ({ratio:.1f}x{unfinished})")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _scales(text: str) -> list[int]:
    values = sorted({int(part) for part in text.split(",") if part.strip()})
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("scales are positive integers, e.g. 1,10,100")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scales", type=_scales, default=[1, 10, 100], help="multiples of the bundled flights"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated landing zones for the next run"
    )
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="scratch folder")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=DBT_PROJECT_DIR,
        help="dbt project to build (default: the repository's); e.g. a patched copy to try a change",
    )
    parser.add_argument("--child-raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-run", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


@contextmanager
def _timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    print(f"... {label}", flush=True)
    yield
    print(f"    done in {time.perf_counter() - started:.1f} s", flush=True)


def landing_zone(scale: int, workdir: Path) -> tuple[Path, str]:
    """The raw folder for a scale, generated unless cached; and how it was obtained."""
    if scale == 1:
        return BUNDLED_RAW, "bundled"
    raw = synthetic_raw_dir(scale, workdir)
    started = time.perf_counter()
    with _timed(f"synthetic landing zone {scale}x in {raw}"):
        generated = generate_synthetic_raw(BUNDLED_RAW, raw, scale)
    return raw, (f"generated in {time.perf_counter() - started:.0f} s" if generated else "cached")


def run_scale(scale: int, workdir: Path, project_dir: Path, keep: bool) -> tuple[BuildResult, str]:
    """Land (or reuse) one scale's data and build it; at 1x also measure dbt's overhead."""
    raw, origin = landing_zone(scale, workdir)
    run = RunDir(workdir / f"run-{scale}x")
    with _timed(f"dbt build {scale}x in a child process"):
        result = build_in_child(scale, raw, run, project_dir)
    if scale == 1 and result.completed:
        with _timed("replaying the 1x build's SQL with DuckDB alone"):
            replayed = replay(run, workdir / "replay-1x", project_dir)
        print_overhead(result, run, replayed)
        shutil.rmtree(workdir / "replay-1x")
        with _timed("the same dbt build again, its parse kept"):
            again = rebuild(raw, run, project_dir)
        with _timed("and once more in this process, dbt already loaded"):
            loaded = rebuild(raw, run, project_dir)
        print_ratio_targets(result, again, loaded, replayed)
    if result.ok:
        shutil.rmtree(run.root)
    else:
        print(f"    {result.status}: kept {run.root} (dbt.log under target/logs) for diagnosis")
    if not keep and scale != 1:
        shutil.rmtree(raw)
    return result, origin


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    project_dir: Path = args.project_dir.resolve()
    if args.child_raw and args.child_run:
        return child_build(args.child_raw, RunDir(args.child_run), project_dir)
    workdir: Path = args.workdir.resolve()
    scales: list[int] = sorted({1, *args.scales})  # 1x is the baseline of every ratio
    print(f"project {project_dir}; workdir {workdir}; scales {scales}")
    print(f"DuckDB {duckdb.__version__}; {os.cpu_count()} cores; {_total_memory_gib():.1f} GiB RAM")
    results: list[BuildResult] = []
    generation: dict[int, str] = {}
    for scale in scales:
        result, generation[scale] = run_scale(scale, workdir, project_dir, args.keep)
        results.append(result)
    print_scaling(results, generation)
    print_pipeline_steps(paths().warehouse)
    return 0 if all(r.ok for r in results) else 1


def print_pipeline_steps(warehouse: Path) -> None:
    """The step times of the run that published `warehouse` (quality.pipeline_runs), read-only."""
    print("\n== 3. The pipeline's steps, as the published run timed them (quality.pipeline_runs) ==")
    if not warehouse.exists():
        print(f"no published warehouse at {warehouse}: run `make run` first")
        return
    with duckdb.connect(str(warehouse), read_only=True) as con:
        try:
            row = con.execute(
                "select run_id, step_seconds from quality.pipeline_runs where outcome = 'published' "
                "and step_seconds is not null order by run_started_at desc limit 1"
            ).fetchone()
        except duckdb.Error:
            row = None
    if not row or not row[1]:
        print("the published run recorded no step times (published before they were recorded)")
        return
    run_id, steps = row
    print(f"run {run_id}")
    for step in steps:
        print(f"  {step['step']:<14} {step['seconds']:8.1f} s")
    total = sum(step["seconds"] for step in steps)
    print(f"  {'total':<14} {total:8.1f} s  (then publish, about 0.1 s)")


def _total_memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB


if __name__ == "__main__":
    sys.exit(main())
