"""The feature SELECT, assembled from the definitions in `catalog.py`.

Its parts, in the order they appear:

1. the scope: which flights are probed (all, or those scheduled in a window) and which rows the
   rest reads for them (`Scope`);
2. the event sources: the flights with their instants and outcomes, the departures and the
   flights on the ground (`event_sources`);
3. the probes: the flights whose features are computed, with their decision time T;
4. the aircraft: a stand-in for a flight without a tail, and each aircraft's earlier legs;
5. the running totals of events and the weather as observed (`running_totals`, `weather_cte`);
6. the lookups, in one of two forms: what the sort-based lookups read on DuckDB (each source's
   rows with integer key codes, `coded_source`; `lookups.py` finds the rows), or portable SQL
   that finds them without ASOF joins, which Spark lacks (`running_as_of`, `weather_as_of`);
7. the SELECT of `catalog.COLUMNS` over the probes joined to all of the above (`feature_sql`
   over the lookups found, `portable_feature_sql` with them)."""

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
    """An instant as a SQL literal, to the microsecond (the sort-based lookups compare it with
    instants in microseconds)."""
    return f"timestamp '{instant:%Y-%m-%d %H:%M:%S.%f}'"


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


def _sum(expression: str, over: str = "") -> str:
    """The sum of a measure, BIGINT on every engine (DuckDB's sum of integers is a HUGEINT)."""
    return f"cast(sum({expression}){f' over ({over})' if over else ''} as bigint)"


def aggregate(total: RunningTotal, where: str, semi_join: str = "") -> str:
    """The SELECT adding up `total`'s measures over its events matching `where` (and `semi_join`),
    per partition (only partitions with events)."""
    keys = ", ".join(total.partition)
    measures = ", ".join(f"{_sum(expression)} as {column}" for column, expression in total.measures.items())
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
    """The totals in `table` plus those of the SELECT `more`, per partition."""
    keys = ", ".join(total.partition)
    sums = ", ".join(f"{_sum(column)} as {column}" for column in total.measures)
    return f"""select {keys}{", " if keys else ""}{sums}
from (select * from {table} union all select * from ({more}))
{f"group by {keys}" if keys else ""}
having count(*) > 0"""


def _day(instant: str) -> str:
    """The UTC day of an instant: what the portable running totals and lookups partition by."""
    return f"cast({instant} as date)"


def _events(total: RunningTotal, between: tuple[datetime, datetime] | None) -> str:
    """The rows a running total adds up, each at its instant (`at_utc`) with the value of each
    measure: its events; with `between` (since, until), those from `since` to before `until`,
    after one row just before `since` holding what the events before it add up to (for the keys
    of the flights looked up only: no lookup asks for the others)."""
    keys = "".join(f"{column}, " for column in total.partition)
    values = ", ".join(f"{expression} as {column}" for column, expression in total.measures.items())
    events = f"select {keys}{total.at} as at_utc, {values} from {total.source} where {total.at} is not null"
    if between is None:
        return events
    since, until = (timestamp(instant) for instant in between)
    using = ", ".join(total.partition)
    probed = f"semi join (select distinct {using} from keys) as probed using ({using})" if using else ""
    return f"""select {keys}{since} - interval 1 microsecond as at_utc, {", ".join(total.measures)}
    from ({aggregate(total, f"{total.at} < {since}", probed)}) as carried
    union all
    {events} and {total.at} >= {since} and {total.at} < {until}"""


# The keys the running totals are kept per (the NYC-wide ones have none).
KEYS = tuple(dict.fromkeys(total.partition for total in RUNNING_TOTALS))
# The portable rows of a running total hold its measures in value columns, in declared order.
VALUE_COLUMNS = [f"value_{i}" for i in range(1, 1 + max(len(total.measures) for total in RUNNING_TOTALS))]


def _totals_by_key(partition: tuple[str, ...]) -> list[RunningTotal]:
    """The running totals kept per `partition`, each known in the portable rows by its index here."""
    return [total for total in RUNNING_TOTALS if total.partition == partition]


def _key_name(partition: tuple[str, ...]) -> str:
    """The name of the portable CTEs of the running totals per `partition`."""
    return f"totals_by_{'__'.join(partition)}" if partition else "totals_nyc"


def _lookups_of(total: RunningTotal) -> list[Lookup]:
    return [lookup for lookup in LOOKUPS if lookup.cte == total.name]


def _probe_kinds(partition: tuple[str, ...]) -> list[tuple[int, bool]]:
    """The instants the lookups of the totals per `partition` ask about: (minutes before T,
    inclusive), each once, in the catalog's order; a probe row's `probe` is its index here."""
    asked = (lookup for total in _totals_by_key(partition) for lookup in _lookups_of(total))
    return list(dict.fromkeys((lookup.minutes_before, lookup.inclusive) for lookup in asked))


def _instant(minutes_before: int) -> str:
    """The instant a lookup asks about: the flight's decision time T, or `minutes_before` it."""
    return f"decision_at_utc - to_minutes({minutes_before})" if minutes_before else "decision_at_utc"


def _totals_numbered(numbers: list[int]) -> str:
    """A relation of one column `total` holding `numbers`."""
    return "(" + " union all ".join(f"select {number} as total" for number in numbers) + ") as totals"


def running_totals(partition: tuple[str, ...], between: tuple[datetime, datetime] | None) -> list[str]:
    """The CTEs of the running totals per `partition` in portable SQL: the totals of one key in the
    same rows, each naming its total (`total`, `_totals_by_key`) and holding its measures in
    `VALUE_COLUMNS`, so that one window per key finds every lookup of them (`running_as_of`):

    - `<name>_events`: the rows each total adds up (`_events`);
    - `<name>_days`: their sums per key, total and day;
    - `<name>_before`: for each key, total and day that has events or is asked about (the days
      of the lookups' instants), what the total's events on earlier days add up to: the row each
      day of a lookup's window starts from."""
    name, totals = _key_name(partition), _totals_by_key(partition)
    keys = "".join(f"{column}, " for column in partition)

    def rows_of(number: int, total: RunningTotal) -> str:
        measures = [*total.measures, *(["null"] * (len(VALUE_COLUMNS) - len(total.measures)))]
        pairs = zip(measures, VALUE_COLUMNS, strict=True)
        values = ", ".join(f"cast({measure} as bigint) as {value}" for measure, value in pairs)
        rows = _events(total, between)
        return f"select {keys}{number} as total, at_utc, {values}\n    from ({rows}) as events"

    asked_days = "\n            union\n            ".join(
        f"select {keys}{_day(_instant(minutes))} as day from keys where {_not_null(partition)}"
        for minutes, _ in _probe_kinds(partition)
    )
    days_before = f"partition by {keys}total order by day rows between unbounded preceding and 1 preceding"
    earlier = ",\n        ".join(f"{_sum(f'days.{v}', days_before)} as {v}" for v in VALUE_COLUMNS)
    events = "\n    union all\n    ".join(rows_of(number, total) for number, total in enumerate(totals))
    return [
        f"""{name}_events as (
    {events}
)""",
        f"""{name}_days as (
    select {keys}total, {_day("at_utc")} as day, {", ".join(f"{_sum(v)} as {v}" for v in VALUE_COLUMNS)}
    from {name}_events
    group by {keys}total, {_day("at_utc")}
)""",
        f"""{name}_before as (
    select {keys}total, day,
        {earlier}
    from (
        select {keys}total, day from {name}_days
        union
        select {keys}total, day
        from (
            {asked_days}
        ) as asked_days
        cross join {_totals_numbered(list(range(len(totals))))}
    ) as asked
    left join {name}_days as days using ({keys}total, day)
)""",
    ]


def _not_null(columns: list[str] | tuple[str, ...]) -> str:
    return " and ".join([*(f"{column} is not null" for column in columns), "true"])


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
    """Departures scheduled at the flight's airport in its hour and day, and at New York in its hour:
    counts per group joined back (the same as counting over each group's window, a sort fewer)."""
    days = f"(select * from flights where {scope.days}) as scheduled"
    return f"""scheduled_load as (
    select
        flight_id,
        origin_hour.n as origin_hour,
        origin_day.n as origin_day,
        nyc_hour.n as nyc_hour
    from {days}
    join (
        select origin, scheduled_departure_date, scheduled_hour_local, count(*) as n
        from flights where {scope.days}
        group by origin, scheduled_departure_date, scheduled_hour_local
    ) as origin_hour using (origin, scheduled_departure_date, scheduled_hour_local)
    join (
        select origin, scheduled_departure_date, count(*) as n
        from flights where {scope.days}
        group by origin, scheduled_departure_date
    ) as origin_day using (origin, scheduled_departure_date)
    join (
        select scheduled_departure_date, scheduled_hour_local, count(*) as n
        from flights where {scope.days}
        group by scheduled_departure_date, scheduled_hour_local
    ) as nyc_hour using (scheduled_departure_date, scheduled_hour_local)
)"""


# --- Lookups: what they bring, and their portable form ------------------------------------------------


def lookup_columns(lookup: Lookup) -> list[str]:
    """The columns a lookup's row brings: a running total's measures, or the weather's instant
    and readings."""
    if lookup.cte == "weather":
        return ["at_utc", *WEATHER_COLUMNS]
    total = next(t for t in RUNNING_TOTALS if t.name == lookup.cte)
    return list(total.measures)


def weather_as_of(lookup: Lookup) -> str:
    """A weather lookup as a CTE `lookup_<alias>` of the narrow `keys` rows, in SQL that Spark
    runs too: the row an ASOF join would find (`timeline_as_of`)."""
    return timeline_as_of(
        f"lookup_{lookup.alias}",
        rows=lookup.cte,
        row_at="at_utc",
        columns=lookup_columns(lookup),
        probes="keys",
        probe_at=_instant(lookup.minutes_before),
        partition=list(lookup.partition),
        inclusive=lookup.inclusive,
    )


# Where a flight sorts among the events at its instant: before them (what happens at an instant
# is not known at it), or after them for an inclusive lookup. An event sorts at 1.
_PROBE_SORT_ORDER = {False: 0, True: 2}


def running_as_of(partition: tuple[str, ...]) -> list[str]:
    """The lookups of the running totals per `partition` as CTEs of the narrow `keys` rows: for
    each flight and lookup, each measure of the lookup's total summed over the key's events before
    the lookup's instant. One window for all of them (`<name>_found`), partitioned by key, total
    and day: the day's row of what earlier days add up to (`running_totals`' `<name>_before`),
    then the day's events and the flights at each instant asked about, in time order; each flight
    takes the sum of what precedes it (NULL when nothing does, as the last row of a running total
    is). Then `lookup_<name>`: per flight, one struct per lookup alias of its total's measures."""
    name, totals = _key_name(partition), _totals_by_key(partition)
    keys = "".join(f"{column}, " for column in partition)
    values = ", ".join(VALUE_COLUMNS)
    nulls = ", ".join(f"cast(null as bigint) as {v}" for v in VALUE_COLUMNS)
    frame = "rows between unbounded preceding and current row"
    over = f"partition by {keys}total, day order by event_at, sort_order {frame}"
    sums = ", ".join(f"{_sum(v, over)} as {v}" for v in VALUE_COLUMNS)
    kinds = _probe_kinds(partition)

    def probes(probe: int, minutes: int, inclusive: bool) -> str:
        kind = (minutes, inclusive)
        asking = [
            number
            for number, total in enumerate(totals)
            if kind in {(lookup.minutes_before, lookup.inclusive) for lookup in _lookups_of(total)}
        ]
        instant = _instant(minutes)
        return f"""select {keys}total, {_day(instant)} as day, {instant} as event_at,
                {_PROBE_SORT_ORDER[inclusive]} as sort_order, true as is_probe, flight_id, {probe} as probe,
                {nulls}
            from keys
            cross join {_totals_numbered(asking)}
            where {_not_null(partition)}"""

    def found(number: int, lookup: Lookup) -> str:
        probe = kinds.index((lookup.minutes_before, lookup.inclusive))
        fields = ", ".join(
            f"{measure} := max(case when total = {number} and probe = {probe} then {value} end)"
            for measure, value in zip(totals[number].measures, VALUE_COLUMNS, strict=False)
        )
        return f"struct_pack({fields}) as {lookup.alias}"

    every_probe = "\n            union all\n            ".join(
        probes(probe, minutes, inclusive) for probe, (minutes, inclusive) in enumerate(kinds)
    )
    structs = ",\n        ".join(
        found(number, lookup) for number, total in enumerate(totals) for lookup in _lookups_of(total)
    )
    return [
        f"""{name}_found as (
    select flight_id, total, probe, {values}
    from (
        select flight_id, total, probe, is_probe, {sums}
        from (
            select {keys}total, day, cast(day as timestamp) as event_at, -1 as sort_order, false as is_probe,
                cast(null as varchar) as flight_id, cast(null as int) as probe, {values}
            from {name}_before
            union all
            select {keys}total, {_day("at_utc")} as day, at_utc as event_at, 1 as sort_order,
                false as is_probe, cast(null as varchar) as flight_id, cast(null as int) as probe, {values}
            from {name}_events
            where {_not_null(partition)}
            union all
            {every_probe}
        ) as timeline
    ) as summed
    where is_probe
)""",
        f"""lookup_{name} as (
    select flight_id,
        {structs}
    from {name}_found
    group by flight_id
)""",
    ]


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
    not_null = _not_null(partition)
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


# --- What the sort-based lookups read (`lookups.py`) ----------------------------------------------------

# The partitions the lookups search by (the NYC-wide totals have none), and the event sources.
PARTITIONS = tuple(dict.fromkeys(lookup.partition for lookup in LOOKUPS if lookup.partition))
SOURCES = tuple(dict.fromkeys(total.source for total in RUNNING_TOTALS))


def code_column(partition: tuple[str, ...]) -> str:
    """The column holding the integer code of a partition's key."""
    return "code__" + "__".join(partition)


def code_table(partition: tuple[str, ...]) -> str:
    """The relation numbering a partition's keys (`coded_keys`), which the coded reads join."""
    return f"{code_column(partition)}s"


def coded_keys(partition: tuple[str, ...], scope: Scope) -> str:
    """The distinct keys of a partition among the scope's flights, numbered from 0 in the keys'
    order. Every probe and every event is a flight's, so its key has a number; a key without one
    (a NULL, or carried from flights outside the scope) is found by no probe. The caller holds
    the result as `code_table(partition)` for the other reads of one build (`build.features_in`),
    and to code flights the build did not know (`lookups.Probes.coded`)."""
    keys = ", ".join(partition)
    not_null = " and ".join(f"{column} is not null" for column in partition)
    return f"""with
{event_sources(scope.flights_where)[0]}
select {keys}, cast(row_number() over (order by {keys}) as bigint) - 1 as {code_column(partition)}
from (select distinct {keys} from flights where {not_null}) as distinct_keys"""


def instant_column(at: str) -> str:
    """The column holding an instant as microseconds since the epoch."""
    return f"{at}__us"


def _coded(ctes: list[str], rows: str, columns: list[str], partitions: list[tuple[str, ...]]) -> str:
    """`columns` of `rows` with the code of each partition's key (from `code_table`)."""
    joins = "".join(f"\nleft join {code_table(p)} using ({', '.join(p)})" for p in partitions)
    selected = ", ".join([*columns, *(code_column(p) for p in partitions)])
    return "with\n" + ",\n\n".join(ctes) + f"\nselect {selected}\nfrom {rows}{joins}"


def totals_of(source: str) -> list[RunningTotal]:
    return [total for total in RUNNING_TOTALS if total.source == source]


def coded_source(source: str, scope: Scope) -> str:
    """The events of a source (`event_sources`) as the sort-based lookups read them: each instant
    its running totals count them at (`instant_column`), the value of each measure, the code of
    each partition they add up by."""
    totals = totals_of(source)
    measures: dict[str, str] = {}
    for total in totals:
        for name, expression in total.measures.items():
            if measures.setdefault(name, expression) != expression:
                raise ValueError(f"measure {name} of {source} is defined twice, differently")
    columns = [
        *(f"epoch_us({at}) as {instant_column(at)}" for at in dict.fromkeys(t.at for t in totals)),
        *(f"{expression} as {name}" for name, expression in measures.items()),
    ]
    partitions = list(dict.fromkeys(t.partition for t in totals if t.partition))
    return _coded(event_sources(scope.flights_where), source, columns, partitions)


def coded_carried(scope: Scope) -> str:
    """The totals carried from before the scope's range (`scope.carried_from`), as rows the
    sort-based lookups add up: one per total and key, just before the range's start, every total's
    in one relation (`total` names it; `code` is its key's, 0 without one; a measure it does not
    have is NULL)."""
    assert scope.between is not None
    assert scope.carried_from is not None
    since = timestamp(scope.between[0])
    measures = list(dict.fromkeys(measure for total in RUNNING_TOTALS for measure in total.measures))
    branches = []
    for total in RUNNING_TOTALS:
        values = ", ".join(
            f"{'cast(' + m + ' as bigint)' if m in total.measures else 'cast(null as bigint)'} as {m}"
            for m in measures
        )
        code, join = "cast(0 as bigint)", ""
        if total.partition:
            code = code_column(total.partition)
            join = f"\nleft join {code_table(total.partition)} using ({', '.join(total.partition)})"
        branches.append(
            f"select '{total.name}' as total, epoch_us({since}) - 1 as instant, {code} as code, {values}\n"
            f"from {scope.carried_from}{total.name}{join}"
        )
    return "\nunion all\n".join(branches)


def coded_weather(scope: Scope) -> str:
    """The weather as observed (`weather_cte`), as the sort-based lookups read it."""
    columns = [f"epoch_us(at_utc) as {instant_column('at_utc')}", "weather.*"]
    return _coded(
        [event_sources(scope.flights_where)[0], weather_cte(scope)], "weather", columns, [("origin",)]
    )


def coded_probes(horizon_minutes: int, scope: Scope) -> str:
    """The flights looked up: their id, decision time and the code of each of their keys."""
    horizon = check_horizon(horizon_minutes)
    columns = ["flight_id", f"epoch_us(decision_at_utc) as {instant_column('decision_at_utc')}"]
    return _coded(
        [*event_sources(scope.flights_where), *_probes(horizon, scope)], "keys", columns, list(PARTITIONS)
    )


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
    between: tuple[datetime, datetime] | None = None
    carried_from: str | None = None


def scope_of(
    horizon_minutes: int,
    weather_lag_minutes: int = WEATHER_LAG_MINUTES,
    scheduled_between: tuple[datetime, datetime] | None = None,
    flights_between: tuple[datetime, datetime] | None = None,
    carried_from: str | None = None,
) -> Scope:
    """Every flight, or those scheduled in `scheduled_between` with the rows their lookups need:
    events from the look-back on (plus the totals before it), whole local days around them, the
    weather known from the look-back on plus the last observations before it.

    `flights_between` limits the flights read to those scheduled in that range (it must hold every
    flight with an event the running totals count from the look-back on); `carried_from` names the
    tables holding the totals before the look-back (see `running_total`), the latest day each
    flight number flew before it, and the last weather observations before it (see
    `build.write_features`)."""
    horizon = check_horizon(horizon_minutes)
    weather_lag_minutes = int(weather_lag_minutes)
    flights_where = scheduled_in(*flights_between) if flights_between is not None else "true"
    if scheduled_between is None:
        return Scope(flights_where=flights_where, weather_lag_minutes=weather_lag_minutes)
    start, end = scheduled_between
    since = lookback_start(start, horizon)
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
        between=(since, end),
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

# The relation holding the lookups found (`lookups.find_lookups`), which `feature_sql` joins.
LOOKUPS_RELATION = "feature_lookups"

# The order of the feature table's rows (columns of the table, each flight's once: no ties).
ROW_ORDER = ("scheduled_departure_utc", "flight_id")


def feature_sql(
    horizon_minutes: int, scope: Scope, lookups: str = LOOKUPS_RELATION, ordered: bool = True
) -> str:
    """The SELECT computing the features and labels of the scope's flights at their decision time,
    each lookup read from the relation `lookups` (one struct column per lookup alias, by flight
    id: `lookups.find_lookups`). Rows in `ROW_ORDER`, or in no order if not `ordered`."""
    horizon = check_horizon(horizon_minutes)
    ctes = [
        *event_sources(scope.flights_where),
        *_probes(horizon, scope),
        *_aircraft(scope),
        _scheduled_load(scope),
    ]
    return _select(ctes, [*_CONTEXT_JOINS, f"left join {lookups} using (flight_id)"], ordered)


def online_feature_sql(horizon_minutes: int) -> str:
    """`feature_sql` for flights the caller brings (`lakehouse.models.online`): `fct_flights`
    holds the requested flights and every flight of their days (their aircraft's legs and their
    airports' schedule), `requested` their ids, `flown_days` the days each of their flight numbers
    flew (the stand-ins), `dim_planes` and `dim_dates` the marts, and the lookups' relation the
    lookups found for them."""
    return feature_sql(
        horizon_minutes,
        Scope(
            probed="flight_id in (select requested.flight_id from requested)",
            aircraft_flown="select * from flown_days",
        ),
    )


def portable_feature_sql(
    horizon_minutes: int,
    weather_lag_minutes: int = WEATHER_LAG_MINUTES,
    scheduled_between: tuple[datetime, datetime] | None = None,
) -> str:
    """The whole feature SELECT, its lookups included, in SQL that Spark runs too (no ASOF join:
    `portable_as_of`): of every flight, or of those scheduled (UTC) from the first instant of
    `scheduled_between` and before the second, with the values the sort-based lookups give them."""
    horizon = check_horizon(horizon_minutes)
    scope = scope_of(horizon, weather_lag_minutes, scheduled_between)
    ctes = [
        *event_sources(scope.flights_where),
        *_probes(horizon, scope),
        *_aircraft(scope, portable=True),
        *(cte for partition in KEYS for cte in running_totals(partition, scope.between)),
        weather_cte(scope),
        _scheduled_load(scope),
        *(cte for partition in KEYS for cte in running_as_of(partition)),
        *(weather_as_of(lookup) for lookup in LOOKUPS if lookup.cte == "weather"),
    ]
    # (CTE, alias): a running total's lookups are struct columns of its key's CTE, a weather lookup
    # is a CTE of its own
    joined = [(f"lookup_{_key_name(partition)}", _key_name(partition)) for partition in KEYS]
    joined += [(f"lookup_{lookup.alias}", lookup.alias) for lookup in LOOKUPS if lookup.cte == "weather"]
    joins = [f"left join {cte} as {alias} on flight.flight_id = {alias}.flight_id" for cte, alias in joined]
    return _select(ctes, _CONTEXT_JOINS + joins)


def _select(ctes: list[str], joins: list[str], ordered: bool = True) -> str:
    """The SELECT of every column of the catalog over the probes and what is joined to them, its
    rows in `ROW_ORDER` if `ordered`."""
    select = ",\n    ".join(f"{column.sql} as {column.name}" for column in COLUMNS)
    return (
        "with\n\n"
        + ",\n\n".join(ctes)
        + f"\n\nselect\n    {select}\nfrom probes as flight\n"
        + "\n".join(joins)
        + ("\norder by " + ", ".join(f"flight.{column}" for column in ROW_ORDER) if ordered else "")
    )
