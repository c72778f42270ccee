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

    def write(self, version: str, request_id: str, answers: list[Any], seconds: float) -> None:
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
