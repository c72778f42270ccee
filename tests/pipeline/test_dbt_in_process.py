"""dbt runs in the caller's process on DuckDB: after each invocation the warehouse file is free
for another process to write, and the caller's environment and logging are as they were."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.config import paths
from lakehouse.platform.dbt import DbtError, run_dbt


def _seed(tmp_path: Path, *extra: str) -> None:
    run_dbt(
        ["seed", *extra],
        project_dir=paths().dbt_project,
        warehouse=tmp_path / "warehouse.duckdb",
        raw_dir=paths().raw,
        lake_dir=tmp_path / "lake",
        target_dir=tmp_path / "target",
    )


def test_after_dbt_another_process_can_write_the_warehouse(tmp_path: Path) -> None:
    handlers = logging.root.handlers[:]
    _seed(tmp_path)
    assert "LAKEHOUSE_WAREHOUSE" not in os.environ
    assert logging.root.handlers == handlers
    warehouse = tmp_path / "warehouse.duckdb"
    writer = f"import duckdb; duckdb.connect({str(warehouse)!r}).execute('create table t as select 1')"
    written = subprocess.run([sys.executable, "-c", writer], capture_output=True, text=True, check=False)
    assert written.returncode == 0, written.stderr
    # and dbt opens it again in this process
    _seed(tmp_path)


def test_dbt_that_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(DbtError, match="could not run") as failed:
        _seed(tmp_path, "--select", "no_such_seed", "--fail-fast", "--no-such-option")
    assert "no-such-option" in str(failed.value)
