"""The events an operations desk receives, and the rules of when each becomes known.

Five kinds, each stamped `known_at`, the instant the project's rules say it became known:

- `schedule`: a flight's schedule and aircraft, from local midnight `SCHEDULE_KNOWN_DAYS_AHEAD`
  days before its local date;
- `departure`: at the actual departure;
- `arrival`: at the actual arrival (a diverted flight never arrives at its destination);
- `overdue`: a flight not gone `LABEL_KNOWN_AFTER_MINUTES` after its schedule is late, known then;
- `weather`: an observation labelled hour H, at H + the weather lag.

`event_rows` reads them from a warehouse (the landed data as staged: the rows the warehouse
accepted) with SQL that states each rule once; the live store applies the same rules to bootstrap
its state at an instant (`lakehouse.live.store`). On the wire an event is JSON (`to_json`),
checked field by field by `EVENT`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import duckdb
import polars as pl
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    TypeAdapter,
    field_validator,
    model_validator,
)

from lakehouse.common.instants import Instant
from lakehouse.config import (
    LABEL_KNOWN_AFTER_MINUTES,
    ORIGIN_TIME_ZONE,
    SCHEDULE_KNOWN_DAYS_AHEAD,
    WEATHER_LAG_MINUTES,
    WEATHER_READING_BOUNDS,
)
from lakehouse.models.features.sql import WEATHER_READINGS
from lakehouse.models.online import SCHEDULE_SCHEMA

# --- The rules of what is known when (SQL over fct_flights and staged weather) ---------------------

KNOWN_AT = {
    "schedule": (
        f"timezone('{ORIGIN_TIME_ZONE}', cast(scheduled_departure_date - {SCHEDULE_KNOWN_DAYS_AHEAD}"
        " as timestamp)) at time zone 'UTC'"
    ),
    "departure": "actual_departure_utc",
    "arrival": "actual_arrival_utc",
    "overdue": f"scheduled_departure_utc + to_minutes({LABEL_KNOWN_AFTER_MINUTES})",
    "weather": f"observed_hour_utc + to_minutes({WEATHER_LAG_MINUTES})",
}
# Which flights have each event at all.
HAPPENS = {
    "schedule": "true",
    "departure": "actual_departure_utc is not null",
    "arrival": "arr_delay_minutes is not null",
    "overdue": f"coalesce(actual_departure_utc > {KNOWN_AT['overdue']}, true)",
    "weather": "true",
}
# What each event carries beside its kind, id and instant.
PAYLOAD = {
    "schedule": (
        "flight_id",
        "carrier_code",
        "flight_number",
        "tail_number",
        "origin_airport_code",
        "dest_airport_code",
        "distance_miles",
        "scheduled_departure_local",
        "scheduled_departure_utc",
        "scheduled_arrival_utc",
    ),
    "departure": ("flight_id", "actual_departure_utc", "dep_delay_minutes"),
    "arrival": ("flight_id", "actual_arrival_utc", "arr_delay_minutes"),
    "overdue": ("flight_id",),
    "weather": ("airport_code", "observed_hour_utc", *WEATHER_READINGS),
}
FLIGHT_KINDS = ("schedule", "departure", "arrival", "overdue")


def event_id(kind: str, row: dict[str, Any]) -> str:
    """The id that makes redelivery harmless: one event of a kind per flight (per airport and
    hour for the weather)."""
    if kind == "weather":
        return f"weather/{row['airport_code']}/{row['observed_hour_utc']:%Y-%m-%dT%H}"
    return f"{kind}/{row['flight_id']}"


def known_sql(kind: str, since: datetime | None, until: datetime | None) -> str:
    """The condition on an event of `kind` known after `since` and at or before `until`."""
    known = KNOWN_AT[kind]
    conditions = [HAPPENS[kind]]
    if since is not None:
        conditions.append(f"{known} > timestamp '{since:%Y-%m-%d %H:%M:%S.%f}'")
    if until is not None:
        conditions.append(f"{known} <= timestamp '{until:%Y-%m-%d %H:%M:%S.%f}'")
    return " and ".join(conditions)


def event_rows(
    connection: duckdb.DuckDBPyConnection, since: datetime | None, until: datetime | None
) -> dict[str, pl.DataFrame]:
    """Per kind, the events known after `since` and at or before `until` (naive UTC), ordered by
    `known_at_utc`."""
    frames = {}
    for kind, columns in PAYLOAD.items():
        table = "stg_nycflights__weather" if kind == "weather" else "fct_flights"
        frames[kind] = connection.sql(
            f"select {KNOWN_AT[kind]} as known_at_utc, {', '.join(columns)} from {table} "
            f"where {known_sql(kind, since, until)} order by known_at_utc"
        ).pl()
    return frames


# --- On the wire -----------------------------------------------------------------------------------


def utc(instant: datetime) -> datetime:
    """An aware instant as naive UTC (the warehouse's convention)."""
    return instant.astimezone(UTC).replace(tzinfo=None)


def iso(instant: datetime | None) -> str | None:
    """A naive UTC instant as ISO 8601 with Z."""
    return None if instant is None else instant.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def to_json(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """One event as it travels: instants ISO 8601 with an offset (the scheduled departure in its
    origin's local time, the rest in UTC)."""
    event: dict[str, Any] = {"kind": kind, "id": event_id(kind, row), "known_at": iso(row["known_at_utc"])}
    if kind == "schedule":
        offset = row["scheduled_departure_local"] - row["scheduled_departure_utc"]
        local = row["scheduled_departure_local"].replace(tzinfo=_zone(offset))
        event |= {
            "flight_id": row["flight_id"],
            "carrier": row["carrier_code"],
            "flight_number": row["flight_number"],
            "tailnum": row["tail_number"],
            "origin": row["origin_airport_code"],
            "dest": row["dest_airport_code"],
            "distance_miles": row["distance_miles"],
            "scheduled_departure": local.isoformat(),
            "scheduled_arrival": iso(row["scheduled_arrival_utc"]),
        }
    elif kind == "departure":
        event |= {
            "flight_id": row["flight_id"],
            "actual_departure": iso(row["actual_departure_utc"]),
            "dep_delay_minutes": row["dep_delay_minutes"],
        }
    elif kind == "arrival":
        event |= {
            "flight_id": row["flight_id"],
            "actual_arrival": iso(row["actual_arrival_utc"]),
            "arr_delay_minutes": row["arr_delay_minutes"],
        }
    elif kind == "overdue":
        event |= {"flight_id": row["flight_id"]}
    else:
        event |= {
            "airport": row["airport_code"],
            "observed_hour": iso(row["observed_hour_utc"]),
            **{reading: row[reading] for reading in WEATHER_READINGS},
        }
    return event


def _zone(offset: timedelta) -> Any:
    from datetime import timezone

    return timezone(offset)


def feed_order(frames: dict[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """Every event of `frames` as JSON, in the order they became known (ties: kind, then id)."""
    events = [to_json(kind, row) for kind, frame in frames.items() for row in frame.iter_rows(named=True)]
    rank = {kind: i for i, kind in enumerate(PAYLOAD)}
    events.sort(key=lambda e: (e["known_at"], rank[e["kind"]], e["id"]))
    return events


def canonical(event: dict[str, Any]) -> str:
    """The text two deliveries of the same event share (key order does not matter)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)


# --- Validation ------------------------------------------------------------------------------------

# Printable ASCII without spaces: ids travel in paths, logs and file names.
FlightId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")]
Minutes = Annotated[StrictInt, Field(ge=-24 * 60, le=7 * 24 * 60)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[!-~]+$")]
    known_at: Instant


class ScheduleEvent(_Event):
    """A flight's schedule and aircraft (`tailnum` may be unknown)."""

    kind: Literal["schedule"]
    flight_id: FlightId
    carrier: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]
    flight_number: Annotated[StrictInt, Field(ge=1, le=9999)]
    tailnum: Annotated[str | None, Field(pattern=r"^[A-Z0-9]{2,7}$")] = None
    origin: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    dest: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    distance_miles: Annotated[StrictInt | None, Field(ge=1, le=10_000)] = None
    scheduled_departure: Instant = Field(description="In the origin's local time (its offset).")
    scheduled_arrival: Instant


class DepartureEvent(_Event):
    kind: Literal["departure"]
    flight_id: FlightId
    actual_departure: Instant
    dep_delay_minutes: Minutes


class ArrivalEvent(_Event):
    kind: Literal["arrival"]
    flight_id: FlightId
    actual_arrival: Instant
    arr_delay_minutes: Minutes


class OverdueEvent(_Event):
    """The flight has not left `LABEL_KNOWN_AFTER_MINUTES` after its schedule: it is late."""

    kind: Literal["overdue"]
    flight_id: FlightId


class WeatherEvent(_Event):
    """One hour's observation at an airport, as staged (readings out of range are null and
    flagged)."""

    kind: Literal["weather"]
    airport: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    observed_hour: Instant
    temperature_f: float | None = None
    dew_point_f: float | None = None
    relative_humidity_pct: float | None = None
    wind_speed_mph: float | None = None
    wind_gust_mph: float | None = None
    precipitation_in: float | None = None
    pressure_mb: float | None = None
    visibility_mi: float | None = None
    has_out_of_range_reading: StrictBool = False

    @field_validator("observed_hour")
    @classmethod
    def _whole_hour(cls, value: datetime) -> datetime:
        in_utc = utc(value)
        if (in_utc.minute, in_utc.second, in_utc.microsecond) != (0, 0, 0):
            raise ValueError("an hour's label: a whole hour, e.g. 2013-12-10T11:00:00Z")
        return value

    @model_validator(mode="after")
    def _staged_readings(self) -> WeatherEvent:
        for name, (low, high) in WEATHER_READING_BOUNDS.items():
            value = getattr(self, name, None)
            if value is not None and not low <= value <= high:
                raise ValueError(
                    f"{name} {value} is outside its physical range [{low:g}, {high:g}]: staged readings "
                    "out of range are null, with has_out_of_range_reading"
                )
        return self


Event = Annotated[
    ScheduleEvent | DepartureEvent | ArrivalEvent | OverdueEvent | WeatherEvent,
    Field(discriminator="kind"),
]
EVENT: TypeAdapter[Event] = TypeAdapter(Event)


def reported_instant(event: Event) -> datetime | None:
    """The instant an event reports (naive UTC): it cannot be known before it happened."""
    if isinstance(event, DepartureEvent):
        return utc(event.actual_departure)
    if isinstance(event, ArrivalEvent):
        return utc(event.actual_arrival)
    if isinstance(event, WeatherEvent):
        return utc(event.observed_hour) + timedelta(minutes=WEATHER_LAG_MINUTES)
    return None


# The columns of each kind's rows as the store holds them (see `to_rows`).
SCHEMAS: dict[str, dict[str, Any]] = {
    "schedule": SCHEDULE_SCHEMA,
    "departure": {
        "flight_id": pl.String,
        "actual_departure_utc": pl.Datetime("us"),
        "dep_delay_minutes": pl.Int32,
    },
    "arrival": {
        "flight_id": pl.String,
        "actual_arrival_utc": pl.Datetime("us"),
        "arr_delay_minutes": pl.Int32,
    },
    "overdue": {"flight_id": pl.String},
    "weather": {
        "airport_code": pl.String,
        "observed_hour_utc": pl.Datetime("us"),
        **{reading: pl.Float64 for reading in WEATHER_READINGS if reading != "has_out_of_range_reading"},
        "has_out_of_range_reading": pl.Boolean,
    },
}


def to_rows(events: list[Event]) -> dict[str, pl.DataFrame]:
    """Checked events as the store's rows, per kind (every kind present, maybe empty)."""
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SCHEMAS}
    for event in events:
        if isinstance(event, ScheduleEvent):
            local = event.scheduled_departure.replace(tzinfo=None)
            rows["schedule"].append(
                {
                    "flight_id": event.flight_id,
                    "carrier_code": event.carrier,
                    "flight_number": event.flight_number,
                    "tail_number": event.tailnum,
                    "origin_airport_code": event.origin,
                    "dest_airport_code": event.dest,
                    "distance_miles": event.distance_miles,
                    "scheduled_departure_date": local.date(),
                    "scheduled_departure_utc": utc(event.scheduled_departure),
                    "scheduled_departure_local": local,
                    "scheduled_arrival_utc": utc(event.scheduled_arrival),
                }
            )
        elif isinstance(event, DepartureEvent):
            rows["departure"].append(
                {
                    "flight_id": event.flight_id,
                    "actual_departure_utc": utc(event.actual_departure),
                    "dep_delay_minutes": event.dep_delay_minutes,
                }
            )
        elif isinstance(event, ArrivalEvent):
            rows["arrival"].append(
                {
                    "flight_id": event.flight_id,
                    "actual_arrival_utc": utc(event.actual_arrival),
                    "arr_delay_minutes": event.arr_delay_minutes,
                }
            )
        elif isinstance(event, OverdueEvent):
            rows["overdue"].append({"flight_id": event.flight_id})
        else:
            rows["weather"].append(
                {
                    "airport_code": event.airport,
                    "observed_hour_utc": utc(event.observed_hour),
                    **{reading: getattr(event, reading) for reading in WEATHER_READINGS},
                }
            )
    return {kind: pl.DataFrame(rows[kind], schema=SCHEMAS[kind]) for kind in SCHEMAS}
