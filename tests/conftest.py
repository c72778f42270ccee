"""Shared fixtures. The real warehouse is built once per test session, into a temporary folder:
tests never touch data/warehouse.duckdb, so they can run while someone queries it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from lakehouse.config import paths
from lakehouse.dbt import run_dbt


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt build` of the whole project on the bundled raw data; returns the DuckDB file."""
    root = tmp_path_factory.mktemp("warehouse")
    warehouse = root / "warehouse.duckdb"
    run_dbt(
        ["build"],
        project_dir=paths().dbt_project,
        warehouse=warehouse,
        raw_dir=paths().raw,
        lake_dir=root / "lake",
        target_dir=root / "target",
    )
    return warehouse


@pytest.fixture(scope="session")
def lake_dir(built_warehouse: Path) -> Path:
    return built_warehouse.parent / "lake"


@pytest.fixture
def warehouse(built_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the session's warehouse."""
    connection = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        yield connection
    finally:
        connection.close()
