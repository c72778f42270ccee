"""Building the feature table on DuckDB: the sources read by SQL, the lookups found by sorting
(`lookups.py`), every column computed by the feature SELECT; every flight at once, or month by
month in bounded memory. And the same table on Spark, from the portable SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from lakehouse.config import (
    DEFAULT_HORIZON_MINUTES,
    LABEL_KNOWN_AFTER_MINUTES,
    WAITING_CAP_MINUTES,
    WEATHER_LAG_MINUTES,
)
from lakehouse.models.features.catalog import RUNNING_TOTALS
from lakehouse.models.features.lookups import Probes, find_lookups, timelines_of
from lakehouse.models.features.sql import (
    LOOKUPS_RELATION,
    PARTITIONS,
    ROW_ORDER,
    SOURCES,
    Scope,
    added_totals,
    carried_totals,
    code_table,
    coded_carried,
    coded_keys,
    coded_probes,
    coded_source,
    coded_weather,
    feature_sql,
    flown_days,
    last_flown,
    last_observed,
    lookback_start,
    observed_in,
    portable_feature_sql,
    scheduled_in,
    scope_of,
    timestamp,
    weather_known_before,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession


def features_in(connection: duckdb.DuckDBPyConnection, horizon_minutes: int, scope: Scope) -> pl.DataFrame:
    """The features and labels of the scope's flights (`sql.scope_of`) at their decision time: each
    source read once by SQL, the lookups found by sorting, the feature SELECT over them."""
    codes = {code_table(p): connection.sql(coded_keys(p, scope)).pl() for p in PARTITIONS}
    with registered(connection, codes):
        sources, weather = read_sources(connection, scope)
        carried, between = None, None
        if scope.carried_from is not None and scope.between is not None:
            carried = connection.sql(coded_carried(scope)).pl()
            between = (_microseconds(scope.between[0]), _microseconds(scope.between[1]))
        probes = Probes.of(connection.sql(coded_probes(horizon_minutes, scope)).pl())
    lookups = find_lookups(timelines_of(sources, weather, carried, between), probes)
    with registered(connection, {LOOKUPS_RELATION: lookups}):
        unordered: pl.DataFrame = connection.sql(feature_sql(horizon_minutes, scope, ordered=False)).pl()
    # polars sorts the row numbers, then gathers the rows: cheaper than SQL's sort of wide rows
    return unordered.sort(ROW_ORDER, nulls_last=True)


def read_sources(
    connection: duckdb.DuckDBPyConnection, scope: Scope
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Every source of the running totals and the weather as the sort-based lookups read them, on a
    connection where the code tables are registered (`registered`)."""
    sources = {source: connection.sql(coded_source(source, scope)).pl() for source in SOURCES}
    return sources, connection.sql(coded_weather(scope)).pl()


@contextmanager
def registered(connection: duckdb.DuckDBPyConnection, relations: Mapping[str, Any]) -> Iterator[None]:
    """The frames or Arrow tables in `relations` readable by name on `connection` while inside."""
    for name, relation in relations.items():
        connection.register(name, relation)
    try:
        yield
    finally:
        for name in relations:
            connection.unregister(name)


def _microseconds(instant: datetime) -> int:
    return int(pl.Series([instant]).dt.epoch("us")[0])


def build_features(
    connection: duckdb.DuckDBPyConnection,
    horizon_minutes: int = DEFAULT_HORIZON_MINUTES,
    weather_lag_minutes: int = WEATHER_LAG_MINUTES,
    scheduled_between: tuple[datetime, datetime] | None = None,
) -> pl.DataFrame:
    """Every flight's features and labels at its decision time (or those of the flights scheduled
    in `scheduled_between`), from a warehouse connection."""
    connection.execute("set enable_progress_bar = false")
    return features_in(
        connection, horizon_minutes, scope_of(horizon_minutes, weather_lag_minutes, scheduled_between)
    )


def spark_feature_query(
    session: SparkSession,
    horizon_minutes: int = DEFAULT_HORIZON_MINUTES,
    weather_lag_minutes: int = WEATHER_LAG_MINUTES,
    scheduled_between: tuple[datetime, datetime] | None = None,
) -> SparkDataFrame:
    """The feature SELECT on a Spark session over the dbt project's tables built on Spark
    (`lakehouse.platform.spark`): the same SELECT, its lookups without ASOF joins, as Spark SQL.
    Lazy: nothing runs until it is collected or written."""
    from lakehouse.models.features.dialects import spark_sql

    return session.sql(
        spark_sql(portable_feature_sql(horizon_minutes, weather_lag_minutes, scheduled_between))
    )


def build_features_on_spark(
    session: SparkSession,
    horizon_minutes: int = DEFAULT_HORIZON_MINUTES,
    weather_lag_minutes: int = WEATHER_LAG_MINUTES,
    scheduled_between: tuple[datetime, datetime] | None = None,
) -> pl.DataFrame:
    """`build_features` on Spark (`spark_feature_query`), collected through Arrow."""
    query = spark_feature_query(session, horizon_minutes, weather_lag_minutes, scheduled_between)
    frame = pl.from_arrow(query.toArrow())
    assert isinstance(frame, pl.DataFrame)
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


def event_reach(connection: duckdb.DuckDBPyConnection) -> tuple[timedelta, timedelta]:
    """How far after and before its schedule a flight's events (departure, label known, waiting,
    overdue) can lie in this data: its latest departure delay or the waiting cap, and its earliest
    (negative) departure delay, each widened by a minute."""
    latest, earliest = connection.execute(
        "select coalesce(max(dep_delay_minutes), 0), coalesce(min(dep_delay_minutes), 0) from fct_flights"
    ).fetchall()[0]
    after = timedelta(minutes=max(latest, WAITING_CAP_MINUTES, LABEL_KNOWN_AFTER_MINUTES) + 1)
    ahead = timedelta(minutes=max(-earliest, 0) + 1)
    return after, ahead


class Carried:
    """The temporary tables carried from window to window: each running total before the window's
    look-back, the latest day each flight number flew before it, the last weather observations
    before it, named `prefix` + what they hold. `until` is the instant they hold everything before
    (None: nothing carried yet). `after` and `ahead` bound how far from its schedule a flight's
    events lie (`event_reach`); they may only grow."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        after: timedelta,
        ahead: timedelta,
        prefix: str = "carried_",
    ) -> None:
        self.connection = connection
        self.after = after
        self.ahead = ahead
        self.prefix = prefix
        self.until: datetime | None = None

    def _replace(self, table: str, select: str) -> None:
        """`table` becomes the temporary table of `select` (which may read the old `table`)."""
        self.connection.execute(f"create or replace temp table {table}_next as {select}")
        self.connection.execute(f"drop table if exists {table}")
        self.connection.execute(f"alter table {table}_next rename to {table}")

    def advance(self, since: datetime) -> None:
        """Carry everything known before `since`: the previous tables plus the events in between."""
        if self.until is not None and since <= self.until:
            return
        before_since = f"scheduled_departure_date < date '{since:%Y-%m-%d}'"
        for total in RUNNING_TOTALS:
            table = f"{self.prefix}{total.name}"
            if self.until is None:
                totals = carried_totals(total, None, timestamp(since))
            else:
                events_from = scheduled_in(self.until - self.after, since + self.ahead)
                more = carried_totals(total, timestamp(self.until), timestamp(since), events_from)
                totals = added_totals(total, table, more)
            self._replace(table, totals)
        flown_table = f"{self.prefix}aircraft_flown"
        if self.until is None:
            flown = flown_days(before_since)
        else:
            days = f"scheduled_departure_date >= date '{self.until:%Y-%m-%d}' and {before_since}"
            flown = f"select * from {flown_table} union all {flown_days(days)}"
        self._replace(flown_table, last_flown(flown))
        weather_table = f"{self.prefix}weather"
        if self.until is None:
            observed = observed_in(None, weather_known_before(since))
        else:
            newer = observed_in(weather_known_before(self.until), weather_known_before(since))
            observed = f"select * from {weather_table} union all {newer}"
        self._replace(weather_table, last_observed(observed))
        self.until = since


def window_features(carried: Carried, horizon_minutes: int, start: datetime, end: datetime) -> pl.DataFrame:
    """The features of the flights scheduled (UTC) from `start` and before `end`, reading only the
    flights around them and `carried` (advanced to the window's look-back) for the rest: the same
    values a build of every flight gives them. Windows must come in order."""
    since = lookback_start(start, horizon_minutes)
    carried.advance(since)
    # the window's flights and two days around it for the per-day windows
    flights = (since - carried.after, max(end + carried.ahead, end + timedelta(days=2)))
    scope = scope_of(
        horizon_minutes, scheduled_between=(start, end), flights_between=flights, carried_from=carried.prefix
    )
    return features_in(carried.connection, horizon_minutes, scope)


def write_features(
    connection: duckdb.DuckDBPyConnection,
    directory: Path,
    horizon_minutes: int = DEFAULT_HORIZON_MINUTES,
    months: list[tuple[datetime, datetime]] | None = None,
    on_month: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Every flight's features written month by month to `directory` (one Parquet file per month),
    each month reading only the flights around it: memory and time per month are bounded by a
    month's flights and the look-back before them, however many months precede it.

    What lies before each month's look-back is carried from month to month (`Carried`). A
    flight's events lie between its schedule plus the data's earliest departure delay and its
    schedule plus the largest of the latest departure delay and the waiting cap (`event_reach`),
    so the flights whose events fall in a span are read by schedule, widened by those extremes.
    `fct_flights` is stored in scheduled order and the weather in the order of its monthly files,
    so these reads skip most of the tables. `months` (in order; default all of `monthly_windows`)
    builds some months only; `on_month` is told each file once written."""
    connection.execute("set enable_progress_bar = false")
    directory.mkdir(parents=True, exist_ok=True)
    carried = Carried(connection, *event_reach(connection))
    written = []
    for start, end in monthly_windows(connection) if months is None else months:
        path = directory / f"features_{start:%Y-%m}.parquet"
        window_features(carried, horizon_minutes, start, end).write_parquet(path)
        written.append(path)
        if on_month is not None:
            on_month(path)
    return written
