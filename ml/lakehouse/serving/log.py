"""The served predictions: every answer the API gave, appended to one JSON Lines file per process
and day under `data/models/served/`. The next `make run` loads them into ml.served_predictions.

A day's files stop growing once the day is over (each process opens its next day's file then):
`make run` converts each file of a day before yesterday (UTC; a day of margin for a write in flight
at midnight) into a Parquet file of the same name (typed, read without parsing), written whole and
renamed before the JSON Lines file is removed. Readers take a file's Parquet form where both exist
(a run stopped between the two steps), so no answer is read twice or lost."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from lakehouse.common.sql import sql_list, sql_text

SERVED_SCHEMA = {
    "request_id": "varchar",
    "served_at": "timestamp with time zone",
    "version": "varchar",
    "flight_id": "varchar",
    "decision_at_utc": "timestamp",
    "horizon_minutes": "integer",
    "classification_model_id": "varchar",
    "regression_model_id": "varchar",
    "probability_late": "double",
    "is_late": "boolean",
    "threshold": "double",
    "expected_arrival_delay_minutes": "double",
    "is_known_flight": "boolean",
    "latency_ms": "double",
    # "request" (an API call) or "feed" (pushed as the live feed's clock passed the decision time)
    "source": "varchar",
    "feed_id": "varchar",
    "feed_clock_utc": "timestamp",
}


class ServedLog:
    """Appends each answer as one line, flushed at once (a killed server loses nothing written)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._day = ""

    def _handle(self, now: datetime) -> IO[str]:
        day = f"{now:%Y%m%d}"
        if self._file is None or day != self._day:
            if self._file is not None:
                self._file.close()
            self.directory.mkdir(parents=True, exist_ok=True)
            # kept open for the process's answers of the day, closed when the day or the process ends
            self._file = open(  # noqa: SIM115
                self.directory / f"served-{day}-{os.getpid()}.jsonl", "a", encoding="utf-8"
            )
            self._day = day
        return self._file

    def write(
        self,
        version: str,
        request_id: str,
        answers: list[Any],
        seconds: float,
        source: str = "request",
        feed_id: str | None = None,
    ) -> None:
        """Append `answers` (a pushed score carries the feed's clock it was scored at)."""
        now = datetime.now(UTC)
        lines = "".join(
            json.dumps(
                {
                    "request_id": request_id,
                    "served_at": now.isoformat(),
                    "version": version,
                    "flight_id": a.flight_id,
                    "decision_at_utc": a.decision_at_utc.replace(tzinfo=None).isoformat(),
                    "horizon_minutes": a.horizon_minutes,
                    "classification_model_id": a.classification,
                    "regression_model_id": a.regression,
                    "probability_late": a.probability_late,
                    "is_late": a.is_late,
                    "threshold": a.threshold,
                    "expected_arrival_delay_minutes": a.expected_arrival_delay_minutes,
                    "is_known_flight": a.known,
                    "latency_ms": round(seconds * 1000, 3),
                    "source": source,
                    "feed_id": feed_id,
                    "feed_clock_utc": _naive_iso(getattr(a, "clock", None)),
                }
            )
            + "\n"
            for a in answers
        )
        with self._lock:
            handle = self._handle(now)
            handle.write(lines)
            handle.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _naive_iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.replace(tzinfo=None).isoformat()


def served_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """The served answers' files: the Parquet ones, and the JSON Lines ones not yet converted."""
    parquet = sorted(directory.glob("served-*.parquet"))
    converted = {path.stem for path in parquet}
    lines = [path for path in sorted(directory.glob("served-*.jsonl")) if path.stem not in converted]
    return parquet, lines


def _day_of(path: Path) -> date | None:
    """The day in a served file's name (`served-<day>-<pid>`), None for a name not of that form."""
    try:
        return datetime.strptime(path.stem.split("-")[1], "%Y%m%d").date()
    except (IndexError, ValueError):
        return None


def compact_served(directory: Path, today: date | None = None) -> list[Path]:
    """Convert each JSON Lines file of a day before yesterday into Parquet (see the module's
    docstring); returns the Parquet files written. A line cut by a crash is skipped, as on loading."""
    import duckdb

    today = today or datetime.now(UTC).date()
    parquet, lines = served_files(directory)
    for path in directory.glob("served-*.jsonl"):
        if path.with_suffix(".parquet") in parquet:  # converted by a run that stopped before removing it
            path.unlink()
    written = []
    with duckdb.connect() as connection:
        for path in lines:
            day = _day_of(path)
            if day is None or day >= today - timedelta(days=1):
                continue
            target = path.with_suffix(".parquet")
            partial = target.with_suffix(".parquet.partial")
            connection.execute(f"copy ({_served_select([], [path])}) to {sql_text(partial)} (format parquet)")
            os.replace(partial, target)
            path.unlink()
            written.append(target)
    return written


def _json_lines(files: list[Path], schema: dict[str, str], key: str) -> str:
    """A SELECT of JSON Lines files with these columns. A line cut by a crash is skipped: DuckDB
    reads it as a row of NULLs, and `key` is never NULL in a line written whole."""
    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in schema.items())
    return (
        f"select * from read_json({sql_list(files)}, format = 'newline_delimited', columns = {{{columns}}}, "
        f"ignore_errors = true) where {key} is not null"
    )


def _no_rows(schema: dict[str, str]) -> str:
    """A SELECT of no rows with these columns."""
    return "select " + ", ".join(f"null::{kind} as {name}" for name, kind in schema.items()) + " where false"


def _served_select(parquet: list[Path], lines: list[Path]) -> str:
    """A SELECT of every served answer in these files, with the columns of SERVED_SCHEMA (by name:
    a column a file lacks is NULL)."""
    parts = [_no_rows(SERVED_SCHEMA)]
    if parquet:
        parts.append(f"select * from read_parquet({sql_list(parquet)}, union_by_name = true)")
    if lines:
        parts.append(_json_lines(lines, SERVED_SCHEMA, "request_id"))
    return f"select {', '.join(SERVED_SCHEMA)} from ({' union all by name '.join(parts)})"


def logged_pushes(directory: Path, feed_id: str) -> set[tuple[str, int]]:
    """The (flight, horizon) pairs a feed has logged already, in any process's file."""
    import duckdb

    parquet, lines = served_files(directory)
    if not parquet and not lines:
        return set()
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"select distinct flight_id, horizon_minutes from ({_served_select(parquet, lines)}) "
            "where feed_id = ?",
            [feed_id],
        ).fetchall()
    return {(flight_id, horizon) for flight_id, horizon in rows}


def _load_into(warehouse: Path, table: str, select: str, order: str) -> int:
    """(Re)create `table` from a SELECT, in `order`; returns its rows."""
    import duckdb

    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists ml")
        connection.execute(f"create or replace table {table} as {select} order by {order}")
        count = connection.execute(f"select count(*) from {table}").fetchone()
    return int(count[0]) if count else 0


def served_versions(directory: Path) -> set[str]:
    """The model versions that answered requests or the live feed, in every served file (a line
    cut by a crash is skipped)."""
    import duckdb

    parquet, lines = served_files(directory)
    if not parquet and not lines:
        return set()
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select distinct unnest([classification_model_id, regression_model_id]) "
            f"from ({_served_select(parquet, lines)})"
        ).fetchall()
    return {model_id for (model_id,) in rows if model_id is not None}


def load_served_into(warehouse: Path, directory: Path) -> int:
    """(Re)create ml.served_predictions from every served file; returns its rows."""
    select = _served_select(*served_files(directory))
    return _load_into(warehouse, "ml.served_predictions", select, "served_at, request_id, flight_id")


# What the live feed refused (lakehouse.live.feed), one file per feed in data/live/<feed id>/.
REJECTED_SCHEMA = {
    "received_at": "timestamp with time zone",
    "feed_id": "varchar",
    "feed_clock_utc": "timestamp",
    "position": "integer",
    "event_id": "varchar",
    "reason_kind": "varchar",
    "reason": "varchar",
    "event": "json",
}


def load_rejected_into(warehouse: Path, live: Path) -> int:
    """(Re)create ml.rejected_events from every feed's rejected.jsonl; returns its rows."""
    # each feed's folder once (`current` is a symlink to one of them)
    files = sorted(path for path in live.glob("*/rejected.jsonl") if not path.parent.is_symlink())
    select = _json_lines(files, REJECTED_SCHEMA, "feed_id") if files else _no_rows(REJECTED_SCHEMA)
    return _load_into(warehouse, "ml.rejected_events", select, "received_at, feed_id, position")
