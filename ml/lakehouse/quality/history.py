"""The quality gate's memory.

Each validation run appends one Parquet file to `data/quality/validation_results/` (written whole,
then renamed: a crash leaves no partial file). That folder is the history: it needs no lock, so
recording a failed run never waits for a reader of the published warehouse. Before a build is
published, the whole history is loaded into the build's `quality.validation_results`, so the
published warehouse carries every run up to its own, failed runs included. A refused build keeps
its table in `data/build/warehouse.duckdb`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from lakehouse.common.files import write_parquet_atomically
from lakehouse.quality.gate import ValidationRun
from lakehouse.quality.raw_files import RawFile

RESULT_SCHEMA = pl.Schema(
    {
        "run_id": pl.String(),
        "run_started_at": pl.Datetime("us", "UTC"),
        "target": pl.String(),
        "suite": pl.String(),
        "table_name": pl.String(),
        "expectation": pl.String(),
        "column_name": pl.String(),
        "severity": pl.String(),
        "success": pl.Boolean(),
        "expected": pl.String(),
        "observed_value": pl.String(),
        "unexpected_count": pl.Int64(),
        "unexpected_sample": pl.String(),
        "why": pl.String(),
    }
)
# The critical failures a gate message lists before it says "and n more".


def results_frame(run: ValidationRun) -> pl.DataFrame:
    rows = [
        {"run_id": run.run_id, "run_started_at": run.started_at, "target": run.target, **r.as_row()}
        for r in run.results
    ]
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def save_run(run: ValidationRun, history: Path) -> Path:
    """Append the run to the history folder; the file appears whole or not at all."""
    return write_parquet_atomically(results_frame(run), history / f"{run.run_id}.parquet")


def history_glob(history: Path) -> str:
    return str(history / "*.parquet")


def load_history_into(warehouse: Path, history: Path) -> None:
    """(Re)create quality.validation_results in `warehouse` from every recorded run."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists quality")
        connection.execute(
            "create or replace table quality.validation_results as "
            f"select * from read_parquet('{history_glob(history)}') "
            "order by run_started_at, run_id, suite, table_name, expectation, column_name, severity"
        )


def load_raw_files_into(warehouse: Path, found: dict[str, list[RawFile]]) -> None:
    """quality.raw_files: what the landing zone held when this warehouse was built."""
    frame = pl.DataFrame(
        [
            {
                "source": f.source,
                "file": f.file,
                "size_bytes": f.size_bytes,
                "sha256": f.sha256,
                "data_rows": f.data_rows,
                "fields": f.fields,
            }
            for files in found.values()
            for f in files
        ],
        schema={
            "source": pl.String(),
            "file": pl.String(),
            "size_bytes": pl.Int64(),
            "sha256": pl.String(),
            "data_rows": pl.Int64(),
            "fields": pl.List(pl.String()),
        },
    )
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists quality")
        connection.register("raw_files_frame", frame)
        connection.execute(
            "create or replace table quality.raw_files as select * from raw_files_frame order by file"
        )


@dataclass(frozen=True)
class PastRun:
    run_id: str
    started_at: datetime
    target: str
    checks: int
    warnings_failed: int
    critical_failed: int


def recent_runs(history: Path, limit: int = 20) -> list[PastRun]:
    if not any(history.glob("*.parquet")):
        return []
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"""
            select run_id, run_started_at, target, count(*),
                count(*) filter (where not success and severity = 'warning'),
                count(*) filter (where not success and severity = 'critical')
            from read_parquet('{history_glob(history)}')
            group by all
            order by run_started_at desc
            limit {int(limit)}
            """
        ).fetchall()
    return [PastRun(*row) for row in rows]
