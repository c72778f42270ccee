"""Running the feature SELECT: every flight at once, or month by month in bounded memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from lakehouse.config import (
    DEFAULT_HORIZON_MINUTES,
    LATE_AFTER_MINUTES,
    WAITING_CAP_MINUTES,
    WEATHER_LAG_MINUTES,
)
from lakehouse.models.features.catalog import RUNNING_TOTALS
from lakehouse.models.features.sql import (
    added_totals,
    carried_totals,
    feature_sql,
    flown_days,
    last_flown,
    last_observed,
    lookback_start,
    observed_in,
    scheduled_in,
    timestamp,
    weather_known_before,
)


def build_features(
    connection: duckdb.DuckDBPyConnection,
    horizon_minutes: int = DEFAULT_HORIZON_MINUTES,
    weather_lag_minutes: int = WEATHER_LAG_MINUTES,
    scheduled_between: tuple[datetime, datetime] | None = None,
) -> pl.DataFrame:
    """Every flight's features and labels at its decision time, from a warehouse connection."""
    connection.execute("set enable_progress_bar = false")
    sql = feature_sql(horizon_minutes, weather_lag_minutes, scheduled_between)
    frame: pl.DataFrame = connection.sql(sql).pl()
    return frame


def read_features(warehouse: Path, horizon_minutes: int = DEFAULT_HORIZON_MINUTES) -> pl.DataFrame:
    """`build_features` on a read-only connection to a warehouse file."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return build_features(connection, horizon_minutes)


def monthly_windows(connection: duckdb.DuckDBPyConnection) -> list[tuple[datetime, datetime]]:
    """Calendar months (UTC) covering every scheduled departure in `fct_flights`."""
    first, last = connection.execute(
        "select min(scheduled_departure_utc), max(scheduled_departure_utc) from fct_flights"
    ).fetchall()[0]
    if first is None:
        return []
    windows = []
    start = datetime(first.year, first.month, 1)
    while start <= last:
        end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
        windows.append((start, end))
        start = end
    return windows


def _event_reach(connection: duckdb.DuckDBPyConnection) -> tuple[timedelta, timedelta]:
    """How far after and before its schedule a flight's events (departure, label known, waiting,
    overdue) can lie in this data: its latest departure delay or the waiting cap, and its earliest
    (negative) departure delay, each widened by a minute."""
    latest, earliest = connection.execute(
        "select coalesce(max(dep_delay_minutes), 0), coalesce(min(dep_delay_minutes), 0) from fct_flights"
    ).fetchall()[0]
    after = timedelta(minutes=max(latest, WAITING_CAP_MINUTES, LATE_AFTER_MINUTES + 1) + 1)
    ahead = timedelta(minutes=max(-earliest, 0) + 1)
    return after, ahead


class _Carried:
    """The temporary tables carried from month to month: each running total before the month's
    look-back, the latest day each flight number flew before it, the last weather observations
    before it. `until` is the instant they hold everything before (None: nothing carried yet)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, after: timedelta, ahead: timedelta) -> None:
        self.connection = connection
        self.after = after
        self.ahead = ahead
        self.until: datetime | None = None

    def _replace(self, table: str, select: str) -> None:
        """`table` becomes the temporary table of `select` (which may read the old `table`)."""
        self.connection.execute(f"create or replace temp table {table}_next as {select}")
        self.connection.execute(f"drop table if exists {table}")
        self.connection.execute(f"alter table {table}_next rename to {table}")

    def advance(self, since: datetime) -> None:
        """Carry everything known before `since`: the previous tables plus the events in between."""
        before_since = f"scheduled_departure_date < date '{since:%Y-%m-%d}'"
        for total in RUNNING_TOTALS:
            table = f"carried_{total.name}"
            if self.until is None:
                totals = carried_totals(total, None, timestamp(since))
            else:
                events_from = scheduled_in(self.until - self.after, since + self.ahead)
                more = carried_totals(total, timestamp(self.until), timestamp(since), events_from)
                totals = added_totals(total, table, more)
            self._replace(table, totals)
        if self.until is None:
            flown = flown_days(before_since)
        else:
            days = f"scheduled_departure_date >= date '{self.until:%Y-%m-%d}' and {before_since}"
            flown = f"select * from carried_aircraft_flown union all {flown_days(days)}"
        self._replace("carried_aircraft_flown", last_flown(flown))
        if self.until is None:
            observed = observed_in(None, weather_known_before(since))
        else:
            newer = observed_in(weather_known_before(self.until), weather_known_before(since))
            observed = f"select * from carried_weather union all {newer}"
        self._replace("carried_weather", last_observed(observed))
        self.until = since


def write_features(
    connection: duckdb.DuckDBPyConnection,
    directory: Path,
    horizon_minutes: int = DEFAULT_HORIZON_MINUTES,
    months: list[tuple[datetime, datetime]] | None = None,
    on_month: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Every flight's features written month by month to `directory` (one Parquet file per month,
    in DuckDB, nothing pulled into Python), each month reading only the flights around it: memory
    and time per month are bounded by a month's flights and the look-back before them, however
    many months precede it.

    What lies before each month's look-back is carried from month to month (`_Carried`). A
    flight's events lie between its schedule plus the data's earliest departure delay and its
    schedule plus the largest of the latest departure delay and the waiting cap (`_event_reach`),
    so the flights whose events fall in a span are read by schedule, widened by those extremes.
    `fct_flights` is stored in scheduled order and the weather in the order of its monthly files,
    so these reads skip most of the tables. `months` (in order; default all of `monthly_windows`)
    builds some months only; `on_month` is told each file once written."""
    connection.execute("set enable_progress_bar = false")
    directory.mkdir(parents=True, exist_ok=True)
    after, ahead = _event_reach(connection)
    carried = _Carried(connection, after, ahead)
    written = []
    for start, end in monthly_windows(connection) if months is None else months:
        since = lookback_start(start, horizon_minutes)
        carried.advance(since)
        # the month's flights and two days around it for the per-day windows
        flights = (since - after, max(end + ahead, end + timedelta(days=2)))
        sql = feature_sql(
            horizon_minutes, scheduled_between=(start, end), flights_between=flights, carried_from="carried_"
        )
        path = directory / f"features_{start:%Y-%m}.parquet"
        connection.execute(f"copy ({sql}) to '{path}'")
        written.append(path)
        if on_month is not None:
            on_month(path)
    return written
