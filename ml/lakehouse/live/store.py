"""The live state: what is known at the feed's clock, in an in-memory DuckDB whose tables carry the
names and columns the feature SQL reads (`fct_flights`, `stg_nycflights__weather`, `dim_planes`,
`dim_dates`), so that the batch definitions compute live features unchanged.

A flight enters with its schedule; its departure, arrival and being overdue fill its row as they
become known. Overdue (not gone `LABEL_KNOWN_AFTER_MINUTES` after its schedule) sets
`is_cancelled` until a departure clears it: the label (cancelled or more than the threshold late)
is then settled as late, as the batch build knows it from that instant. `bootstrap` applies the
rules of `lakehouse.live.events` to a warehouse at an instant: the state a store that received
every event known by then would hold."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from lakehouse.common.sql import sql_text
from lakehouse.live.events import HAPPENS, KNOWN_AT, SCHEMAS, known_sql
from lakehouse.models.features.sql import WEATHER_READINGS
from lakehouse.models.online import FLIGHT_COLUMNS

_WEATHER_COLUMNS = ("airport_code", "observed_hour_utc", *WEATHER_READINGS)


def _at(instant: datetime) -> str:
    return f"timestamp '{instant:%Y-%m-%d %H:%M:%S.%f}'"


def _known(kind: str, instant: datetime) -> str:
    return f"({HAPPENS[kind]}) and {KNOWN_AT[kind]} <= {_at(instant)}"


class LiveStore:
    """The tables, and a lock that writers hold (readers take a snapshot under it)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.lock = threading.Lock()

    @classmethod
    def bootstrap(cls, warehouse: Path, at: datetime) -> LiveStore:
        """The state known at `at` (naive UTC) from a warehouse file (read-only, detached after)."""
        connection = duckdb.connect()
        connection.execute("set enable_progress_bar = false")
        connection.execute(f"attach {sql_text(warehouse)} as warehouse (read_only)")
        departed, arrived, overdue = (_known(kind, at) for kind in ("departure", "arrival", "overdue"))
        masked = {
            "actual_departure_utc": f"case when {departed} then actual_departure_utc end",
            "dep_delay_minutes": f"case when {departed} then dep_delay_minutes end",
            "actual_arrival_utc": f"case when {arrived} then actual_arrival_utc end",
            "arr_delay_minutes": f"case when {arrived} then arr_delay_minutes end",
            # overdue until it departs: late, as the batch knows it from then on
            "is_cancelled": f"coalesce(({overdue}) and not ({departed}), false)",
            "is_diverted": "false",
        }
        columns = ", ".join(f"{masked.get(c, c)} as {c}" for c in FLIGHT_COLUMNS)
        connection.execute(
            f"create table fct_flights as select {columns} from warehouse.fct_flights "
            f"where {known_sql('schedule', None, at)} order by scheduled_departure_utc, flight_id"
        )
        connection.execute(
            f"create table stg_nycflights__weather as select {', '.join(_WEATHER_COLUMNS)} "
            f"from warehouse.stg_nycflights__weather where {known_sql('weather', None, at)} "
            "order by observed_hour_utc, airport_code"
        )
        for table in ("dim_planes", "dim_dates"):
            connection.execute(f"create table {table} as select * from warehouse.{table}")
        connection.execute("detach warehouse")
        return cls(connection)

    def apply(self, frames: dict[str, pl.DataFrame]) -> None:
        """Apply checked rows of each kind (`events.to_rows`) in one transaction. Within a batch
        the order of events does not matter: schedules first, then what fills their rows."""
        with self.lock:
            cursor = self.connection.cursor()
            try:
                cursor.execute("begin transaction")
                schedule = frames["schedule"]
                if schedule.height:
                    cursor.register("schedule_rows", schedule)
                    names = ", ".join(SCHEMAS["schedule"])
                    cursor.execute(
                        f"insert into fct_flights ({names}, is_cancelled, is_diverted) "
                        f"select {names}, false, false from schedule_rows"
                    )
                if frames["weather"].height:
                    cursor.register("weather_rows", frames["weather"])
                    names = ", ".join(_WEATHER_COLUMNS)
                    cursor.execute(
                        f"insert into stg_nycflights__weather ({names}) select {names} from weather_rows"
                    )
                if frames["overdue"].height:
                    cursor.register("overdue_rows", frames["overdue"])
                    cursor.execute(
                        "update fct_flights set is_cancelled = true from overdue_rows "
                        "where fct_flights.flight_id = overdue_rows.flight_id "
                        "and fct_flights.actual_departure_utc is null"
                    )
                if frames["departure"].height:
                    cursor.register("departure_rows", frames["departure"])
                    cursor.execute(
                        "update fct_flights set actual_departure_utc = d.actual_departure_utc, "
                        "dep_delay_minutes = d.dep_delay_minutes, is_cancelled = false "
                        "from departure_rows as d where fct_flights.flight_id = d.flight_id"
                    )
                if frames["arrival"].height:
                    cursor.register("arrival_rows", frames["arrival"])
                    cursor.execute(
                        "update fct_flights set actual_arrival_utc = a.actual_arrival_utc, "
                        "arr_delay_minutes = a.arr_delay_minutes "
                        "from arrival_rows as a where fct_flights.flight_id = a.flight_id"
                    )
                cursor.execute("commit")
            except BaseException:
                cursor.execute("rollback")
                raise
            finally:
                cursor.close()

    def query(self, sql: str, relations: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
        """A read on its own cursor (a consistent snapshot of the committed state), `relations`
        readable by name in it."""
        cursor = self.connection.cursor()
        try:
            for name, frame in (relations or {}).items():
                cursor.register(name, frame)
            result: pl.DataFrame = cursor.sql(sql).pl()
            return result
        finally:
            cursor.close()
