"""Every column of the feature table, written once: its name, what kind of knowledge it holds and
the SQL that computes it at the flight's decision time T, from the lookups declared beside it.

The rules of what is known when are in the package docstring (`lakehouse.models.features`);
`sql.py` assembles these definitions into one SELECT. Names used in the expressions:

- `flight`: the flight itself (its schedule, and for keys and labels its outcome);
- `plane`, `day`: its aircraft in `dim_planes` (a stand-in's when it has no tail) and its date in
  `dim_dates`; `legs`, `scheduled_load`: its aircraft's day and its airport's scheduled hour;
- `<total>__<span>`: the last row of a running total (`RUNNING_TOTALS`) at T, or `span` before T
  (`now`, `60m`, `3h`, `7d`, ...), as declared in `LOOKUPS`; `weather__now` and `weather__3h` are
  the latest observation known at T and three hours before it."""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.config import LATE_AFTER_MINUTES, LOOKBACK_MINUTES

# The kinds of model input, in the order of the feature table's columns.
KINDS = ("categorical", "schedule", "aircraft", "weather", "live", "history")

T = "flight.decision_at_utc"


@dataclass(frozen=True)
class Column:
    """One column of the feature table and the SQL expression computing it."""

    name: str
    kind: str
    sql: str


# --- The events the live and history features count -----------------------------------------------

# Each measure is what one event adds (an integer), summed over the events before an instant.
_DEPARTURES = {"departed": "1", "delay_sum": "dep_delay_minutes"}
_LABELS = {"known": "1", "delayed": "case when is_delayed then 1 else 0 end"}
_COUNTED = {"n": "1"}


@dataclass(frozen=True)
class RunningTotal:
    """Totals of events over time: its name, the CTE of events it counts (`sql.event_sources`),
    what it is partitioned by, the instant an event is counted at, and the measures it adds up
    (what each event adds, an integer: integer sums are exact in any order, on every engine)."""

    name: str
    source: str
    partition: tuple[str, ...]
    at: str
    measures: dict[str, str]


RUNNING_TOTALS = [
    RunningTotal("origin_departed", "departed", ("origin",), "actual_departure_utc", _DEPARTURES),
    RunningTotal("nyc_departed", "departed", (), "actual_departure_utc", _DEPARTURES),
    RunningTotal("carrier_departed", "departed", ("carrier",), "actual_departure_utc", _DEPARTURES),
    RunningTotal("origin_scheduled", "ground", ("origin",), "scheduled_departure_utc", _COUNTED),
    RunningTotal("origin_left", "ground", ("origin",), "stops_waiting_at_utc", _COUNTED),
    RunningTotal("origin_overdue_from", "ground", ("origin",), "overdue_from_utc", _COUNTED),
    RunningTotal("origin_overdue_until", "ground", ("origin",), "overdue_until_utc", _COUNTED),
    RunningTotal("nyc_scheduled", "ground", (), "scheduled_departure_utc", _COUNTED),
    RunningTotal("nyc_left", "ground", (), "stops_waiting_at_utc", _COUNTED),
    RunningTotal("nyc_overdue_from", "ground", (), "overdue_from_utc", _COUNTED),
    RunningTotal("nyc_overdue_until", "ground", (), "overdue_until_utc", _COUNTED),
    RunningTotal("carrier_overdue_from", "ground", ("carrier",), "overdue_from_utc", _COUNTED),
    RunningTotal("carrier_overdue_until", "ground", ("carrier",), "overdue_until_utc", _COUNTED),
    RunningTotal("route_labels", "flights", ("origin", "dest"), "label_known_at_utc", _LABELS),
    RunningTotal("carrier_labels", "flights", ("carrier",), "label_known_at_utc", _LABELS),
    RunningTotal(
        "flight_number_labels", "flights", ("carrier", "flight_number"), "label_known_at_utc", _LABELS
    ),
    RunningTotal(
        "origin_hour_labels", "flights", ("origin", "scheduled_hour_local"), "label_known_at_utc", _LABELS
    ),
    RunningTotal("origin_labels", "flights", ("origin",), "label_known_at_utc", _LABELS),
    RunningTotal("nyc_labels", "flights", (), "label_known_at_utc", _LABELS),
    RunningTotal("carrier_origin_labels", "flights", ("carrier", "origin"), "label_known_at_utc", _LABELS),
]
_TOTALS = {total.name: total for total in RUNNING_TOTALS}


# --- The lookups: the last row of a running total (or of the weather) at or before an instant -----


def span(minutes: int) -> str:
    """How far before T a lookup looks, as its alias says it: now, 60m, 3h, 7d."""
    if minutes == 0:
        return "now"
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0 and minutes > 60:
        return f"{minutes // 60}h"
    return f"{minutes}m"


@dataclass(frozen=True)
class Lookup:
    """The last row of `cte` (per `partition`) before T - `minutes_before`: strictly before, unless
    `inclusive` (what happens at T is not known at T; a weather row's instant is when it became
    known, so it is usable at that instant)."""

    cte: str
    partition: tuple[str, ...]
    minutes_before: int = 0
    inclusive: bool = False

    def __post_init__(self) -> None:
        # a build month by month reads the events of LOOKBACK_MINUTES before its flights only
        if not 0 <= self.minutes_before <= LOOKBACK_MINUTES:
            raise ValueError(f"a lookup {self.minutes_before} minutes before T exceeds LOOKBACK_MINUTES")

    @property
    def alias(self) -> str:
        return f"{self.cte}__{span(self.minutes_before)}"


def _of(total: str, *minutes_before: int) -> list[Lookup]:
    return [Lookup(total, _TOTALS[total].partition, minutes) for minutes in minutes_before]


LOOKUPS = [
    *_of("origin_departed", 0, 60, 180),
    *_of("nyc_departed", 0, 60, 180),
    *_of("carrier_departed", 0, 180),
    *_of("origin_scheduled", 0),
    *_of("origin_left", 0),
    *_of("origin_overdue_from", 0),
    *_of("origin_overdue_until", 0),
    *_of("nyc_scheduled", 0),
    *_of("nyc_left", 0),
    *_of("nyc_overdue_from", 0),
    *_of("nyc_overdue_until", 0),
    *_of("carrier_overdue_from", 0),
    *_of("carrier_overdue_until", 0),
    *_of("route_labels", 0),
    *_of("carrier_labels", 0, 7 * 1440, 180),
    *_of("flight_number_labels", 0, 28 * 1440),
    *_of("origin_hour_labels", 0),
    *_of("origin_labels", 0, 7 * 1440, 180, 60),
    *_of("nyc_labels", 0, 180),
    *_of("carrier_origin_labels", 0, 180),
    Lookup("weather", ("origin",), 0, inclusive=True),
    Lookup("weather", ("origin",), 180, inclusive=True),
]


def _now(total: str, column: str) -> str:
    return f"coalesce({total}__now.{column}, 0)"


def _growth(total: str, column: str, minutes: int) -> str:
    """How much a running total grew over the `minutes` before T (0 when nothing happened)."""
    return f"{_now(total, column)} - coalesce({total}__{span(minutes)}.{column}, 0)"


def _mean_delay(total: str, minutes: int) -> str:
    """The mean departure delay of the departures counted over the `minutes` before T."""
    return f"({_growth(total, 'delay_sum', minutes)}) / nullif({_growth(total, 'departed', minutes)}, 0)"


def _rate(total: str, minutes: int | None = None) -> str:
    """The delayed share of the labels known before T (over the `minutes` before it, or ever)."""
    if minutes is None:
        return f"{total}__now.delayed / nullif({total}__now.known, 0)"
    return f"({_growth(total, 'delayed', minutes)}) / nullif({_growth(total, 'known', minutes)}, 0)"


def _open(started: str, ended: str) -> str:
    """How many have started and not yet ended at T (waiting, overdue)."""
    return f"{_now(started, 'n')} - {_now(ended, 'n')}"


# --- The columns ------------------------------------------------------------------------------------

_LATE = LATE_AFTER_MINUTES

COLUMNS = [
    # keys, labels and what the split and the per-group metrics need
    # "key": identifies the row; "label": its outcome. Never model inputs.
    Column("flight_id", "key", "flight.flight_id"),
    Column("scheduled_departure_utc", "key", "flight.scheduled_departure_utc"),
    Column("scheduled_departure_date", "key", "flight.scheduled_departure_date"),
    Column("horizon_minutes", "key", "flight.horizon_minutes"),
    Column("decision_at_utc", "key", T),
    Column("is_delayed", "label", "flight.is_delayed"),
    Column("is_delayed_departed", "label", "case when not flight.is_cancelled then flight.is_delayed end"),
    Column(
        "arr_delay_minutes",
        "label",
        "case when not flight.is_cancelled and not flight.is_diverted then flight.arr_delay_minutes end",
    ),
    Column("is_cancelled", "label", "flight.is_cancelled"),
    # schedule: known ahead
    Column("carrier", "categorical", "flight.carrier"),
    Column("origin", "categorical", "flight.origin"),
    Column("dest", "categorical", "flight.dest"),
    Column("manufacturer", "categorical", "plane.manufacturer"),
    Column("distance_miles", "schedule", "flight.distance_miles"),
    Column(
        "scheduled_block_minutes",
        "schedule",
        "datediff('minute', flight.scheduled_departure_utc, flight.scheduled_arrival_utc)",
    ),
    Column("scheduled_hour_local", "schedule", "flight.scheduled_hour_local"),
    Column("day_of_week", "schedule", "cast(isodow(flight.scheduled_departure_date) as bigint)"),
    Column("is_holiday", "schedule", "day.is_holiday"),
    Column("days_to_nearest_holiday", "schedule", "day.days_to_nearest_holiday"),
    Column("scheduled_departures_origin_hour", "schedule", "scheduled_load.origin_hour"),
    Column("scheduled_departures_origin_day", "schedule", "scheduled_load.origin_day"),
    Column("scheduled_departures_nyc_hour", "schedule", "scheduled_load.nyc_hour"),
    # the aircraft
    Column("is_plane_unknown", "aircraft", "coalesce(plane.is_missing_from_registry, true)"),
    Column(
        "plane_age_years",
        "aircraft",
        "cast(year(flight.scheduled_departure_date) as bigint) - plane.year_manufactured",
    ),
    Column("seat_count", "aircraft", "plane.seat_count"),
    Column("engine_count", "aircraft", "plane.engine_count"),
    # a flight without a tail is on no aircraft's day: a first leg, like a stand-in's
    Column("earlier_legs_today", "aircraft", "coalesce(legs.earlier_legs_today, 0)"),
    Column(
        "minutes_since_previous_leg",
        "aircraft",
        "datediff('minute', legs.previous_leg_scheduled_utc, flight.scheduled_departure_utc)",
    ),
    Column(
        "previous_leg_dep_delay_minutes",
        "aircraft",
        f"case when legs.previous_leg_departed_utc < {T} then legs.previous_leg_dep_delay_minutes end",
    ),
    Column(
        "is_previous_leg_overdue",
        "aircraft",
        f"legs.previous_leg_scheduled_utc + interval {_LATE} minute < {T} "
        f"and not coalesce(legs.previous_leg_departed_utc < {T}, false)",
    ),
    Column(
        "previous_leg_arr_delay_minutes",
        "aircraft",
        f"case when legs.previous_leg_arrived_utc < {T} then legs.previous_leg_arr_delay_minutes end",
    ),
    # Minutes between the aircraft's expected return to New York and this flight's scheduled
    # departure, the return assumed as long as the previous leg's scheduled block: from the
    # previous leg's arrival if it landed before T, else from its departure if it left before
    # T, else from its scheduled departure or T, whichever is later (it has not left by T).
    Column(
        "aircraft_return_slack_minutes",
        "aircraft",
        "datediff('minute', case"
        f" when legs.previous_leg_arrived_utc < {T}"
        " then legs.previous_leg_arrived_utc + to_minutes(legs.previous_leg_block_minutes)"
        f" when legs.previous_leg_departed_utc < {T}"
        " then legs.previous_leg_departed_utc + to_minutes(2 * legs.previous_leg_block_minutes)"
        f" else greatest(legs.previous_leg_scheduled_utc, {T})"
        " + to_minutes(2 * legs.previous_leg_block_minutes)"
        " end, flight.scheduled_departure_utc)",
    ),
    # the weather observed at the origin
    Column("weather_age_minutes", "weather", f"datediff('minute', weather__now.at_utc, {T})"),
    Column("temperature_f", "weather", "weather__now.temperature_f"),
    Column("dew_point_f", "weather", "weather__now.dew_point_f"),
    Column("relative_humidity_pct", "weather", "weather__now.relative_humidity_pct"),
    Column("wind_speed_mph", "weather", "weather__now.wind_speed_mph"),
    Column("wind_gust_mph", "weather", "weather__now.wind_gust_mph"),
    Column("precipitation_in", "weather", "weather__now.precipitation_in"),
    Column("pressure_mb", "weather", "weather__now.pressure_mb"),
    Column("visibility_mi", "weather", "weather__now.visibility_mi"),
    Column("has_out_of_range_weather", "weather", "weather__now.has_out_of_range_reading"),
    Column("temperature_change_3h", "weather", "weather__now.temperature_f - weather__3h.temperature_f"),
    Column("pressure_change_3h", "weather", "weather__now.pressure_mb - weather__3h.pressure_mb"),
    Column("visibility_change_3h", "weather", "weather__now.visibility_mi - weather__3h.visibility_mi"),
    Column("precipitation_3h_in", "weather", "weather__now.precipitation_3h_in"),
    # the live state at T
    Column("origin_departures_60m", "live", _growth("origin_departed", "departed", 60)),
    Column("origin_mean_delay_60m", "live", _mean_delay("origin_departed", 60)),
    Column("origin_departures_180m", "live", _growth("origin_departed", "departed", 180)),
    Column("origin_mean_delay_180m", "live", _mean_delay("origin_departed", 180)),
    Column("origin_waiting", "live", _open("origin_scheduled", "origin_left")),
    Column("origin_overdue", "live", _open("origin_overdue_from", "origin_overdue_until")),
    Column("nyc_departures_60m", "live", _growth("nyc_departed", "departed", 60)),
    Column("nyc_mean_delay_60m", "live", _mean_delay("nyc_departed", 60)),
    Column("nyc_mean_delay_180m", "live", _mean_delay("nyc_departed", 180)),
    Column("nyc_waiting", "live", _open("nyc_scheduled", "nyc_left")),
    Column("nyc_overdue", "live", _open("nyc_overdue_from", "nyc_overdue_until")),
    Column("carrier_departures_180m", "live", _growth("carrier_departed", "departed", 180)),
    Column("carrier_mean_delay_180m", "live", _mean_delay("carrier_departed", 180)),
    Column("carrier_overdue", "live", _open("carrier_overdue_from", "carrier_overdue_until")),
    # history: outcomes settled before T
    Column("route_flights_known", "history", _now("route_labels", "known")),
    Column("route_delay_rate", "history", _rate("route_labels")),
    Column("carrier_flights_known", "history", _now("carrier_labels", "known")),
    Column("carrier_delay_rate", "history", _rate("carrier_labels")),
    Column("flight_number_flights_known", "history", _now("flight_number_labels", "known")),
    Column("flight_number_delay_rate", "history", _rate("flight_number_labels")),
    Column("origin_hour_flights_known", "history", _now("origin_hour_labels", "known")),
    Column("origin_hour_delay_rate", "history", _rate("origin_hour_labels")),
    Column("carrier_delay_rate_7d", "history", _rate("carrier_labels", 7 * 1440)),
    Column("origin_delay_rate_7d", "history", _rate("origin_labels", 7 * 1440)),
    Column("origin_delay_rate_3h", "history", _rate("origin_labels", 180)),
    Column("nyc_delay_rate_3h", "history", _rate("nyc_labels", 180)),
    Column("carrier_delay_rate_3h", "history", _rate("carrier_labels", 180)),
    Column("flight_number_delay_rate_28d", "history", _rate("flight_number_labels", 28 * 1440)),
    Column("carrier_origin_delay_rate_3h", "history", _rate("carrier_origin_labels", 180)),
    Column("origin_delay_rate_1h", "history", _rate("origin_labels", 60)),
]


@dataclass(frozen=True)
class FeatureSet:
    """Names of the model inputs, by the kind of knowledge they hold."""

    categorical: tuple[str, ...]
    schedule: tuple[str, ...]
    aircraft: tuple[str, ...]
    weather: tuple[str, ...]
    live: tuple[str, ...]
    history: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.categorical + self.schedule + self.aircraft + self.weather + self.live + self.history

    @property
    def schedule_only(self) -> tuple[str, ...]:
        return self.categorical + self.schedule

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(name for name in self.all if name not in self.categorical)


def _names(kind: str) -> tuple[str, ...]:
    return tuple(column.name for column in COLUMNS if column.kind == kind)


FEATURES = FeatureSet(*(_names(kind) for kind in KINDS))
