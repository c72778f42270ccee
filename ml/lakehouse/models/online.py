"""Features on demand: any flight (one the warehouse does not know included) as of its decision
time, from the same definitions and the same SQL as the batch build.

The batch build (`features.sql.feature_sql`) finds each lookup (the last row of a running total
before T, the latest weather known at T) with ASOF joins over every flight. Per request that would
mean sorting every running total again. So the lookups' sources are computed once, by the batch's
own SQL, and held sorted in memory (`OnlineFeatures.load`); a request finds each lookup's row by
binary search (the same rule: the last row strictly before the instant, or at it for the weather)
and hands the rows to `features.sql.online_feature_sql`, which computes every column with the
catalog's expressions, the aircraft's legs and the airports' schedule from the flights of the
requested days, and the stand-in aircraft, exactly as the batch does. A test computes known
flights this way and compares them with their batch features."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import polars as pl

from lakehouse.config import DEFAULT_HORIZON_MINUTES, check_horizon
from lakehouse.models.features.catalog import LOOKUPS, RUNNING_TOTALS
from lakehouse.models.features.sql import (
    Scope,
    event_sources,
    flown_days,
    lookup_columns,
    online_feature_sql,
    running_total,
    weather_cte,
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


def _micros(values: pl.Series) -> np.ndarray:
    return values.cast(pl.Datetime("us")).dt.epoch("us").to_numpy()


@dataclass(frozen=True)
class SortedRows:
    """A lookup's source sorted by partition, then instant: the last row before an instant of a
    partition is a binary search away."""

    frame: pl.DataFrame
    partition: tuple[str, ...]
    instants: np.ndarray
    ranges: dict[tuple[Any, ...], tuple[int, int]]

    @classmethod
    def of(cls, frame: pl.DataFrame, partition: tuple[str, ...], at: str = "at_utc") -> SortedRows:
        frame = frame.sort([*partition, at])
        ranges: dict[tuple[Any, ...], tuple[int, int]] = {}
        if partition:
            bounds = (
                frame.with_row_index("row")
                .group_by(partition, maintain_order=True)
                .agg(pl.col("row").min().alias("first"), pl.col("row").max().alias("last"))
            )
            for row in bounds.iter_rows(named=True):
                ranges[tuple(row[key] for key in partition)] = (row["first"], row["last"] + 1)
        else:
            ranges[()] = (0, frame.height)
        return cls(frame, partition, _micros(frame[at]), ranges)

    def last_before(self, keys: list[tuple[Any, ...]], instants: np.ndarray, inclusive: bool) -> pl.Series:
        """Per (key, instant): the row of the last instant before it (at or before, `inclusive`),
        None where the partition has none."""
        side: Literal["left", "right"] = "right" if inclusive else "left"
        found: list[int | None] = []
        for key, instant in zip(keys, instants, strict=True):
            first, end = self.ranges.get(key, (0, 0))
            position = first + int(np.searchsorted(self.instants[first:end], instant, side=side)) - 1
            found.append(position if position >= first else None)
        return pl.Series(found, dtype=pl.UInt32)


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
    """What the feature SQL reads, held in memory: the lookups' sources (sorted), the flights by
    day (for the requested days), the days each flight number flew, the planes and the dates."""

    sources: dict[str, SortedRows]
    flights: pl.DataFrame
    flown: pl.DataFrame
    connection: duckdb.DuckDBPyConnection
    flights_by_day: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)
    flown_by_number: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)
    # the columns each lookup brings, per alias
    lookup_frames: dict[str, pl.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.flights = self.flights.sort("scheduled_departure_date", "scheduled_departure_utc", "flight_id")
        self.flights_by_day = _ranges(self.flights, ["scheduled_departure_date"])
        numbers = ["carrier", "flight_number", "origin"]
        self.flown = self.flown.sort([*numbers, "scheduled_departure_date"])
        self.flown_by_number = _ranges(self.flown, numbers)
        self.lookup_frames = {
            lookup.alias: self.sources[lookup.cte].frame.select(lookup_columns(lookup)) for lookup in LOOKUPS
        }

    @classmethod
    def load(cls, warehouse: Path) -> OnlineFeatures:
        """Read a warehouse once (read-only, closed afterwards): the running totals and the weather
        as the batch's SQL computes them over every flight."""
        events = ",\n\n".join(event_sources())
        sources: dict[str, SortedRows] = {}
        with duckdb.connect(str(warehouse), read_only=True) as warehouse_connection:
            warehouse_connection.execute("set enable_progress_bar = false")
            for total in RUNNING_TOTALS:
                frame = warehouse_connection.sql(
                    f"with\n{events},\n\n{running_total(total, None)}\nselect * from {total.name}"
                ).pl()
                # sums of integers come back as 128-bit: every total fits 64 bits
                frame = frame.with_columns(pl.col(pl.Int128).cast(pl.Int64))
                sources[total.name] = SortedRows.of(frame, total.partition)
            weather = warehouse_connection.sql(f"with {weather_cte(Scope())}\nselect * from weather").pl()
            sources["weather"] = SortedRows.of(weather, ("origin",))
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
        return cls(sources, flights, flown, connection)

    def known(self, flight_ids: list[str]) -> pl.DataFrame:
        """The warehouse's rows of these flights, as a request would bring them."""
        return self.flights.filter(pl.col("flight_id").is_in(flight_ids))

    def lookups(self, probes: pl.DataFrame) -> pl.DataFrame:
        """Each lookup's row for each probe (flight_id, decision_at_utc and the partition columns
        under the feature SQL's names), as a struct column named after the lookup's alias: the
        catalog's `<alias>.<column>` reads its field."""
        columns: list[pl.Series] = [probes["flight_id"]]
        decision = _micros(probes["decision_at_utc"])
        for lookup in LOOKUPS:
            source = self.sources[lookup.cte]
            keys = (
                list(probes.select(lookup.partition).iter_rows())
                if lookup.partition
                else [()] * probes.height
            )
            instants = decision - lookup.minutes_before * 60_000_000
            found = source.last_before(keys, instants, inclusive=lookup.inclusive)
            rows = self.lookup_frames[lookup.alias].select(
                pl.struct(pl.all().gather(found)).alias(lookup.alias)
            )
            columns.append(rows.to_series())
        return pl.DataFrame(columns)

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
        probes = requested.select(
            "flight_id",
            pl.col("carrier_code").alias("carrier"),
            "flight_number",
            pl.col("origin_airport_code").alias("origin"),
            pl.col("dest_airport_code").alias("dest"),
            pl.col("scheduled_departure_local").dt.hour().cast(pl.Int64).alias("scheduled_hour_local"),
            (pl.col("scheduled_departure_utc") - pl.duration(minutes=horizon)).alias("decision_at_utc"),
        )
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
            cursor.register("lookups", self.lookups(probes))
            cursor.register("aircraft_flown", flown)
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
