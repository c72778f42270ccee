"""Shared fixtures. The real pipeline (landing-zone check, dbt build, quality gate, training with a
quick budget, scoring, prediction marts, publish) runs once per test session on the bundled raw
data, into a temporary data folder: tests never touch data/, so they can run while someone
queries the real warehouse."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from lakehouse.common.environment import environment_set
from lakehouse.config import paths
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.registry import RegistryEntry
from lakehouse.platform.pipeline import PipelineRun, run_pipeline

# With a worker per core, LightGBM on two threads would share its cores with the other worker's
# tests and wait at every barrier: each worker (and what it starts) trains on one.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("LAKEHOUSE_LIGHTGBM_THREADS", "1")


@contextmanager
def lakehouse_environment(data_dir: Path, raw_dir: Path, expectations: Path | None = None) -> Iterator[None]:
    """Point every path of the pipeline at `data_dir` (raw files from `raw_dir`, suites from
    `expectations` if given) for a while, and train with the quick budget."""
    variables = {
        "LAKEHOUSE_DATA_DIR": str(data_dir),
        "LAKEHOUSE_RAW_DIR": str(raw_dir),
        "LAKEHOUSE_DBT_TARGET_DIR": str(data_dir / "dbt_target"),
        "LAKEHOUSE_TRAINING_BUDGET": "quick",
        "LAKEHOUSE_EXPECTATIONS_DIR": str(expectations or paths().expectations),
    }
    with environment_set(variables):
        yield


def run_quietly(data_dir: Path, raw_dir: Path, expectations: Path | None = None) -> PipelineRun:
    """`lakehouse run` with every path under `data_dir`, its console output discarded."""
    with lakehouse_environment(data_dir, raw_dir, expectations), open(os.devnull, "w") as devnull:
        return run_pipeline(Console(file=devnull, width=200))


def built_once(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fails when a second xdist worker starts building the session fixture `name`: its tests
    were not kept on one worker (see `pytest_collection_modifyitems`)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # each worker's base folder is inside the session's
        marker = tmp_path_factory.getbasetemp().parent / f"{name}.built-by"
        try:
            with marker.open("x") as handle:
                handle.write(os.environ["PYTEST_XDIST_WORKER"])
        except FileExistsError:
            raise RuntimeError(f"{name} built twice in one session: its tests ran on two workers") from None


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """`make run` on the bundled raw data, into a temporary data folder (whose path holds a quote
    and a space, as a user's may: paths are written into SQL text)."""
    built_once("pipeline_run", tmp_path_factory)
    return run_quietly(tmp_path_factory.mktemp("o'hare data"), paths().raw)


# The session fixtures that cost minutes, each built once: with `pytest -n 2 --dist loadgroup`
# (make test) every test needing one runs on the worker that builds it; the rest spread out.
EXPENSIVE_FIXTURES = ("pipeline_run", "sample")


# before xdist's own hook, which reads the groups
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needed = [name for name in EXPENSIVE_FIXTURES if name in getattr(item, "fixturenames", ())]
        if len(needed) > 1:
            raise pytest.UsageError(f"{item.nodeid} needs both {needed}: each worker would build both")
        if needed:
            item.add_marker(pytest.mark.xdist_group(needed[0]))


@pytest.fixture(scope="session")
def built_warehouse(pipeline_run: PipelineRun) -> Path:
    """The warehouse the session's pipeline run published."""
    return pipeline_run.paths.warehouse


@pytest.fixture(scope="session")
def lake_dir(pipeline_run: PipelineRun) -> Path:
    return pipeline_run.paths.lake


@pytest.fixture
def warehouse(built_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the session's warehouse."""
    connection = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


# Grow by one run per run, by design (the quality history).
HISTORY_TABLES = {"quality.validation_results", "quality.pipeline_runs"}


def table_checksums(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of every row, per table and view."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables order by 1"
        ).fetchall()
        return {
            name: connection.execute(f"select count(*), sum(hash(t)::hugeint) from {name} as t").fetchone()  # type: ignore[misc]
            for (name,) in tables
            if name not in HISTORY_TABLES
        }


def lake_digests(lake: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(lake.glob("*.parquet"))}


@dataclass(frozen=True)
class SampleFiles:
    raw: Path
    expectations: Path


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> SampleFiles:
    """Raw files with every 20th flight (every month, all other sources whole) and the suites with
    their monthly volume bounds lowered to match. Cheap: each worker makes its own."""
    root = tmp_path_factory.mktemp("o'hare sample-files")
    raw = root / "raw"
    shutil.copytree(paths().raw, raw)
    for path in sorted(raw.glob("flights/*/*.csv.gz")):
        with gzip.open(path, "rt") as handle:
            header, *rows = handle.read().splitlines()
        path.write_bytes(gzip.compress(("\n".join([header, *rows[::20]]) + "\n").encode(), mtime=0))
    expectations = root / "expectations"
    shutil.copytree(paths().expectations, expectations)
    volume = expectations / "stg_nycflights__flights.yml"
    volume.write_text(volume.read_text().replace("not between 20000 and 35000", "not between 1000 and 1750"))
    return SampleFiles(raw=raw, expectations=expectations)


@dataclass(frozen=True)
class Sample:
    raw: Path
    data: Path
    expectations: Path
    first: PipelineRun
    # what the first run published (its files are replaced by the second run's)
    first_version: str
    first_checksums: dict[str, tuple[int, int]]
    first_lake: dict[str, str]
    second: PipelineRun


@pytest.fixture(scope="session")
def sample(sample_files: SampleFiles, tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A first pipeline run on the sample's files (it trains) and a second (it reuses the
    champions): for the tests that need many runs."""
    built_once("sample", tmp_path_factory)
    root = tmp_path_factory.mktemp("sample")
    raw, expectations = sample_files.raw, sample_files.expectations
    first = run_quietly(root / "data", raw, expectations)
    return Sample(
        raw=raw,
        data=root / "data",
        expectations=expectations,
        first=first,
        first_version=first.paths.current.resolve().name,
        first_checksums=table_checksums(first.paths.warehouse),
        first_lake=lake_digests(first.paths.lake),
        second=run_quietly(root / "data", raw, expectations),
    )


@pytest.fixture
def broken_input_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same folder for every broken input, emptied but for dbt's artifacts: dbt parses the
    project once for these paths and keeps the parse for the next case (partial parsing)."""
    folder = tmp_path_factory.getbasetemp() / "broken-input"
    shutil.rmtree(folder / "raw", ignore_errors=True)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for path in (folder / "data").iterdir():
        if path.is_dir() and not path.is_symlink():
            if path.name != "dbt_target":
                shutil.rmtree(path)
        else:
            path.unlink()
    return folder


CHROMIUM = shutil.which("chromium")


def headless_chromium(*arguments: str, timeout: float = 120) -> str:
    """Headless Chromium (Debian's `chromium`, which `.ci/run` installs) with `arguments`: offline,
    no first-run or background traffic, a fresh profile; works as root. Returns what it printed."""
    assert CHROMIUM, "chromium is not installed (apt-get install -y chromium)"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *arguments,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=timeout,
        ).stdout


def chromium_screenshot(page: Path, screenshot: Path, width: int, height: int) -> None:
    """A screenshot of the page at `page` (a file), `width` x `height`."""
    headless_chromium(f"--screenshot={screenshot}", f"--window-size={width},{height}", page.as_uri())


def registry_entry(run_id: str, task: str, artifact: Path, hours: int) -> RegistryEntry:
    """A registry entry of a model of `task` saved in `artifact`, created `hours` into 2026."""
    return RegistryEntry(
        model_id=f"{run_id}-{task}",
        run_id=run_id,
        task=task,
        model_name="lightgbm",
        horizon_minutes=120,
        created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours),
        artifact_dir=str(artifact),
        features=",".join(FEATURES.all),
        params="{}",
        threshold=0.3,
        data_fingerprint="data",
        code_version="test",
        training_signature="code",
        train_start_date=date(2013, 1, 1),
        train_end_date=date(2013, 9, 30),
        validation_start_date=date(2013, 10, 1),
        validation_end_date=date(2013, 11, 30),
        validation_metric="roc_auc",
        validation_value=0.7,
        test_value=0.7,
        champion_model_id=None,
        champion_validation_value=None,
        is_promoted=True,
        decision_reason="test",
        report_path="",
        training_data_fingerprint="train-data",
    )
