"""Features on demand: any flight (one the warehouse does not know included) as of its decision
time, from the same definitions and the same code as the batch build.

The batch build reads every source once and finds each lookup (the last row of a running total
before T, the latest weather known at T) by sorting (`features.lookups`). Per request, that would
mean reading and sorting every source again. So the timelines are built once, from the whole
warehouse (`OnlineFeatures.load`), and kept in memory with the code of every key; a request's
flights are coded by those tables, searched in the timelines (the same rule: the last row
strictly before the instant, or at it for the weather), and handed to the feature SELECT
(`features.sql.online_feature_sql`), which computes every column with the catalog's expressions,
the aircraft's legs and the airports' schedule from the flights of the requested days, and the
stand-in aircraft, exactly as the batch does. A test computes known flights this way and compares
them with their batch features."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from lakehouse.config import DEFAULT_HORIZON_MINUTES, check_horizon
from lakehouse.models.features.build import read_sources, registered
from lakehouse.models.features.lookups import Probes, Timeline, find_lookups, timelines_of
from lakehouse.models.features.sql import (
    LOOKUPS_RELATION,
    PARTITIONS,
    Scope,
    code_table,
    coded_keys,
    flown_days,
    online_feature_sql,
)

# The columns of fct_flights the feature SQL reads.
FLIGHT_COLUMNS = (
    "flight_id",
    "carrier_code",
    "flight_number",
    "tail_number",
    "origin_airport_code",
    "dest_airport_code",
    "distance_miles",
    "scheduled_departure_date",
    "scheduled_departure_utc",
    "scheduled_departure_local",
    "scheduled_arrival_utc",
    "actual_departure_utc",
    "actual_arrival_utc",
    "dep_delay_minutes",
    "arr_delay_minutes",
    "is_cancelled",
    "is_diverted",
)


def _ranges(frame: pl.DataFrame, keys: list[str]) -> dict[tuple[Any, ...], tuple[int, int]]:
    """The rows of each key of a frame sorted by it: first and past-the-last row."""
    bounds = (
        frame.with_row_index("row")
        .group_by(keys, maintain_order=True)
        .agg(pl.col("row").min().alias("first"), pl.col("row").max().alias("last"))
    )
    return {
        tuple(row[k] for k in keys): (row["first"], row["last"] + 1) for row in bounds.iter_rows(named=True)
    }


def _rows_of(
    frame: pl.DataFrame, ranges: dict[tuple[Any, ...], tuple[int, int]], keys: set[tuple[Any, ...]]
) -> pl.DataFrame:
    """The rows of the given keys of a frame sorted by its keys (see `_ranges`)."""
    slices = [
        frame.slice(first, end - first) for first, end in (ranges[key] for key in keys if key in ranges)
    ]
    return pl.concat(slices) if slices else frame.clear()


@dataclass
class OnlineFeatures:
    """What the feature SQL reads, held in memory: the lookups' timelines with the code of every
    key, the flights by day (for the requested days), the days each flight number flew, the planes
    and the dates."""

    timelines: dict[str, Timeline]
    codes: dict[tuple[str, ...], pl.DataFrame]
    flights: pl.DataFrame
    flown: pl.DataFrame
    connection: duckdb.DuckDBPyConnection
    flights_by_day: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.flights = self.flights.sort("scheduled_departure_date", "scheduled_departure_utc", "flight_id")
        self.flights_by_day = _ranges(self.flights, ["scheduled_departure_date"])

    @classmethod
    def load(cls, warehouse: Path) -> OnlineFeatures:
        """Read a warehouse once (read-only, closed afterwards): every source of the lookups, as the
        batch reads them over every flight, sorted into timelines."""
        scope = Scope()
        with duckdb.connect(str(warehouse), read_only=True) as warehouse_connection:
            warehouse_connection.execute("set enable_progress_bar = false")
            codes = {p: warehouse_connection.sql(coded_keys(p, scope)).pl() for p in PARTITIONS}
            with registered(warehouse_connection, {code_table(p): codes[p] for p in PARTITIONS}):
                sources, weather = read_sources(warehouse_connection, scope)
            flights = warehouse_connection.sql(f"select {', '.join(FLIGHT_COLUMNS)} from fct_flights").pl()
            flown = warehouse_connection.sql(flown_days("true")).pl()
            planes = warehouse_connection.sql("select * from dim_planes").pl()
            dates = warehouse_connection.sql("select * from dim_dates").pl()
        connection = duckdb.connect()
        connection.execute("set enable_progress_bar = false")
        for name, frame in (("dim_planes", planes), ("dim_dates", dates)):
            connection.register(f"{name}_frame", frame)
            connection.execute(f"create table {name} as select * from {name}_frame")
            connection.unregister(f"{name}_frame")
        return cls(timelines_of(sources, weather), codes, flights, flown, connection)

    def known(self, flight_ids: list[str]) -> pl.DataFrame:
        """The warehouse's rows of these flights, as a request would bring them."""
        return self.flights.filter(pl.col("flight_id").is_in(flight_ids))

    def build(self, requested: pl.DataFrame, horizon_minutes: int = DEFAULT_HORIZON_MINUTES) -> pl.DataFrame:
        """The features of `requested` (rows with fct_flights' columns, FLIGHT_COLUMNS) at
        T = scheduled departure - horizon, as the batch build computes them. A requested flight
        the warehouse knows is computed from its requested row, not its stored one."""
        horizon = check_horizon(horizon_minutes)
        requested = requested.select(FLIGHT_COLUMNS).cast(dict(self.flights.schema))  # type: ignore[arg-type]
        days = {(day,) for day in requested["scheduled_departure_date"].to_list()}
        context = _rows_of(self.flights, self.flights_by_day, days).filter(
            ~pl.col("flight_id").is_in(requested["flight_id"].implode())
        )
        keys = requested.select(
            "flight_id",
            pl.col("carrier_code").alias("carrier"),
            "flight_number",
            pl.col("origin_airport_code").alias("origin"),
            pl.col("dest_airport_code").alias("dest"),
            pl.col("scheduled_departure_local").dt.hour().cast(pl.Int64).alias("scheduled_hour_local"),
            (pl.col("scheduled_departure_utc") - pl.duration(minutes=horizon)).alias("decision_at_utc"),
        )
        lookups = find_lookups(self.timelines, Probes.coded(keys, self.codes), threads=1)
        wanted = requested.filter(pl.col("tail_number").is_null()).select(
            pl.col("carrier_code").alias("carrier"),
            "flight_number",
            pl.col("origin_airport_code").alias("origin"),
        )
        flown = self.flown.join(wanted.unique(), on=["carrier", "flight_number", "origin"], how="semi")
        cursor = self.connection.cursor()
        try:
            cursor.register("fct_flights", pl.concat([context, requested]))
            cursor.register("requested", requested.select("flight_id"))
            cursor.register(LOOKUPS_RELATION, lookups)
            cursor.register("flown_days", flown)
            frame: pl.DataFrame = cursor.sql(online_feature_sql(horizon)).pl()
        finally:
            cursor.close()
        return frame


# The columns of fct_flights a schedule gives (before the flight leaves), as the online rows hold them.
SCHEDULE_SCHEMA: dict[str, Any] = {
    "flight_id": pl.String,
    "carrier_code": pl.String,
    "flight_number": pl.Int32,
    "tail_number": pl.String,
    "origin_airport_code": pl.String,
    "dest_airport_code": pl.String,
    "distance_miles": pl.Int32,
    "scheduled_departure_date": pl.Date,
    "scheduled_departure_utc": pl.Datetime("us"),
    "scheduled_departure_local": pl.Datetime("us"),
    "scheduled_arrival_utc": pl.Datetime("us"),
}


def request_rows(
    flights: list[dict[str, Any]],
) -> pl.DataFrame:
    """Rows with fct_flights' columns for flights described by their schedule alone: no outcome."""
    return pl.DataFrame(
        [
            {
                "flight_id": flight["flight_id"],
                "carrier_code": flight["carrier"],
                "flight_number": flight["flight_number"],
                "tail_number": flight.get("tailnum"),
                "origin_airport_code": flight["origin"],
                "dest_airport_code": flight["dest"],
                "distance_miles": flight.get("distance_miles"),
                "scheduled_departure_date": flight["scheduled_departure_local"].date(),
                "scheduled_departure_utc": flight["scheduled_departure_utc"],
                "scheduled_departure_local": flight["scheduled_departure_local"],
                "scheduled_arrival_utc": flight["scheduled_arrival_utc"],
                "actual_departure_utc": None,
                "actual_arrival_utc": None,
                "dep_delay_minutes": None,
                "arr_delay_minutes": None,
                "is_cancelled": False,
                "is_diverted": False,
            }
            for flight in flights
        ],
        schema={
            **SCHEDULE_SCHEMA,
            "actual_departure_utc": pl.Datetime("us"),
            "actual_arrival_utc": pl.Datetime("us"),
            "dep_delay_minutes": pl.Int32,
            "arr_delay_minutes": pl.Int32,
            "is_cancelled": pl.Boolean,
            "is_diverted": pl.Boolean,
        },
    )
