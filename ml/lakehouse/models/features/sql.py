"""The feature SELECT, assembled from the definitions in `catalog.py`.

Its parts, in the order they appear:

1. the scope: which flights are probed (all, or those scheduled in a window) and which rows the
   rest reads for them (`Scope`);
2. the event sources: the flights with their instants and outcomes, the departures and the
   flights on the ground (`event_sources`);
3. the probes: the flights whose features are computed, with their decision time T;
4. the aircraft: a stand-in for a flight without a tail, and each aircraft's earlier legs;
5. the running totals of events and the weather as observed (`running_total`, `_weather`);
6. the lookups: an ASOF join per `catalog.LOOKUPS` entry on narrow rows (`as_of`);
7. the SELECT of `catalog.COLUMNS` over the probes joined to all of the above."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lakehouse.config import (
    LABEL_KNOWN_AFTER_MINUTES,
    LATE_AFTER_MINUTES,
    LOOKBACK_MINUTES,
    WAITING_CAP_MINUTES,
    WEATHER_LAG_MINUTES,
    check_horizon,
)
from lakehouse.models.features.catalog import COLUMNS, LOOKUPS, RUNNING_TOTALS, Lookup, RunningTotal

# --- Instants and ranges ----------------------------------------------------------------------------


def timestamp(instant: datetime) -> str:
    return f"timestamp '{instant:%Y-%m-%d %H:%M:%S}'"


def lookback_start(start: datetime, horizon_minutes: int) -> datetime:
    """The earliest instant a lookup of a flight scheduled from `start` on asks about."""
    return start - timedelta(minutes=horizon_minutes + LOOKBACK_MINUTES)


def weather_known_before(instant: datetime, lag_minutes: int = WEATHER_LAG_MINUTES) -> datetime:
    """The observation hours known before `instant`: those labelled before it minus the lag."""
    return instant - timedelta(minutes=lag_minutes)


def scheduled_in(first: datetime, last: datetime) -> str:
    """The condition on a flight scheduled (UTC) from `first` and before `last`."""
    return f"scheduled_departure_utc >= {timestamp(first)} and scheduled_departure_utc < {timestamp(last)}"


# --- The event sources --------------------------------------------------------------------------------


def event_sources(flights_where: str = "true") -> list[str]:
    """The flights (keys, instants, outcomes) and the events the running totals count."""
    late = LATE_AFTER_MINUTES
    settled = LABEL_KNOWN_AFTER_MINUTES
    cap = WAITING_CAP_MINUTES
    return [
        f"""flights as (
    select
        flight_id,
        carrier_code as carrier,
        flight_number,
        tail_number as tailnum,
        origin_airport_code as origin,
        dest_airport_code as dest,
        distance_miles,
        scheduled_departure_date,
        scheduled_departure_utc,
        scheduled_departure_local,
        scheduled_arrival_utc,
        actual_departure_utc,
        -- landed at its destination (a diverted flight has no arrival delay: not counted as landed)
        case when arr_delay_minutes is not null then actual_arrival_utc end as actual_arrival_utc,
        dep_delay_minutes,
        arr_delay_minutes,
        is_cancelled,
        is_diverted,
        -- bigint, as DuckDB's hour() is (Spark's is an int), here and below
        cast(hour(scheduled_departure_local) as bigint) as scheduled_hour_local,
        is_cancelled or dep_delay_minutes > {late} as is_delayed,
        -- the label is settled when the flight leaves, or {settled} minutes after its schedule
        least(
            coalesce(actual_departure_utc, scheduled_departure_utc + to_minutes({settled})),
            scheduled_departure_utc + to_minutes({settled})
        ) as label_known_at_utc,
        -- on the ground from its scheduled time until it leaves, counted for {cap} minutes at most
        least(
            greatest(coalesce(actual_departure_utc, scheduled_departure_utc + to_minutes({cap})),
                scheduled_departure_utc),
            scheduled_departure_utc + to_minutes({cap})
        ) as stops_waiting_at_utc
    from fct_flights
    where {flights_where}
)""",
        """departed as (
    select origin, carrier, actual_departure_utc, dep_delay_minutes
    from flights
    where actual_departure_utc is not null
)""",
        # Overdue from `late` minutes after the schedule until the flight stops waiting.
        f"""ground as (
    select
        origin,
        carrier,
        scheduled_departure_utc,
        stops_waiting_at_utc,
        scheduled_departure_utc + to_minutes({late}) as overdue_from_utc,
        greatest(stops_waiting_at_utc, scheduled_departure_utc + to_minutes({late})) as overdue_until_utc
    from flights
)""",
    ]


# --- Running totals -------------------------------------------------------------------------------------


def aggregate(total: RunningTotal, where: str, semi_join: str = "") -> str:
    """The SELECT adding up `total`'s measures over its events matching `where` (and `semi_join`),
    per partition (only partitions with events)."""
    keys = ", ".join(total.partition)
    measures = ", ".join(f"{expression} as {column}" for column, expression in total.measures.items())
    return f"""select {keys}{", " if keys else ""}{measures}
    from {total.source}
    {semi_join}
    where {where}
    {f"group by {keys}" if keys else ""}
    having count(*) > 0"""


def carried_totals(total: RunningTotal, since: str | None, before: str, flights_where: str = "true") -> str:
    """`aggregate` over the events from `since` (or the first) to before `before`, with the CTEs
    of the events read from the flights matching `flights_where`."""
    sources = ",\n\n".join(event_sources(flights_where))
    lower = f"{total.at} >= {since} and " if since else ""
    return f"with\n{sources}\n{aggregate(total, f'{lower}{total.at} < {before}')}"


def added_totals(total: RunningTotal, table: str, more: str) -> str:
    """The totals in `table` plus those of the SELECT `more`, per partition (counts stay BIGINT,
    as the one-pass build has them)."""
    keys = ", ".join(total.partition)
    sums = ", ".join(
        f"cast(sum({column}) as bigint) as {column}"
        if expression == "count(*)"
        else f"sum({column}) as {column}"
        for column, expression in total.measures.items()
    )
    return f"""select {keys}{", " if keys else ""}{sums}
from (select * from {table} union all select * from ({more}))
{f"group by {keys}" if keys else ""}
having count(*) > 0"""


def running_total(
    total: RunningTotal, between: tuple[str, str] | None, carried_from: str | None = None
) -> str:
    """A CTE of running totals ordered by instant `at`. The default window frame (range, up to the
    current row) gives rows with the same instant the same totals, so an ASOF match is exact.

    With `between` (since, until), only the rows from `since` to before `until` are sorted (the
    lookups ask for nothing else), and each total starts from what the rows before `since` add up
    to: a streaming aggregate over them, or the table `carried_from` + name already holding it
    (`build.write_features`). The same totals, from a sort bounded by the instants asked for."""
    name, source, partition, at, measures = (
        total.name,
        total.source,
        total.partition,
        total.at,
        total.measures,
    )
    keys = ", ".join(partition)
    over = f"partition by {keys} order by {at}" if partition else f"order by {at}"
    selected = ", ".join([*partition, f"{at} as at_utc"])
    if between is None:
        totals = ",\n        ".join(
            f"{expression} over ({over}) as {column}" for column, expression in measures.items()
        )
        return f"""{name} as (
    select distinct
        {selected},
        {totals}
    from {source}
    where {at} is not null
)"""
    since, until = between
    totals = ",\n        ".join(
        f"coalesce(carried.{column}, 0) + {expression} over ({over}) as {column}"
        for column, expression in measures.items()
    )
    on = f"using ({keys})" if partition else "on true"
    # Only the partitions of the flights looked up (`keys`): no lookup asks for the others, and the
    # carried totals hold every partition ever seen.
    probed = f"semi join (select distinct {keys} from keys) as probed using ({keys})" if partition else ""
    carried_rows = (
        f"select * from {carried_from}{name} {probed}"
        if carried_from
        else aggregate(total, f"{at} < {since}", probed)
    )
    # The carried totals stand as one row just before `since`: a lookup between `since` and the
    # first row after it finds them, as it would find the last row before `since`.
    return f"""{name}_carried as (
    {carried_rows}
),

{name} as (
    select {", ".join(partition)}{", " if partition else ""}{since} - interval 1 microsecond as at_utc, {
        ", ".join(measures)
    }
    from {name}_carried
    union all
    select distinct
        {selected},
        {totals}
    from {source}
    {probed}
    left join {name}_carried as carried {on}
    where {at} >= {since} and {at} < {until}
)"""


# --- The aircraft -----------------------------------------------------------------------------------------


def flown_days(where: str, wanted: str = "") -> str:
    """The aircraft of each carrier, flight number, origin and day matching `where` (the first tail
    when it flew twice), of the flight numbers of the subquery `wanted` (default all)."""
    semi_join = (
        f"""semi join ({wanted}) as wanted
        on flight.carrier_code = wanted.carrier
        and flight.flight_number = wanted.flight_number
        and flight.origin_airport_code = wanted.origin"""
        if wanted
        else ""
    )
    return f"""select
        carrier_code as carrier,
        flight.flight_number,
        origin_airport_code as origin,
        scheduled_departure_date,
        min(tail_number) as tailnum
    from fct_flights as flight
    {semi_join}
    where tail_number is not null and {where}
    group by carrier_code, flight.flight_number, origin_airport_code, scheduled_departure_date"""


def last_flown(days: str) -> str:
    """Of the SELECT `days` (`flown_days` rows), the latest day of each flight number and origin:
    all a stand-in lookup from a later day can match."""
    return f"""select carrier, flight_number, origin,
    max(scheduled_departure_date) as scheduled_departure_date,
    arg_max(tailnum, scheduled_departure_date) as tailnum
from ({days})
group by carrier, flight_number, origin"""


# The flight numbers a stand-in aircraft is looked up for: those of probed flights without a tail.
_WANTED = "select carrier, flight_number, origin from probes where tailnum is null"


def _aircraft(scope: Scope, portable: bool = False) -> list[str]:
    """A stand-in aircraft for each probed flight without a tail, and each aircraft's earlier
    departures from New York on the same local day (the schedule: known)."""
    return [*_stand_in(scope, portable), _legs(scope)]


def _stand_in(scope: Scope, portable: bool = False) -> list[str]:
    """The aircraft that flew a tailless flight's carrier, flight number and origin on the latest
    earlier day."""
    flown = f"""aircraft_flown as (
    {scope.aircraft_flown}
)"""
    if portable:
        return [
            flown,
            timeline_as_of(
                "stand_in_aircraft",
                rows="aircraft_flown",
                row_at="scheduled_departure_date",
                columns=["tailnum"],
                probes="probes",
                probe_at="scheduled_departure_date",
                partition=["carrier", "flight_number", "origin"],
                inclusive=False,
                probes_where="tailnum is null",
            ),
        ]
    return [
        flown,
        """stand_in_aircraft as (
    select flight.flight_id, flown.tailnum
    from probes as flight
    asof left join aircraft_flown as flown
        on flight.carrier = flown.carrier
        and flight.flight_number = flown.flight_number
        and flight.origin = flown.origin
        and flight.scheduled_departure_date > flown.scheduled_departure_date
    where flight.tailnum is null
)""",
    ]


def _legs(scope: Scope) -> str:
    """The aircraft's earlier departures from New York on the same local day (the schedule)."""
    return f"""legs as (
    select
        flight_id,
        cast(row_number() over day_legs as bigint) - 1 as earlier_legs_today,
        lag(scheduled_departure_utc) over day_legs as previous_leg_scheduled_utc,
        lag(actual_departure_utc) over day_legs as previous_leg_departed_utc,
        lag(dep_delay_minutes) over day_legs as previous_leg_dep_delay_minutes,
        lag(actual_arrival_utc) over day_legs as previous_leg_arrived_utc,
        lag(arr_delay_minutes) over day_legs as previous_leg_arr_delay_minutes,
        lag(datediff('minute', scheduled_departure_utc, scheduled_arrival_utc)) over day_legs
            as previous_leg_block_minutes
    from flights
    where tailnum is not null and {scope.days}
    window day_legs as (
        partition by tailnum, scheduled_departure_date order by scheduled_departure_utc, flight_id
    )
)"""


# --- The weather ------------------------------------------------------------------------------------------

# The readings of staged weather a lookup brings, as observed, and what the `weather` CTE adds.
WEATHER_READINGS = (
    "temperature_f",
    "dew_point_f",
    "relative_humidity_pct",
    "wind_speed_mph",
    "wind_gust_mph",
    "precipitation_in",
    "pressure_mb",
    "visibility_mi",
    "has_out_of_range_reading",
)
WEATHER_COLUMNS = (*WEATHER_READINGS, "precipitation_3h_in")


def observed_in(first: datetime | None, last: datetime) -> str:
    """Staged weather observed (its hour, UTC) from `first` (or the first) and before `last`."""
    lower = f"observed_hour_utc >= {timestamp(first)} and " if first else ""
    return f"select * from stg_nycflights__weather where {lower}observed_hour_utc < {timestamp(last)}"


def last_observed(rows: str) -> str:
    """Of the SELECT `rows` (staged weather), each airport's last observation and those of the two
    hours before it (its 3-hour precipitation adds them up): all a lookup after them can use."""
    return f"""select observed.*
from ({rows}) as observed
join (select airport_code, max(observed_hour_utc) as last_hour from ({rows}) group by airport_code)
    using (airport_code)
where observed_hour_utc >= last_hour - interval 2 hour"""


def weather_cte(scope: Scope) -> str:
    """Weather as observed (staging), available from its hour + the lag."""
    readings = "".join(f"\n        {column}," for column in WEATHER_READINGS)
    return f"""weather as (
    select
        airport_code as origin,
        observed_hour_utc + to_minutes({scope.weather_lag_minutes}) as at_utc,{readings}
        sum(precipitation_in) over (
            partition by airport_code order by observed_hour_utc
            range between interval 2 hour preceding and current row
        ) as precipitation_3h_in
    from {scope.weather_rows}
)"""


# --- The schedule ---------------------------------------------------------------------------------------


def _scheduled_load(scope: Scope) -> str:
    """Departures scheduled at the flight's airport in its hour and day, and at New York in its hour."""
    return f"""scheduled_load as (
    select
        flight_id,
        count(*) over (partition by origin, scheduled_departure_date, scheduled_hour_local) as origin_hour,
        count(*) over (partition by origin, scheduled_departure_date) as origin_day,
        count(*) over (partition by scheduled_departure_date, scheduled_hour_local) as nyc_hour
    from flights
    where {scope.days}
)"""


# --- Lookups --------------------------------------------------------------------------------------------


def as_of(lookup: Lookup, portable: bool = False) -> tuple[str, str]:
    """A lookup as a CTE over the narrow `keys` rows and the join that brings it to the flights.
    Narrow rows keep the ASOF joins' sorts small. `portable`: the same rows found without an ASOF
    join, which Spark lacks (`portable_as_of`)."""
    if not 0 <= lookup.minutes_before <= LOOKBACK_MINUTES:
        raise ValueError(f"a lookup {lookup.minutes_before} minutes before T exceeds LOOKBACK_MINUTES")
    alias = lookup.alias
    join = f"left join lookup_{alias} as {alias} on flight.flight_id = {alias}.flight_id"
    if portable:
        return portable_as_of(lookup), join
    instant = lookup_instant(lookup, "flight.")
    conditions = [f"flight.{column} = {alias}.{column}" for column in lookup.partition]
    conditions.append(f"{instant} {'>=' if lookup.inclusive else '>'} {alias}.at_utc")
    cte = f"""lookup_{alias} as (
    select flight.flight_id, {alias}.*
    from keys as flight
    asof left join {lookup.cte} as {alias} on {" and ".join(conditions)}
)"""
    return cte, join


def lookup_instant(lookup: Lookup, flight: str = "") -> str:
    """The instant a lookup asks about: the decision time T of the flight (columns of `flight`),
    or `minutes_before` it."""
    if lookup.minutes_before:
        return f"{flight}decision_at_utc - to_minutes({lookup.minutes_before})"
    return f"{flight}decision_at_utc"


def portable_as_of(lookup: Lookup) -> str:
    """The ASOF join of `as_of` in a form Spark runs too (`timeline_as_of`)."""
    return timeline_as_of(
        f"lookup_{lookup.alias}",
        rows=lookup.cte,
        row_at="at_utc",
        columns=lookup_columns(lookup),
        probes="keys",
        probe_at=lookup_instant(lookup),
        partition=list(lookup.partition),
        inclusive=lookup.inclusive,
    )


def timeline_as_of(
    name: str,
    *,
    rows: str,
    row_at: str,
    columns: list[str],
    probes: str,
    probe_at: str,
    partition: list[str],
    inclusive: bool,
    probes_where: str = "true",
) -> str:
    """A CTE `name` of each of the `probes` (by flight_id) with the `columns` of the last of the
    `rows` of its `partition` before its instant `probe_at` (at or before it when `inclusive`),
    as an ASOF join finds it: a union of the rows and the probes ordered by time within the
    partition, a row sorting before a probe at the same instant when `inclusive`, else after it.
    The row is carried as one struct, so that a NULL in it is kept as the ASOF join keeps it."""
    found = ", ".join(f"{column} := {column}" for column in columns)
    keys = "".join(f"{column}, " for column in partition)
    not_null = " and ".join([*(f"{column} is not null" for column in partition), "true"])
    row_first = 0 if inclusive else 1
    over = f"partition by {', '.join(partition)} " if partition else ""
    values = ", ".join(f"found.{column} as {column}" for column in columns)
    return f"""{name} as (
    select flight_id, {values}
    from (
        select
            flight_id,
            is_probe,
            last_value(row_found ignore nulls) over (
                {over}order by event_at, sort_order
                rows between unbounded preceding and current row
            ) as found
        from (
            select {keys}{row_at} as event_at, {row_first} as sort_order, false as is_probe,
                cast(null as varchar) as flight_id, struct_pack({found}) as row_found
            from {rows}
            where {not_null}
            union all
            select {keys}{probe_at} as event_at, {1 - row_first} as sort_order, true as is_probe,
                flight_id, null as row_found
            from {probes}
            where {not_null} and {probes_where}
        ) as timeline
    ) as matched
    where is_probe
)"""


# --- The whole SELECT -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which flights are probed and what the other parts read for them: SQL conditions on
    `flights` (`flights_where`, `probed`, `days`), the weather rows, the days each flight number
    flew (for stand-ins), the running totals' range (`between`) and where carried totals live."""

    flights_where: str = "true"
    probed: str = "true"
    days: str = "true"
    weather_rows: str = "stg_nycflights__weather"
    weather_lag_minutes: int = WEATHER_LAG_MINUTES
    aircraft_flown: str = flown_days("true", _WANTED)
    between: tuple[str, str] | None = None
    carried_from: str | None = None


def scope_of(
    horizon_minutes: int,
    weather_lag_minutes: int,
    scheduled_between: tuple[datetime, datetime] | None,
    flights_between: tuple[datetime, datetime] | None,
    carried_from: str | None,
) -> Scope:
    """Every flight, or those scheduled in `scheduled_between` with the rows their lookups need:
    events from the look-back on (plus the totals before it), whole local days around them, the
    weather known from the look-back on plus the last observations before it."""
    flights_where = scheduled_in(*flights_between) if flights_between is not None else "true"
    if scheduled_between is None:
        return Scope(flights_where=flights_where, weather_lag_minutes=weather_lag_minutes)
    start, end = scheduled_between
    since = lookback_start(start, horizon_minutes)
    known_since = weather_known_before(since, weather_lag_minutes)
    earlier_weather = (
        f"select * from {carried_from}weather"
        if carried_from
        else last_observed(observed_in(None, known_since))
    )
    aircraft_flown = flown_days("true", _WANTED)
    if carried_from:
        # the days before `since` are carried in a table (`build.write_features`)
        recent = (
            f"scheduled_departure_date >= date '{since:%Y-%m-%d}' "
            f"and scheduled_departure_utc < {timestamp(end)}"
        )
        aircraft_flown = f"""select * from {carried_from}aircraft_flown
    semi join ({_WANTED}) as wanted using (carrier, flight_number, origin)
    union all
    {flown_days(recent, _WANTED)}"""
    return Scope(
        flights_where=flights_where,
        probed=scheduled_in(start, end),
        # whole local days around the probed flights: the per-day windows see all of each day
        days=(
            f"scheduled_departure_date between date '{start - timedelta(days=1):%Y-%m-%d}' "
            f"and date '{end + timedelta(days=1):%Y-%m-%d}'"
        ),
        weather_rows=f"""(
    {earlier_weather}
    union all
    {observed_in(known_since, weather_known_before(end, weather_lag_minutes))}
) as observed""",
        weather_lag_minutes=weather_lag_minutes,
        aircraft_flown=aircraft_flown,
        # the running totals are needed from the earliest instant any lookup asks for
        between=(timestamp(since), timestamp(end)),
        carried_from=carried_from,
    )


def _probes(horizon: int, scope: Scope) -> list[str]:
    """The flights whose features are computed, with their decision time, and their narrow keys."""
    return [
        f"""probes as (
    select
        *,
        {horizon} as horizon_minutes,
        scheduled_departure_utc - to_minutes({horizon}) as decision_at_utc
    from flights
    where {scope.probed}
)""",
        """keys as (
    select flight_id, origin, carrier, dest, flight_number, scheduled_hour_local, decision_at_utc
    from probes
)""",
    ]


# The flight's own context: its aircraft's day, its airport's schedule, its aircraft and its date.
_CONTEXT_JOINS = [
    "left join legs using (flight_id)",
    "left join scheduled_load using (flight_id)",
    "left join stand_in_aircraft as stand_in using (flight_id)",
    "left join dim_planes as plane on coalesce(flight.tailnum, stand_in.tailnum) = plane.tail_number",
    "left join dim_dates as day on flight.scheduled_departure_date = day.date_day",
]


def feature_sql(
    horizon_minutes: int,
    weather_lag_minutes: int = WEATHER_LAG_MINUTES,
    scheduled_between: tuple[datetime, datetime] | None = None,
    flights_between: tuple[datetime, datetime] | None = None,
    carried_from: str | None = None,
    portable: bool = False,
) -> str:
    """The SELECT computing every flight's features and labels at its decision time: of every
    flight, or of those scheduled (UTC) from the first instant of `scheduled_between` and before
    the second, with the same values a build of every flight gives them (what a build of many
    flights does piece by piece, in bounded memory: `build.write_features`). `flights_between`
    limits the flights read to those scheduled in that range (it must hold every flight with an
    event the running totals count from the look-back on); `carried_from` names the tables holding
    the totals before the look-back (see `running_total`), the latest day each flight number flew
    before it, and the last weather observations before it (see `build.write_features`).
    `portable`: lookups without ASOF joins, for engines that lack them (`portable_as_of`)."""
    horizon = check_horizon(horizon_minutes)
    scope = scope_of(horizon, int(weather_lag_minutes), scheduled_between, flights_between, carried_from)
    lookups = [as_of(lookup, portable) for lookup in LOOKUPS]
    ctes = [
        *event_sources(scope.flights_where),
        *_probes(horizon, scope),
        *_aircraft(scope, portable),
        *(running_total(total, scope.between, scope.carried_from) for total in RUNNING_TOTALS),
        weather_cte(scope),
        _scheduled_load(scope),
        *(cte for cte, _ in lookups),
    ]
    joins = _CONTEXT_JOINS + [join for _, join in lookups]
    return _select(ctes, joins)


def lookup_columns(lookup: Lookup) -> list[str]:
    """The columns a lookup's row brings: its partition, its instant, its values."""
    if lookup.cte == "weather":
        return [*lookup.partition, "at_utc", *WEATHER_COLUMNS]
    total = next(t for t in RUNNING_TOTALS if t.name == lookup.cte)
    return [*lookup.partition, "at_utc", *total.measures]


def online_feature_sql(horizon_minutes: int) -> str:
    """The feature SELECT for flights the caller brings, computed as the batch computes them but
    from lookups found ahead of the query: `fct_flights` holds the requested flights and every
    flight of their days (their aircraft's legs and their airports' schedule), `requested` their
    ids, `lookups` one row per requested flight with each lookup's row as a struct named after
    its alias (see `lakehouse.models.online`), `aircraft_flown` the days each of their flight
    numbers flew (the stand-ins), and `dim_planes` and `dim_dates` the marts."""
    horizon = check_horizon(horizon_minutes)
    scope = Scope(
        probed="flight_id in (select requested.flight_id from requested)",
        aircraft_flown="select * from aircraft_flown",
    )
    ctes = [
        event_sources()[0],
        *_probes(horizon, scope),
        _stand_in(scope)[1],
        _legs(scope),
        _scheduled_load(scope),
    ]
    joins = [*_CONTEXT_JOINS, "left join lookups on flight.flight_id = lookups.flight_id"]
    return _select(ctes, joins)


def _select(ctes: list[str], joins: list[str]) -> str:
    """The SELECT of every column of the catalog over the probes and what is joined to them."""
    select = ",\n    ".join(f"{column.sql} as {column.name}" for column in COLUMNS)
    return (
        "with\n\n"
        + ",\n\n".join(ctes)
        + f"\n\nselect\n    {select}\nfrom probes as flight\n"
        + "\n".join(joins)
        + "\norder by flight.scheduled_departure_utc, flight.flight_id"
    )
