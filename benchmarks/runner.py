"""Running a benchmark's work in a child process, and the scratch folder it works in.

Each measured piece of work (a dbt build, the quality gate, the feature build) runs in a fresh
Python process, `python -m benchmarks.<name>` with a hidden option, so that its peak memory can be
read from wait4(): that one child's rusage (RUSAGE_CHILDREN would be the maximum over every child
so far). Linux folds the peaks of the processes the child waited for into it, so ru_maxrss also
covers a dbt (and DuckDB) process that run_dbt starts and waits for. Linux also starts a new
process's peak from the peak of the process it was spawned from, so a benchmark that has grown
(a warehouse built in its own process) would lend its peak to every child: each child is spawned
by a small Python process of a few MB (`SPAWNER`), which reports the child's wait4() figure.

Everything is written under a work folder (--workdir): the synthetic landing zones (`raw-<k>x`,
kept for the next run), a build's run folder (`run-<k>x`), the cached warehouses the gate and
feature benchmarks measure (`gate-<k>x`). Nothing touches data/ or dbt_project/target.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb

from benchmarks.synthetic import generate_synthetic_raw
from lakehouse.config import DBT_PROJECT_DIR, REPO_ROOT

BUNDLED_RAW = REPO_ROOT / "data" / "raw"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "lakehouse-bench"
MIB = 1024**2
GIB = 1024**3


# --------------------------------------------------------------------------------------------
# A child process, timed, with its peak memory
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    exit_code: int
    seconds: float  # wall time, from the start to wait4's return
    peak_rss_bytes: int
    output: bytes  # the child's stdout when it was piped

    def last_json(self) -> dict[str, Any]:
        """The JSON object the child printed last on its stdout (its figures)."""
        figures: dict[str, Any] = json.loads(self.output.decode().strip().splitlines()[-1])
        return figures


# Runs argv[2:], writes its wait4() peak (KiB) to the file argv[1], exits as it did.
SPAWNER = """
import os, signal, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as peak:
    peak.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def run_child(
    module: str,
    args: Sequence[str],
    *,
    stdout: int | IO[bytes] | None = subprocess.PIPE,
    stderr: int | IO[bytes] | None = None,
) -> ChildRun:
    """`python -m <module> <args>` from the repository root, spawned by `SPAWNER`, which waits for
    it with wait4()."""
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder) / "peak"
        command = [sys.executable, "-c", SPAWNER, str(peak), sys.executable, "-m", module, *args]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=REPO_ROOT)
        output = process.stdout.read() if process.stdout is not None else b""
        exit_code = process.wait()
        wall = time.perf_counter() - started
        peak_kib = int(peak.read_text()) if peak.exists() else 0
    return ChildRun(exit_code, wall, peak_kib * 1024, output)  # KiB on Linux


# --------------------------------------------------------------------------------------------
# One dbt build in a child process (the build benchmark)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunDir:
    """Everything one build writes: warehouse, lake, dbt artifacts and logs."""

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def target(self) -> Path:
        return self.root / "target"

    @property
    def logs(self) -> Path:
        """Where lakehouse.platform.dbt.run_dbt puts dbt's log when given a target folder."""
        return self.target / "logs"

    @property
    def child_output(self) -> Path:
        return self.root / "child.json"

    @property
    def child_errors(self) -> Path:
        return self.root / "child.stderr"


def child_build(raw: Path, run: RunDir, project_dir: Path) -> int:
    """Entry point of the child (`python -m benchmarks.build --child-raw ... --child-run ...`):
    `dbt build` through the project's own runner, timed.

    dbt's artifacts and log go to the run folder (not dbt_project/target), so concurrent builds in
    the repository are not disturbed and the replay reads exactly this build's SQL.
    """
    from lakehouse.platform.dbt import DbtError, run_dbt

    # The replay reads every statement from the debug log (dbt's default file level; made explicit).
    # The pipeline's first build (dbt_project/selectors.yml): the prediction marts come after scoring.
    args = ["build", "--selector", "core", "--log-level-file", "debug"]
    started = time.perf_counter()
    try:
        summary = run_dbt(
            args,
            project_dir=project_dir,
            warehouse=run.warehouse,
            raw_dir=raw,
            lake_dir=run.lake,
            target_dir=run.target,
        )
    except DbtError as error:
        report = {"ok": False, "seconds": time.perf_counter() - started, "detail": str(error)}
        run.child_output.write_text(json.dumps(report))
        return 1
    report = {"ok": True, "seconds": time.perf_counter() - started, "detail": summary.describe()}
    run.child_output.write_text(json.dumps(report))
    return 0


def rebuild(raw: Path, run: RunDir, project_dir: Path) -> float:
    """The same `dbt build` again in the same folders: dbt reuses its parse (partial parsing, kept
    in the target folder), as the pipeline's later runs do. Its wall time in seconds."""
    from lakehouse.platform.dbt import run_dbt

    started = time.perf_counter()
    run_dbt(
        ["build", "--selector", "core"],
        project_dir=project_dir,
        warehouse=run.warehouse,
        raw_dir=raw,
        lake_dir=run.lake,
        target_dir=run.target,
    )
    return time.perf_counter() - started


@dataclass
class BuildResult:
    scale: int
    ok: bool
    seconds: float
    peak_rss_bytes: int
    detail: str
    completed: bool = False
    flights: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    warehouse_bytes: int = 0

    @property
    def status(self) -> str:
        """ok; dbt failures (every node ran or was skipped, some failed); or crashed (no results)."""
        if self.ok:
            return "ok"
        return "dbt failures" if self.completed else "crashed"


def build_in_child(scale: int, raw: Path, run: RunDir, project_dir: Path) -> BuildResult:
    """Run the build in a fresh Python process (`child_build`) and read its own peak RSS."""
    if run.root.exists():
        shutil.rmtree(run.root)
    run.root.mkdir(parents=True)
    args = ["--child-raw", str(raw), "--child-run", str(run.root), "--project-dir", str(project_dir)]
    with run.child_errors.open("wb") as errors:
        child = run_child("benchmarks.build", args, stdout=errors, stderr=errors)
    if run.child_output.exists():
        report = json.loads(run.child_output.read_text())
    else:
        tail = run.child_errors.read_text(errors="replace")[-2000:]
        report = {"ok": False, "seconds": child.seconds, "detail": f"exit code {child.exit_code}: {tail}"}
    result = BuildResult(
        scale, bool(report["ok"]), float(report["seconds"]), child.peak_rss_bytes, str(report["detail"])
    )
    result.completed = (run.target / "run_results.json").exists() and "could not run" not in result.detail
    _read_warehouse_figures(run, result)
    return result


def _read_warehouse_figures(run: RunDir, result: BuildResult) -> None:
    """Flights staged and rows quarantined per source, as far as the build got (a failed node
    makes dbt skip everything downstream, so a table may be missing: its figure stays 0)."""
    if not run.warehouse.exists():
        return
    result.warehouse_bytes = run.warehouse.stat().st_size
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        try:
            flights = con.execute("select count(*) from main.stg_nycflights__flights").fetchall()
            result.flights = int(flights[0][0])
            rejected = con.execute(
                "select source_name, count(*) from quarantine.rejected_rows group by 1 order by 1"
            ).fetchall()
            result.quarantined = {str(name): int(count) for name, count in rejected}
        except duckdb.CatalogException:
            pass


# --------------------------------------------------------------------------------------------
# The work folder: synthetic landing zones and cached warehouses
# --------------------------------------------------------------------------------------------


def synthetic_raw_dir(scale: int, workdir: Path) -> Path:
    """Where the landing zone of a synthetic scale is generated and cached."""
    return workdir / f"raw-{scale}x"


def project_digest(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A digest of everything dbt builds the warehouse from: a cached warehouse built by other
    models is rebuilt."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        if path.is_file() and path.suffix in {".sql", ".yml", ".csv"} and "target" not in path.parts:
            digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cached_warehouse(scale: int, workdir: Path) -> Path:
    """The dbt-built warehouse of a scale, with the landing-zone manifest loaded into it as the
    pipeline does (the gate and feature benchmarks measure it). Cached with its landing zone, the
    warehouse while the dbt project is unchanged."""
    from lakehouse.platform.dbt import run_dbt
    from lakehouse.quality.history import load_raw_files_into
    from lakehouse.quality.raw_files import declared_sources, inspect_raw_files

    raw = BUNDLED_RAW
    if scale > 1:
        raw = synthetic_raw_dir(scale, workdir)
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
            ["build", "--selector", "core"],
            project_dir=DBT_PROJECT_DIR,
            warehouse=warehouse,
            raw_dir=raw,
            lake_dir=root / "lake",
            target_dir=root / "target",
        )
        load_raw_files_into(warehouse, inspect_raw_files(raw, declared_sources()))
        marker.write_text(digest)
    return warehouse
