"""The quality gate's memory.

Each validation run appends one Parquet file to `data/quality/validation_results/`, and each
pipeline run one to `data/quality/pipeline_runs/` saying how it ended (written whole, then
renamed: a crash leaves no partial file). Those folders are the history: they need no lock, so
recording a failed run never waits for a reader of the published warehouse. Before a build is
published, the whole history is loaded into the build's `quality.validation_results` and
`quality.pipeline_runs`, so the published warehouse carries every run up to its own, failed runs
included. A refused build keeps its tables in `data/build/<run id>/warehouse.duckdb`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from lakehouse.common.files import write_parquet_atomically
from lakehouse.common.sql import sql_text
from lakehouse.quality.gate import RunOutcome, ValidationRun
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
# quality.pipeline_runs: one row per pipeline run, rewritten as it goes (`running` in the step it is
# in) and when it ends.
OUTCOME_SCHEMA = pl.Schema(
    {
        "run_id": pl.String(),
        "run_started_at": pl.Datetime("us", "UTC"),
        "recorded_at": pl.Datetime("us", "UTC"),
        "target": pl.String(),
        "outcome": pl.String(),
        "step": pl.String(),
        "error": pl.String(),
        "published_version": pl.String(),
        # the seconds of each step finished when the record was written (`make bench` prints them)
        "step_seconds": pl.List(pl.Struct({"step": pl.String(), "seconds": pl.Float64()})),
    }
)


def results_frame(run: ValidationRun) -> pl.DataFrame:
    rows = [
        {"run_id": run.run_id, "run_started_at": run.started_at, "target": run.target, **r.as_row()}
        for r in run.results
    ]
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def save_run(run: ValidationRun, history: Path) -> Path:
    """Append the run to the history folder; the file appears whole or not at all."""
    return write_parquet_atomically(results_frame(run), history / f"{run.run_id}.parquet")


def save_outcome(
    run: ValidationRun, outcome: RunOutcome, runs: Path, steps: list[tuple[str, float]] | None = None
) -> Path:
    """Record how the pipeline run stands or ended (and the time of each step finished so far),
    replacing its previous record."""
    row = {
        "run_id": run.run_id,
        "run_started_at": run.started_at,
        "recorded_at": datetime.now(UTC),
        "target": run.target,
        "outcome": outcome.outcome,
        "step": outcome.step,
        "error": outcome.error,
        "published_version": outcome.version,
        "step_seconds": [{"step": name, "seconds": seconds} for name, seconds in steps or []],
    }
    return write_parquet_atomically(
        pl.DataFrame([row], schema=OUTCOME_SCHEMA), runs / f"{run.run_id}.parquet"
    )


def history_glob(history: Path) -> str:
    return str(history / "*.parquet")


def _relation(connection: duckdb.DuckDBPyConnection, folder: Path, schema: pl.Schema) -> str:
    """SQL naming every Parquet file of `folder`, or an empty table of `schema` when it has none."""
    if any(folder.glob("*.parquet")):
        # by name: a record written before a column was added reads it as NULL
        return f"read_parquet({sql_text(history_glob(folder))}, union_by_name = true)"
    name = f"empty_{folder.name}"
    connection.register(name, pl.DataFrame(schema=schema))
    return name


class HistoryError(RuntimeError):
    """A file of the quality history cannot be read (damaged): named, with what to do."""


@contextmanager
def _reading(*folders: Path) -> Iterator[None]:
    """DuckDB's error on a history file it cannot read becomes a `HistoryError` that names it;
    other errors (the warehouse locked, say) pass as they are."""
    try:
        yield
    except duckdb.Error as error:
        if not any(str(folder) in str(error) for folder in folders):
            raise
        raise HistoryError(
            f"the quality history cannot be read: {str(error).splitlines()[0]}; move the file named "
            "out of its folder to go on (it holds the record of one run)"
        ) from error


def load_history_into(warehouse: Path, history: Path, runs: Path) -> None:
    """(Re)create quality.validation_results and quality.pipeline_runs in `warehouse` from every
    recorded run."""
    with _reading(history, runs), duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists quality")
        connection.execute(
            "create or replace table quality.validation_results as "
            f"select * from {_relation(connection, history, RESULT_SCHEMA)} "
            "order by run_started_at, run_id, suite, table_name, expectation, column_name, severity"
        )
        connection.execute(
            "create or replace table quality.pipeline_runs as "
            f"select * from {_relation(connection, runs, OUTCOME_SCHEMA)} order by run_started_at, run_id"
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


def accepted_raw_files(published: Path) -> dict[str, list[str]] | None:
    """The files of each source the published warehouse was built from (`quality.raw_files`),
    or None when there is no published warehouse, or one without the table. A warehouse that
    cannot be read (another process writing it) raises: the check is not skipped for it."""
    if not published.exists():
        return None
    with duckdb.connect(str(published), read_only=True) as connection:
        try:
            rows = connection.execute("select source, file from quality.raw_files order by file").fetchall()
        except duckdb.CatalogException:
            return None
    accepted: dict[str, list[str]] = {}
    for source, file in rows:
        accepted.setdefault(source, []).append(file)
    return accepted


@dataclass(frozen=True)
class PastRun:
    run_id: str
    started_at: datetime
    target: str
    checks: int
    warnings_failed: int
    critical_failed: int
    # How the pipeline run ended (None for `lakehouse validate`, which publishes nothing).
    outcome: RunOutcome | None = None


def recent_runs(history: Path, runs: Path, limit: int = 20) -> list[PastRun]:
    """The latest runs, their checks and, for pipeline runs, how they ended (a run that stopped
    before any check has only the latter)."""
    with _reading(history, runs), duckdb.connect() as connection:
        rows = connection.execute(
            f"""
            with checks as (
                select run_id, run_started_at, target, count(*) as checks,
                    count(*) filter (where not success and severity = 'warning') as warnings_failed,
                    count(*) filter (where not success and severity = 'critical') as critical_failed
                from {_relation(connection, history, RESULT_SCHEMA)}
                group by all
            )
            select coalesce(c.run_id, r.run_id), coalesce(c.run_started_at, r.run_started_at),
                coalesce(c.target, r.target), coalesce(c.checks, 0), coalesce(c.warnings_failed, 0),
                coalesce(c.critical_failed, 0), r.outcome, r.step, r.error, r.published_version
            from checks as c
            full join {_relation(connection, runs, OUTCOME_SCHEMA)} as r on c.run_id = r.run_id
            order by 2 desc, 1 desc
            limit {int(limit)}
            """
        ).fetchall()
    return [
        PastRun(run_id, started_at, target, checks, warnings, critical, RunOutcome(*end) if end[0] else None)
        for (run_id, started_at, target, checks, warnings, critical, *end) in rows
    ]
