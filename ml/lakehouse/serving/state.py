"""What the scoring API serves from: one published version, read into memory once.

The service never keeps the warehouse file open (a reader would block the next publish): a
version is loaded whole (the champions of every horizon, every known flight's batch features
ready for the trees, the sources of the on-demand features) and the file is closed. A watcher
loads a newly published version beside the one serving and switches the reference when it is
ready: a request is answered entirely by the version it started with."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import polars as pl

from lakehouse.config import ORIGIN_TIME_ZONE, RELOAD_INTERVAL_SECONDS, RELOAD_RETRY_MAX_SECONDS, Paths
from lakehouse.models.online import OnlineFeatures, request_rows
from lakehouse.models.preprocess import Preprocessor
from lakehouse.models.registry import RegistryEntry, SavedModel, load_model


class ServingStateError(RuntimeError):
    """A published version the service cannot answer from, and why."""


@dataclass(frozen=True)
class Champion:
    entry: RegistryEntry
    model: SavedModel

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        booster = self.model.booster
        return np.asarray(booster.predict(matrix, num_iteration=booster.best_iteration, num_threads=1))


@dataclass(frozen=True)
class KnownFlights:
    """The batch features of every flight at one horizon, ready for a champion's preprocessing."""

    features: pl.DataFrame
    row_of: dict[str, int]
    # the tree input of each champion, by model id, one row per flight of `features`
    matrices: dict[str, np.ndarray]


class KnownSchedule(NamedTuple):
    """What the warehouse holds of a known flight's schedule beyond its key."""

    flight_id: str
    dest: str
    arrival_utc: datetime
    tailnum: str | None


@dataclass(frozen=True)
class ServingState:
    version: str
    # the warehouse file it was read from (a live feed on this version reads it too)
    warehouse: Path
    loaded_at: datetime
    champions: dict[tuple[str, int], Champion]
    known: dict[int, KnownFlights]
    # (carrier, flight number, origin, scheduled departure UTC) -> the known flight
    schedules: dict[tuple[str, int, str, datetime], KnownSchedule]
    # each route's distance, for a schedule that does not give it
    distances: dict[tuple[str, str], int]
    online: OnlineFeatures
    time_zones: dict[str, str]
    first_date: date
    last_date: date

    @property
    def horizons(self) -> list[int]:
        """Horizons with a classification champion, longest first."""
        return sorted({h for task, h in self.champions if task == "classification"}, reverse=True)

    def local_time_zone(self, airport: str) -> ZoneInfo:
        return ZoneInfo(self.time_zones.get(airport, ORIGIN_TIME_ZONE))


def _champions(connection: duckdb.DuckDBPyConnection, models_dir: Path) -> dict[tuple[str, int], Champion]:
    """The champion of each task and horizon, as the published warehouse records them."""
    rows = connection.sql("select * from ml.model_registry where is_champion").pl()
    champions = {}
    for row in rows.iter_rows(named=True):
        entry = RegistryEntry.from_row(row).resolved(models_dir)
        champions[(entry.task, entry.horizon_minutes)] = Champion(entry, load_model(Path(entry.artifact_dir)))
    return champions


def _matrix(pre: Preprocessor, frame: pl.DataFrame) -> np.ndarray:
    return pre.for_trees(frame)


@contextmanager
def _read_by_this_version(warehouse: Path) -> Iterator[None]:
    """A table or column the service reads that the published warehouse lacks (a version of the
    project that built other tables published it) becomes one message saying so, whichever it is."""
    try:
        yield
    except (duckdb.CatalogException, duckdb.BinderException) as error:
        cause = str(error).splitlines()[0]
        raise ServingStateError(
            f"{warehouse} lacks what this version of the project reads ({cause}): another version "
            "of the project published it; run `make run` to publish one this version serves"
        ) from error


def load_state(p: Paths) -> ServingState:
    """Read the published version `p.current` names into memory."""
    version_dir = p.current.resolve()
    warehouse = version_dir / "warehouse.duckdb"
    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse}: run `make run` first")
    with _read_by_this_version(warehouse):
        return _load_state(version_dir, warehouse, p.models)


def _load_state(version_dir: Path, warehouse: Path, models_dir: Path) -> ServingState:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set enable_progress_bar = false")
        champions = _champions(connection, models_dir)
        features = connection.sql("select * from ml.flight_features").pl()
        distances = dict(
            ((origin, dest), distance)
            for origin, dest, distance in connection.execute(
                "select origin_airport_code, dest_airport_code, mode(distance_miles) "
                "from fct_flights group by all"
            ).fetchall()
        )
        keys = connection.sql(
            "select carrier_code, flight_number, origin_airport_code, scheduled_departure_utc, "
            "flight_id, dest_airport_code, scheduled_arrival_utc, tail_number from fct_flights"
        ).pl()
        zones = dict(connection.execute("select airport_code, time_zone from dim_airports").fetchall())
        first, last = connection.execute("select min(date_day), max(date_day) from dim_dates").fetchone()  # type: ignore[misc]
    known: dict[int, KnownFlights] = {}
    for horizon in sorted({h for _, h in champions}):
        at = features.filter(pl.col("horizon_minutes") == horizon).sort("flight_id")
        matrices = {
            champion.entry.model_id: _matrix(champion.model.pre, at)
            for (_, h), champion in champions.items()
            if h == horizon
        }
        known[horizon] = KnownFlights(
            at, {fid: i for i, fid in enumerate(at["flight_id"].to_list())}, matrices
        )
    schedules = {
        (carrier, number, origin, departure): KnownSchedule(flight_id, dest, arrival, tail)
        for carrier, number, origin, departure, flight_id, dest, arrival, tail in keys.iter_rows()
    }
    return ServingState(
        version=version_dir.name,
        warehouse=warehouse,
        loaded_at=datetime.now(UTC),
        champions=champions,
        known=known,
        schedules=schedules,
        distances=distances,
        online=OnlineFeatures.load(warehouse),
        time_zones=zones,
        first_date=first,
        last_date=last,
    )


@dataclass(frozen=True)
class _Failure:
    """A published version that failed to load, and when to try it again."""

    version: str
    retry_at: float
    wait: float


class StateHolder:
    """The state the service answers from, and a watcher that swaps in each new publish.
    `on_loaded` is told each state loaded (on the watcher's thread)."""

    def __init__(self, p: Paths, on_loaded: Callable[[ServingState], object] | None = None) -> None:
        self.paths = p
        self.state: ServingState | None = None
        self.error: str | None = None
        self.on_loaded = on_loaded
        self._failure: _Failure | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _published_version(self) -> str | None:
        current = self.paths.current
        return current.resolve().name if current.exists() else None

    def refresh(self, now: float | None = None) -> None:
        """Load the published version if it is not the one serving; on failure keep serving, and
        try that version again later, less often each time (`RELOAD_RETRY_MAX_SECONDS`)."""
        now = time.monotonic() if now is None else now
        version = self._published_version()
        if version is None:
            self.error = f"nothing published at {self.paths.current}: run `make run` first"
            return
        if self.state is not None and self.state.version == version:
            self.error = None  # what failed is no longer published
            return
        failure = self._failure
        if failure is not None and failure.version == version and now < failure.retry_at:
            return
        try:
            state = load_state(self.paths)
        except Exception as error:  # a broken version must not stop the one serving
            wait = RELOAD_INTERVAL_SECONDS * 2
            if failure is not None and failure.version == version:
                wait = min(failure.wait * 2, RELOAD_RETRY_MAX_SECONDS)
            self._failure = _Failure(version, now + wait, wait)
            self.error = f"version {version} could not be loaded (tried again in {wait:.0f} s): {error}"
            return
        self.state, self.error, self._failure = state, None, None
        if self.on_loaded is not None:
            self.on_loaded(state)

    def start(self) -> None:
        self.refresh()

        def watch() -> None:
            while not self._stop.wait(RELOAD_INTERVAL_SECONDS):
                self.refresh()

        self._thread = threading.Thread(target=watch, name="lakehouse-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def request_frame(state: ServingState, flights: list[dict[str, Any]]) -> pl.DataFrame:
    """fct_flights-like rows for requested schedules: UTC instants, the origin's local clock and
    date, the flight id when the warehouse knows the flight."""
    rows = []
    for index, flight in enumerate(flights):
        departure = flight["scheduled_departure"].astimezone(UTC).replace(tzinfo=None)
        local = (
            flight["scheduled_departure"]
            .astimezone(state.local_time_zone(flight["origin"]))
            .replace(tzinfo=None)
        )
        known = state.schedules.get((flight["carrier"], flight["flight_number"], flight["origin"], departure))
        rows.append(
            {
                **flight,
                "flight_id": f"request-{index}" if known is None else known.flight_id,
                "distance_miles": state.distances.get((flight["origin"], flight["dest"])),
                "scheduled_departure_utc": departure,
                "scheduled_departure_local": local,
                "scheduled_arrival_utc": flight["scheduled_arrival"].astimezone(UTC).replace(tzinfo=None),
            }
        )
    return request_rows(rows)


def decision_time(departure_utc: datetime, horizon_minutes: int) -> datetime:
    return departure_utc - timedelta(minutes=horizon_minutes)
