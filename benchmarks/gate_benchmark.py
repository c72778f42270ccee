"""How long the quality gate takes, and how it scales (`make bench-gate`).

For each scale (1 = the bundled data; 10, 100 = synthetic copies of 2013 from build_benchmark.py)
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
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from build_benchmark import BUNDLED_RAW, DEFAULT_WORKDIR, PROJECT_DIR, REPO_ROOT, generate_synthetic_raw

MIB = 1024**2
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


def project_digest() -> str:
    """A digest of everything dbt builds the warehouse from: a cached warehouse built by other
    models is rebuilt."""
    digest = hashlib.sha256()
    for path in sorted(PROJECT_DIR.rglob("*")):
        if path.is_file() and path.suffix in {".sql", ".yml", ".csv"} and "target" not in path.parts:
            digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build(scale: int, workdir: Path) -> tuple[Path, Path]:
    """The raw folder and the dbt-built warehouse of a scale (both cached, the warehouse while
    the dbt project is unchanged)."""
    from lakehouse.platform.dbt import run_dbt
    from lakehouse.quality.history import load_raw_files_into
    from lakehouse.quality.raw_files import declared_sources, inspect_raw_files

    raw = BUNDLED_RAW
    if scale > 1:
        raw = workdir / f"raw-{scale}x"
        generate_synthetic_raw(BUNDLED_RAW, raw, scale)
    root = workdir / f"gate-{scale}x"
    warehouse = root / "warehouse.duckdb"
    marker = root / ".built"
    digest = project_digest()
    if not marker.exists() or marker.read_text() != digest:
        print(f"building the {scale}x warehouse with dbt (cached for later runs) ...", flush=True)
        if root.exists():
            shutil.rmtree(root)
        run_dbt(
            # the prediction marts and their sources come with `lakehouse run`, not with a dbt build
            ["build", "--exclude", "resource_type:unit_test", "tag:ml"],
            project_dir=PROJECT_DIR,
            warehouse=warehouse,
            raw_dir=raw,
            lake_dir=root / "lake",
            target_dir=root / "target",
        )
        load_raw_files_into(warehouse, inspect_raw_files(raw, declared_sources()))
        marker.write_text(digest)
    return raw, warehouse


def gate_in_child(warehouse: Path) -> tuple[float, int, dict[str, object]]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child-gate", str(warehouse)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO_ROOT)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the gate child failed on {warehouse}")
    return wall, usage.ru_maxrss * 1024, json.loads(output.decode().strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10", help="comma-separated scales, e.g. 1,10,100")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--child-gate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_gate:
        return child_gate(args.child_gate)
    workdir: Path = args.workdir.resolve()
    scales = [int(s) for s in args.scales.split(",")]
    rows = []
    for scale in scales:
        _, warehouse = build(scale, workdir)
        wall, peak, figures = gate_in_child(warehouse)
        rows.append((scale, wall, peak, figures, warehouse.stat().st_size))
    print("\n== quality gate: every suite in expectations/, in a fresh process ==")
    print(
        f"{'scale':>5} {'warehouse MiB':>13} {'expectations':>12} {'wall s':>7} "
        f"{'GX import s':>11} {'suites s':>8} {'peak MiB':>8}"
    )
    for scale, wall, peak, figures, size in rows:
        print(
            f"{scale:>4}x {size / MIB:13.0f} {figures['expectations']:>12} {wall:7.1f} "
            f"{figures['import_s']:11.1f} {figures['suites_s']:8.1f} {peak / MIB:8.0f}"
        )
    for scale, _, _, figures, _ in rows:
        failed = figures["failed"]
        assert isinstance(failed, list)
        print(f"\n{scale}x: {len(failed)} failed expectations" + "".join(f"\n  {line}" for line in failed))
    if rows and rows[0][0] == 1:
        ok = rows[0][1] < BUNDLED_GATE_TARGET_S
        print(
            f"\ntarget: gate on the bundled data under {BUNDLED_GATE_TARGET_S:.0f} s: "
            f"{'ok' if ok else 'FAIL'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
