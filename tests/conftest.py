"""Shared fixtures. The real pipeline (landing-zone check, dbt build, quality gate, training with a
quick budget, scoring, prediction marts, publish) runs once per test session on the bundled raw
data, into a temporary data folder: tests never touch data/, so they can run while someone
queries the real warehouse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from lakehouse.config import paths
from lakehouse.pipeline import PipelineRun, run_pipeline


@contextmanager
def lakehouse_environment(data_dir: Path, raw_dir: Path) -> Iterator[None]:
    """Point every path of the pipeline at `data_dir` (raw files from `raw_dir`) for a while, and
    train with the quick budget."""
    variables = {
        "LAKEHOUSE_DATA_DIR": str(data_dir),
        "LAKEHOUSE_RAW_DIR": str(raw_dir),
        "LAKEHOUSE_DBT_TARGET_DIR": str(data_dir / "dbt_target"),
        "LAKEHOUSE_TRAINING_BUDGET": "quick",
    }
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_quietly(data_dir: Path, raw_dir: Path) -> PipelineRun:
    """`lakehouse run` with every path under `data_dir`, its console output discarded."""
    with lakehouse_environment(data_dir, raw_dir), open(os.devnull, "w") as devnull:
        return run_pipeline(Console(file=devnull, width=200))


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """`make run` on the bundled raw data, into a temporary data folder."""
    return run_quietly(tmp_path_factory.mktemp("data"), paths().raw)


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
