"""The served predictions: every answer the API gave, appended to one JSON Lines file per process
and day under `data/models/served/`. The next `make run` loads them into ml.served_predictions."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

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


def logged_pushes(directory: Path, feed_id: str) -> set[tuple[str, int]]:
    """The (flight, horizon) pairs a feed has logged already, in any process's file."""
    keys: set[tuple[str, int]] = set()
    for path in sorted(directory.glob("served-*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if feed_id not in line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a crash
                    continue
                if row.get("feed_id") == feed_id:
                    keys.add((row["flight_id"], row["horizon_minutes"]))
    return keys


def _load_json_lines(
    warehouse: Path, table: str, files: list[Path], schema: dict[str, str], order: str
) -> int:
    """(Re)create `table` from JSON Lines files with these columns (empty, with its columns, when
    there are none; a line cut by a crash is skipped); returns its rows."""
    import duckdb

    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in schema.items())
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists ml")
        if files:
            listed = ", ".join(f"'{f}'" for f in files)
            connection.execute(
                f"create or replace table {table} as "
                f"select * from read_json([{listed}], format = 'newline_delimited', columns = {{{columns}}}, "
                f"ignore_errors = true) order by {order}"
            )
        else:
            typed = ", ".join(f"{name} {kind}" for name, kind in schema.items())
            connection.execute(f"create or replace table {table} ({typed})")
        count = connection.execute(f"select count(*) from {table}").fetchone()
    return int(count[0]) if count else 0


def served_versions(directory: Path) -> set[str]:
    """The model versions that answered requests or the live feed, in every served file (a line
    cut by a crash is skipped)."""
    import duckdb

    files = sorted(directory.glob("served-*.jsonl"))
    if not files:
        return set()
    columns = {name: SERVED_SCHEMA[name] for name in ("classification_model_id", "regression_model_id")}
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select distinct unnest([classification_model_id, regression_model_id]) from read_json(?, "
            "format = 'newline_delimited', columns = ?, ignore_errors = true)",
            [[str(f) for f in files], columns],
        ).fetchall()
    return {model_id for (model_id,) in rows if model_id is not None}


def load_served_into(warehouse: Path, directory: Path) -> int:
    """(Re)create ml.served_predictions from every served file; returns its rows."""
    files = sorted(directory.glob("served-*.jsonl"))
    return _load_json_lines(
        warehouse, "ml.served_predictions", files, SERVED_SCHEMA, "served_at, request_id, flight_id"
    )


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
    return _load_json_lines(
        warehouse, "ml.rejected_events", files, REJECTED_SCHEMA, "received_at, feed_id, position"
    )
