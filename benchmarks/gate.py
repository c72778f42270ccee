"""How long the quality gate takes, and how it scales (`make bench-gate`).

For each scale (1 = the bundled data; 10, 100 = synthetic copies of 2013, benchmarks/synthetic.py)
the warehouse is built once with dbt (cached under --workdir), the landing-zone manifest is loaded
into it as the pipeline does, and then every Great Expectations suite in expectations/ runs in a
fresh child process, timed, with that process's peak memory read from wait4(). The GX import is
timed apart: it is a fixed cost (about 2-3 s) paid once per run.

The synthetic years are copies of 2013, so expectations tied to 2013 (monthly temperature
means, holiday seeds that stop in 2014) may fail there: the figures that matter are time and
memory; failures are listed for information. Not run by the tests: timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.runner import DEFAULT_WORKDIR, MIB, cached_warehouse, run_child

# The bar: the gate over all suites on the bundled data takes seconds, not minutes.
BUNDLED_GATE_TARGET_S = 15.0


def child_gate(warehouse: Path) -> int:
    """Entry point of the child: import GX, run every suite, print the figures as JSON."""
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (timed on its own: a fixed cost)

    imported = time.perf_counter()
    from lakehouse.config import paths
    from lakehouse.quality.suites import load_suites, run_suites

    results = run_suites(warehouse, load_suites(paths().expectations))
    finished = time.perf_counter()
    failed = [f"{r.severity}: {r.message()[:160]}" for r in results if not r.success]
    print(
        json.dumps(
            {
                "import_s": imported - started,
                "suites_s": finished - imported,
                "expectations": len(results),
                "failed": failed,
            }
        )
    )
    return 0


@dataclass(frozen=True)
class GateRun:
    """One scale's gate: the child's wall time and peak, its figures, the warehouse's size."""

    scale: int
    seconds: float
    peak_rss_bytes: int
    figures: dict[str, Any]
    warehouse_bytes: int


def gate_in_child(scale: int, warehouse: Path) -> GateRun:
    child = run_child("benchmarks.gate", ["--child-gate", str(warehouse)], stderr=subprocess.DEVNULL)
    if child.exit_code != 0:
        raise RuntimeError(f"the gate child failed on {warehouse}")
    return GateRun(scale, child.seconds, child.peak_rss_bytes, child.last_json(), warehouse.stat().st_size)


def print_gate(rows: list[GateRun]) -> None:
    """One row per scale, the failed expectations of each, then the target."""
    print("\n== quality gate: every suite in expectations/, in a fresh process ==")
    print(
        f"{'scale':>5} {'warehouse MiB':>13} {'expectations':>12} {'wall s':>7} "
        f"{'GX import s':>11} {'suites s':>8} {'peak MiB':>8}"
    )
    for row in rows:
        figures = row.figures
        print(
            f"{row.scale:>4}x {row.warehouse_bytes / MIB:13.0f} {figures['expectations']:>12} "
            f"{row.seconds:7.1f} {figures['import_s']:11.1f} {figures['suites_s']:8.1f} "
            f"{row.peak_rss_bytes / MIB:8.0f}"
        )
    for row in rows:
        failed = row.figures["failed"]
        assert isinstance(failed, list)
        listed = "".join(f"\n  {line}" for line in failed)
        print(f"\n{row.scale}x: {len(failed)} failed expectations{listed}")
    if rows and rows[0].scale == 1:
        ok = rows[0].seconds < BUNDLED_GATE_TARGET_S
        print(
            f"\ntarget: gate on the bundled data under {BUNDLED_GATE_TARGET_S:.0f} s: "
            f"{'ok' if ok else 'FAIL'}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gate", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--scales", default="1,10", help="comma-separated scales, e.g. 1,10,100")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--child-gate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_gate:
        return child_gate(args.child_gate)
    workdir: Path = args.workdir.resolve()
    scales = [int(s) for s in args.scales.split(",")]
    rows = [gate_in_child(scale, cached_warehouse(scale, workdir)) for scale in scales]
    print_gate(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
