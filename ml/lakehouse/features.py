"""Point-in-time features: what an operations desk knows about a flight at its decision time.

Decision time T = scheduled departure - horizon. Every feature of a flight is computed from what
was known at its T, by these rules (the only place they are written; the SQL below follows them
and tests/data/test_leakage.py proves it):

- The schedule of every flight (carrier, flight number, route, scheduled times, the tail number
  assigned) and the reference tables (planes, airports, holidays) are known ahead: always.
- A departure and its delay are known once the flight has left: actual departure < T.
- A flight not gone 16 minutes after its scheduled time is known to be late from then on, so the
  label "left more than 15 minutes late, or not at all" of any flight is settled at
  min(actual departure, scheduled departure + 16 minutes).
- Cancellations carry no time in the data, so a cancellation is never used as such before the
  flight's outcome is known: a cancelled flight looks exactly like a flight still on the ground
  (waiting, then overdue) and counts as "late" once 16 minutes past its scheduled time.
- A flight's waiting on the ground is counted for three hours after its scheduled time at most,
  so a cancelled flight and a very late one stay indistinguishable at T.
- An arrival is known once the flight has landed (actual arrival < T); its delay with it. A
  flight diverted elsewhere has no arrival delay and counts as not landed. Only the aircraft
  features use arrivals (its previous leg's); a flight's own arrival (the regression target) comes
  after its own departure, so after T.
- A weather row labelled hour H holds the observation taken up to about H:51 (precipitation
  accumulated to then): it is known from H + 1 hour (`weather_lag_minutes`). Staging's readings are
  used as observed: the hourly grid's interpolation looks at later hours and is not used here.
- The tail number is the aircraft that finally flew: a swap decided after T is baked into the
  aircraft features (the report treats them as optimistic).
- A missing tail number is an outcome, not a schedule: in this data only cancelled flights lack
  one (an aircraft was assigned at T, then the record lost it). So a flight without a tail takes
  a stand-in: the aircraft that flew its carrier, flight number and origin on the latest earlier
  day (the schedule of earlier days is known), on what looks like its first leg of the day. Its
  aircraft features then look like any other flight's, and the missing tail says nothing.

Features are computed in DuckDB SQL over the marts (`fct_flights`, `dim_planes`, `dim_dates`) and
staged weather, with sort-based ASOF joins and running totals: no pairwise self-join, so the build
scales with the number of flights. The same SQL serves training, batch scoring and a real-time
caller (filter the result to one flight)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

# A departure more than this many minutes late counts as delayed (US DOT).
LATE_AFTER_MINUTES = 15
# How long a flight that has not left counts as waiting on the ground.
WAITING_CAP_MINUTES = 180
DEFAULT_HORIZON_MINUTES = 120
# A decision is made before the scheduled departure (at T = departure - horizon) and at most a week
# ahead: nothing live is known that far out, and the bound turns a unit slip (seconds or hours
# for minutes) into an error instead of a model of another problem.
MAX_HORIZON_MINUTES = 7 * 24 * 60
# A weather row labelled hour H is complete at about H:51: known from H + 60 minutes.
WEATHER_LAG_MINUTES = 60
# The furthest any lookup looks back from T (flight_number_delay_rate_28d): a build of some months'
# flights needs the events from this long before their first decision time.
LOOKBACK_MINUTES = 28 * 24 * 60


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


FEATURES = FeatureSet(
    categorical=("carrier", "origin", "dest", "manufacturer"),
    schedule=(
        "distance_miles",
        "scheduled_block_minutes",
        "scheduled_hour_local",
        "day_of_week",
        "is_holiday",
        "days_to_nearest_holiday",
        "scheduled_departures_origin_hour",
        "scheduled_departures_origin_day",
        "scheduled_departures_nyc_hour",
    ),
    aircraft=(
        "is_plane_unknown",
        "plane_age_years",
        "seat_count",
        "engine_count",
        "earlier_legs_today",
        "minutes_since_previous_leg",
        "previous_leg_dep_delay_minutes",
        "is_previous_leg_overdue",
        "previous_leg_arr_delay_minutes",
        "aircraft_return_slack_minutes",
    ),
    weather=(
        "weather_age_minutes",
        "temperature_f",
        "dew_point_f",
        "relative_humidity_pct",
        "wind_speed_mph",
        "wind_gust_mph",
        "precipitation_in",
        "pressure_mb",
        "visibility_mi",
        "has_out_of_range_weather",
        "temperature_change_3h",
        "pressure_change_3h",
        "visibility_change_3h",
        "precipitation_3h_in",
    ),
    live=(
        "origin_departures_60m",
        "origin_mean_delay_60m",
        "origin_departures_180m",
        "origin_mean_delay_180m",
        "origin_waiting",
        "origin_overdue",
        "nyc_departures_60m",
        "nyc_mean_delay_60m",
        "nyc_mean_delay_180m",
        "nyc_waiting",
        "nyc_overdue",
        "carrier_departures_180m",
        "carrier_mean_delay_180m",
        "carrier_overdue",
    ),
    history=(
        "route_flights_known",
        "route_delay_rate",
        "carrier_flights_known",
        "carrier_delay_rate",
        "flight_number_flights_known",
        "flight_number_delay_rate",
        "origin_hour_flights_known",
        "origin_hour_delay_rate",
        "carrier_delay_rate_7d",
        "origin_delay_rate_7d",
        "origin_delay_rate_3h",
        "nyc_delay_rate_3h",
        "carrier_delay_rate_3h",
        "flight_number_delay_rate_28d",
        "carrier_origin_delay_rate_3h",
        "origin_delay_rate_1h",
    ),
)

# Columns that identify a row or hold its outcome: never model inputs.
KEYS = ("flight_id", "scheduled_departure_utc", "decision_at_utc", "scheduled_departure_date")
LABELS = ("is_delayed", "is_delayed_departed", "arr_delay_minutes", "is_cancelled")


_DEPARTURES = {"departed": "count(*)", "delay_sum": "sum(dep_delay_minutes)"}
_LABELS = {"known": "count(*)", "delayed": "sum(case when is_delayed then 1 else 0 end)"}
_COUNTED = {"n": "count(*)"}


@dataclass(frozen=True)
class _Total:
    """A running total: its CTE name, the CTE of events it counts, partition, instant, measures."""

    name: str
    source: str
    partition: list[str]
    at: str
    measures: dict[str, str]


RUNNING_TOTALS = [
    _Total("origin_departed", "departed", ["origin"], "actual_departure_utc", _DEPARTURES),
    _Total("nyc_departed", "departed", [], "actual_departure_utc", _DEPARTURES),
    _Total("carrier_departed", "departed", ["carrier"], "actual_departure_utc", _DEPARTURES),
    _Total("origin_scheduled", "ground", ["origin"], "scheduled_departure_utc", _COUNTED),
    _Total("origin_left", "ground", ["origin"], "stops_waiting_at_utc", _COUNTED),
    _Total("origin_overdue_from", "ground", ["origin"], "overdue_from_utc", _COUNTED),
    _Total("origin_overdue_until", "ground", ["origin"], "overdue_until_utc", _COUNTED),
    _Total("nyc_scheduled", "ground", [], "scheduled_departure_utc", _COUNTED),
    _Total("nyc_left", "ground", [], "stops_waiting_at_utc", _COUNTED),
    _Total("nyc_overdue_from", "ground", [], "overdue_from_utc", _COUNTED),
    _Total("nyc_overdue_until", "ground", [], "overdue_until_utc", _COUNTED),
    _Total("carrier_overdue_from", "ground", ["carrier"], "overdue_from_utc", _COUNTED),
    _Total("carrier_overdue_until", "ground", ["carrier"], "overdue_until_utc", _COUNTED),
    _Total("route_labels", "flights", ["origin", "dest"], "label_known_at_utc", _LABELS),
    _Total("carrier_labels", "flights", ["carrier"], "label_known_at_utc", _LABELS),
    _Total("flight_number_labels", "flights", ["carrier", "flight_number"], "label_known_at_utc", _LABELS),
    _Total(
        "origin_hour_labels", "flights", ["origin", "scheduled_hour_local"], "label_known_at_utc", _LABELS
    ),
    _Total("origin_labels", "flights", ["origin"], "label_known_at_utc", _LABELS),
    _Total("nyc_labels", "flights", [], "label_known_at_utc", _LABELS),
    _Total("carrier_origin_labels", "flights", ["carrier", "origin"], "label_known_at_utc", _LABELS),
]


def _event_sources(flights_where: str = "true") -> list[str]:
    """The flights (keys, instants, outcomes) and the events the running totals count."""
    late = LATE_AFTER_MINUTES
    cap = WAITING_CAP_MINUTES
    return [
        f"""flights as (
    select
        flight_id,
        carrier,
        flight_number,
        tailnum,
        origin,
        dest,
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
        hour(scheduled_departure_local) as scheduled_hour_local,
        is_cancelled or dep_delay_minutes > {late} as is_delayed,
        -- the label is settled when the flight leaves, or {late + 1} minutes after its schedule
        least(
            coalesce(actual_departure_utc, scheduled_departure_utc + to_minutes({late + 1})),
            scheduled_departure_utc + to_minutes({late + 1})
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


def _aggregate(total: _Total, where: str, semi_join: str = "") -> str:
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


def _carried_totals(total: _Total, since: str | None, before: str, flights_where: str = "true") -> str:
    """`_aggregate` over the events from `since` (or the first) to before `before`, with the CTEs
    of the events read from the flights matching `flights_where`."""
    sources = ",\n\n".join(_event_sources(flights_where))
    lower = f"{total.at} >= {since} and " if since else ""
    return f"with\n{sources}\n{_aggregate(total, f'{lower}{total.at} < {before}')}"


def _added_totals(total: _Total, table: str, more: str) -> str:
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


def _running_total(total: _Total, between: tuple[str, str] | None, carried_from: str | None = None) -> str:
    """A CTE of running totals ordered by instant `at`. The default window frame (range, up to the
    current row) gives rows with the same instant the same totals, so an ASOF match is exact.

    With `between` (since, until), only the rows from `since` to before `until` are sorted (the
    lookups ask for nothing else), and each total starts from what the rows before `since` add up
    to: a streaming aggregate over them, or the table `carried_from` + name already holding it
    (`write_features`). The same totals, from a sort bounded by the instants asked for."""
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
        else _aggregate(total, f"{at} < {since}", probed)
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


def _as_of(
    alias: str, cte: str, partition: list[str], minutes_before: int = 0, inclusive: bool = False
) -> tuple[str, str]:
    """A lookup of the last row of `cte` before T - `minutes_before` (strictly, unless `inclusive`:
    what happens at T is not known at T), as a CTE over the narrow `keys` rows and the join that
    brings it to the flights. Narrow rows keep the ASOF joins' sorts small."""
    if not 0 <= minutes_before <= LOOKBACK_MINUTES:
        raise ValueError(f"a lookup {minutes_before} minutes before T exceeds LOOKBACK_MINUTES")
    instant = (
        f"flight.decision_at_utc - to_minutes({minutes_before})"
        if minutes_before
        else "flight.decision_at_utc"
    )
    conditions = [f"flight.{column} = {alias}.{column}" for column in partition]
    conditions.append(f"{instant} {'>=' if inclusive else '>'} {alias}.at_utc")
    lookup = f"""lookup_{alias} as (
    select flight.flight_id, {alias}.*
    from keys as flight
    asof left join {cte} as {alias} on {" and ".join(conditions)}
)"""
    return lookup, f"left join lookup_{alias} as {alias} on flight.flight_id = {alias}.flight_id"


def _window(alias_now: str, alias_then: str, column: str) -> str:
    """How much a running total grew between two ASOF matches (0 when nothing happened)."""
    return f"coalesce({alias_now}.{column}, 0) - coalesce({alias_then}.{column}, 0)"


def _timestamp(instant: datetime) -> str:
    return f"timestamp '{instant:%Y-%m-%d %H:%M:%S}'"


def _lookback_start(start: datetime, horizon_minutes: int) -> datetime:
    """The earliest instant a lookup of a flight scheduled from `start` on asks about."""
    return start - timedelta(minutes=horizon_minutes + LOOKBACK_MINUTES)


def _flown_days(where: str, wanted: str = "") -> str:
    """The aircraft of each carrier, flight number, origin and day matching `where` (the first tail
    when it flew twice), of the flight numbers of the subquery `wanted` (default all)."""
    semi_join = f"semi join ({wanted}) as wanted using (carrier, flight_number, origin)" if wanted else ""
    return f"""select carrier, flight_number, origin, scheduled_departure_date, min(tailnum) as tailnum
    from fct_flights
    {semi_join}
    where tailnum is not null and {where}
    group by carrier, flight_number, origin, scheduled_departure_date"""


def _last_flown(days: str) -> str:
    """Of the SELECT `days` (`_flown_days` rows), the latest day of each flight number and origin:
    all a stand-in lookup from a later day can match."""
    return f"""select carrier, flight_number, origin,
    max(scheduled_departure_date) as scheduled_departure_date,
    arg_max(tailnum, scheduled_departure_date) as tailnum
from ({days})
group by carrier, flight_number, origin"""


def _observed_in(first: datetime | None, last: datetime) -> str:
    """Staged weather observed (its hour, UTC) from `first` (or the first) and before `last`."""
    lower = f"observed_hour_utc >= {_timestamp(first)} and " if first else ""
    return f"select * from stg_nycflights__weather where {lower}observed_hour_utc < {_timestamp(last)}"


def _last_observed(rows: str) -> str:
    """Of the SELECT `rows` (staged weather), each airport's last observation and those of the two
    hours before it (its 3-hour precipitation adds them up): all a lookup after them can use."""
    return f"""select observed.*
from ({rows}) as observed
join (select airport_code, max(observed_hour_utc) as last_hour from ({rows}) group by airport_code)
    using (airport_code)
where observed_hour_utc >= last_hour - interval 2 hour"""


def _scheduled_in(first: datetime, last: datetime) -> str:
    """The condition on a flight scheduled (UTC) from `first` and before `last`."""
    return f"scheduled_departure_utc >= {_timestamp(first)} and scheduled_departure_utc < {_timestamp(last)}"


def check_horizon(horizon_minutes: int) -> int:
    """`horizon_minutes` if it is a whole number of minutes from 1 to `MAX_HORIZON_MINUTES`: a
    horizon of 0 or less puts T at or after the scheduled departure, where the flight's own
    departure (or its being late) is known."""
    try:
        minutes = operator.index(horizon_minutes)  # an integer of any kind, not a float or a string
    except TypeError:
        raise ValueError(f"the horizon must be a whole number of minutes, not {horizon_minutes!r}") from None
    if isinstance(horizon_minutes, bool) or not 1 <= minutes <= MAX_HORIZON_MINUTES:
        raise ValueError(
            f"the horizon must be from 1 to {MAX_HORIZON_MINUTES} minutes (a week) before the scheduled"
            f" departure, not {horizon_minutes!r}"
        )
    return minutes


def feature_sql(
    horizon_minutes: int,
    weather_lag_minutes: int = WEATHER_LAG_MINUTES,
    scheduled_between: tuple[datetime, datetime] | None = None,
    flights_between: tuple[datetime, datetime] | None = None,
    carried_from: str | None = None,
) -> str:
    """The SELECT computing every flight's features and labels at its decision time: of every
    flight, or of those scheduled (UTC) from the first instant of `scheduled_between` and before
    the second, with the same values a build of every flight gives them (what a build of many
    flights does piece by piece, in bounded memory: `write_features`). `flights_between` limits
    the flights read to those scheduled in that range (it must hold every flight with an event
    the running totals count from the look-back on); `carried_from` names the tables holding the
    totals before the look-back (see `_running_total`) and the latest day each flight number flew
    before it, and the last weather observations before it (see `write_features`). With
    `scheduled_between`, weather is read from the look-back on, plus the last observations before."""
    horizon = check_horizon(horizon_minutes)
    lag = int(weather_lag_minutes)
    between = None
    probed = days = flights_where = "true"
    weather_rows = "stg_nycflights__weather"
    wanted = "select carrier, flight_number, origin from probes where tailnum is null"
    aircraft_flown = _flown_days("true", wanted)
    if flights_between is not None:
        flights_where = _scheduled_in(*flights_between)
    if scheduled_between is not None:
        start, end = scheduled_between
        since = _lookback_start(start, horizon)
        # the running totals are needed from the earliest instant any lookup asks for
        between = (_timestamp(since), _timestamp(end))
        probed = _scheduled_in(start, end)
        # whole local days around the probed flights: the per-day windows see all of each day
        days = (
            f"scheduled_departure_date between date '{start - timedelta(days=1):%Y-%m-%d}' "
            f"and date '{end + timedelta(days=1):%Y-%m-%d}'"
        )
        # The observations known from `since` on and the last ones before (carried, or read from
        # all before): every row a weather lookup from `since` on can match.
        known_since = since - timedelta(minutes=lag)
        earlier = (
            f"select * from {carried_from}weather"
            if carried_from
            else _last_observed(_observed_in(None, known_since))
        )
        weather_rows = f"""(
    {earlier}
    union all
    {_observed_in(known_since, end - timedelta(minutes=lag))}
) as observed"""
        if carried_from:
            # the days before `since` are carried in a table (`write_features`)
            recent = (
                f"scheduled_departure_date >= date '{since:%Y-%m-%d}' "
                f"and scheduled_departure_utc < {_timestamp(end)}"
            )
            aircraft_flown = f"""select * from {carried_from}aircraft_flown
    semi join ({wanted}) as wanted using (carrier, flight_number, origin)
    union all
    {_flown_days(recent, wanted)}"""
    late = LATE_AFTER_MINUTES
    ctes = [
        *_event_sources(flights_where),
        f"""probes as (
    select
        *,
        {horizon} as horizon_minutes,
        scheduled_departure_utc - to_minutes({horizon}) as decision_at_utc
    from flights
    where {probed}
)""",
        """keys as (
    select flight_id, origin, carrier, dest, flight_number, scheduled_hour_local, decision_at_utc
    from probes
)""",
        f"""aircraft_flown as (
    {aircraft_flown}
)""",
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
        *(_running_total(total, between, carried_from) for total in RUNNING_TOTALS),
        # Weather as observed (staging), available from its hour + the lag.
        f"""weather as (
    select
        airport_code as origin,
        observed_hour_utc + to_minutes({lag}) as at_utc,
        temperature_f,
        dew_point_f,
        relative_humidity_pct,
        wind_speed_mph,
        wind_gust_mph,
        precipitation_in,
        pressure_mb,
        visibility_mi,
        has_out_of_range_reading,
        sum(precipitation_in) over (
            partition by airport_code order by observed_hour_utc
            range between interval 2 hour preceding and current row
        ) as precipitation_3h_in
    from {weather_rows}
)""",
        # The aircraft's earlier departures from New York on the same local day (schedule: known).
        f"""legs as (
    select
        flight_id,
        row_number() over day_legs - 1 as earlier_legs_today,
        lag(scheduled_departure_utc) over day_legs as previous_leg_scheduled_utc,
        lag(actual_departure_utc) over day_legs as previous_leg_departed_utc,
        lag(dep_delay_minutes) over day_legs as previous_leg_dep_delay_minutes,
        lag(actual_arrival_utc) over day_legs as previous_leg_arrived_utc,
        lag(arr_delay_minutes) over day_legs as previous_leg_arr_delay_minutes,
        lag(datediff('minute', scheduled_departure_utc, scheduled_arrival_utc)) over day_legs
            as previous_leg_block_minutes
    from flights
    where tailnum is not null and {days}
    window day_legs as (
        partition by tailnum, scheduled_departure_date order by scheduled_departure_utc, flight_id
    )
)""",
        f"""scheduled_load as (
    select
        flight_id,
        count(*) over (partition by origin, scheduled_departure_date, scheduled_hour_local) as origin_hour,
        count(*) over (partition by origin, scheduled_departure_date) as origin_day,
        count(*) over (partition by scheduled_departure_date, scheduled_hour_local) as nyc_hour
    from flights
    where {days}
)""",
    ]
    t = "flight.decision_at_utc"
    joins = [
        "left join legs using (flight_id)",
        "left join scheduled_load using (flight_id)",
        "left join stand_in_aircraft as stand_in using (flight_id)",
        "left join dim_planes as plane on coalesce(flight.tailnum, stand_in.tailnum) = plane.tailnum",
        "left join dim_dates as day on flight.scheduled_departure_date = day.date_day",
        _as_of("od_now", "origin_departed", ["origin"]),
        _as_of("od_60", "origin_departed", ["origin"], 60),
        _as_of("od_180", "origin_departed", ["origin"], 180),
        _as_of("nd_now", "nyc_departed", []),
        _as_of("nd_60", "nyc_departed", [], 60),
        _as_of("nd_180", "nyc_departed", [], 180),
        _as_of("cd_now", "carrier_departed", ["carrier"]),
        _as_of("cd_180", "carrier_departed", ["carrier"], 180),
        _as_of("os", "origin_scheduled", ["origin"]),
        _as_of("ol", "origin_left", ["origin"]),
        _as_of("oof", "origin_overdue_from", ["origin"]),
        _as_of("oou", "origin_overdue_until", ["origin"]),
        _as_of("ns", "nyc_scheduled", []),
        _as_of("nl", "nyc_left", []),
        _as_of("nof", "nyc_overdue_from", []),
        _as_of("nou", "nyc_overdue_until", []),
        _as_of("cof", "carrier_overdue_from", ["carrier"]),
        _as_of("cou", "carrier_overdue_until", ["carrier"]),
        _as_of("rl", "route_labels", ["origin", "dest"]),
        _as_of("cl", "carrier_labels", ["carrier"]),
        _as_of("fl", "flight_number_labels", ["carrier", "flight_number"]),
        _as_of("ohl", "origin_hour_labels", ["origin", "scheduled_hour_local"]),
        _as_of("cl_7d", "carrier_labels", ["carrier"], 7 * 1440),
        _as_of("ol_now", "origin_labels", ["origin"]),
        _as_of("ol_7d", "origin_labels", ["origin"], 7 * 1440),
        _as_of("ol_3h", "origin_labels", ["origin"], 180),
        _as_of("cl_3h", "carrier_labels", ["carrier"], 180),
        _as_of("nl_now", "nyc_labels", []),
        _as_of("nl_3h", "nyc_labels", [], 180),
        _as_of("fl_28d", "flight_number_labels", ["carrier", "flight_number"], 28 * 1440),
        _as_of("col_now", "carrier_origin_labels", ["carrier", "origin"]),
        _as_of("col_3h", "carrier_origin_labels", ["carrier", "origin"], 180),
        _as_of("ol_1h", "origin_labels", ["origin"], 60),
        # weather.at_utc is the instant a row becomes known: the latest one at or before T
        _as_of("wx", "weather", ["origin"], inclusive=True),
        _as_of("wx_3h", "weather", ["origin"], 180, inclusive=True),
    ]
    for lookup, _ in (j for j in joins if isinstance(j, tuple)):
        ctes.append(lookup)
    join_clauses = [j if isinstance(j, str) else j[1] for j in joins]

    def mean_delay(now: str, then: str) -> str:
        return f"({_window(now, then, 'delay_sum')}) / nullif({_window(now, then, 'departed')}, 0)"

    def rate(now: str, then: str | None = None) -> str:
        if then is None:
            return f"{now}.delayed / nullif({now}.known, 0)"
        return f"({_window(now, then, 'delayed')}) / nullif({_window(now, then, 'known')}, 0)"

    columns = {
        # keys, labels and what the split and the per-group metrics need
        "flight_id": "flight.flight_id",
        "scheduled_departure_utc": "flight.scheduled_departure_utc",
        "scheduled_departure_date": "flight.scheduled_departure_date",
        "horizon_minutes": "flight.horizon_minutes",
        "decision_at_utc": t,
        "is_delayed": "flight.is_delayed",
        "is_delayed_departed": "case when not flight.is_cancelled then flight.is_delayed end",
        "arr_delay_minutes": (
            "case when not flight.is_cancelled and not flight.is_diverted then flight.arr_delay_minutes end"
        ),
        "is_cancelled": "flight.is_cancelled",
        # schedule
        "carrier": "flight.carrier",
        "origin": "flight.origin",
        "dest": "flight.dest",
        "manufacturer": "plane.manufacturer",
        "distance_miles": "flight.distance_miles",
        "scheduled_block_minutes": (
            "datediff('minute', flight.scheduled_departure_utc, flight.scheduled_arrival_utc)"
        ),
        "scheduled_hour_local": "flight.scheduled_hour_local",
        "day_of_week": "isodow(flight.scheduled_departure_date)",
        "is_holiday": "day.is_holiday",
        "days_to_nearest_holiday": "day.days_to_nearest_holiday",
        "scheduled_departures_origin_hour": "scheduled_load.origin_hour",
        "scheduled_departures_origin_day": "scheduled_load.origin_day",
        "scheduled_departures_nyc_hour": "scheduled_load.nyc_hour",
        # aircraft
        "is_plane_unknown": "coalesce(plane.is_missing_from_registry, true)",
        "plane_age_years": "year(flight.scheduled_departure_date) - plane.year_manufactured",
        "seat_count": "plane.seat_count",
        "engine_count": "plane.engine_count",
        # a flight without a tail is on no aircraft's day: a first leg, like a stand-in's
        "earlier_legs_today": "coalesce(legs.earlier_legs_today, 0)",
        "minutes_since_previous_leg": (
            "datediff('minute', legs.previous_leg_scheduled_utc, flight.scheduled_departure_utc)"
        ),
        "previous_leg_dep_delay_minutes": (
            f"case when legs.previous_leg_departed_utc < {t} then legs.previous_leg_dep_delay_minutes end"
        ),
        "is_previous_leg_overdue": (
            f"legs.previous_leg_scheduled_utc + interval {late} minute < {t} "
            f"and not coalesce(legs.previous_leg_departed_utc < {t}, false)"
        ),
        "previous_leg_arr_delay_minutes": (
            f"case when legs.previous_leg_arrived_utc < {t} then legs.previous_leg_arr_delay_minutes end"
        ),
        # Minutes between the aircraft's expected return to New York and this flight's scheduled
        # departure, the return assumed as long as the previous leg's scheduled block: from the
        # previous leg's arrival if it landed before T, else from its departure if it left before
        # T, else from its scheduled departure or T, whichever is later (it has not left by T).
        "aircraft_return_slack_minutes": (
            "datediff('minute', case"
            f" when legs.previous_leg_arrived_utc < {t}"
            " then legs.previous_leg_arrived_utc + to_minutes(legs.previous_leg_block_minutes)"
            f" when legs.previous_leg_departed_utc < {t}"
            " then legs.previous_leg_departed_utc + to_minutes(2 * legs.previous_leg_block_minutes)"
            f" else greatest(legs.previous_leg_scheduled_utc, {t})"
            " + to_minutes(2 * legs.previous_leg_block_minutes)"
            " end, flight.scheduled_departure_utc)"
        ),
        # weather
        "weather_age_minutes": f"datediff('minute', wx.at_utc, {t})",
        "temperature_f": "wx.temperature_f",
        "dew_point_f": "wx.dew_point_f",
        "relative_humidity_pct": "wx.relative_humidity_pct",
        "wind_speed_mph": "wx.wind_speed_mph",
        "wind_gust_mph": "wx.wind_gust_mph",
        "precipitation_in": "wx.precipitation_in",
        "pressure_mb": "wx.pressure_mb",
        "visibility_mi": "wx.visibility_mi",
        "has_out_of_range_weather": "wx.has_out_of_range_reading",
        "temperature_change_3h": "wx.temperature_f - wx_3h.temperature_f",
        "pressure_change_3h": "wx.pressure_mb - wx_3h.pressure_mb",
        "visibility_change_3h": "wx.visibility_mi - wx_3h.visibility_mi",
        "precipitation_3h_in": "wx.precipitation_3h_in",
        # live state at T
        "origin_departures_60m": _window("od_now", "od_60", "departed"),
        "origin_mean_delay_60m": mean_delay("od_now", "od_60"),
        "origin_departures_180m": _window("od_now", "od_180", "departed"),
        "origin_mean_delay_180m": mean_delay("od_now", "od_180"),
        "origin_waiting": "coalesce(os.n, 0) - coalesce(ol.n, 0)",
        "origin_overdue": "coalesce(oof.n, 0) - coalesce(oou.n, 0)",
        "nyc_departures_60m": _window("nd_now", "nd_60", "departed"),
        "nyc_mean_delay_60m": mean_delay("nd_now", "nd_60"),
        "nyc_mean_delay_180m": mean_delay("nd_now", "nd_180"),
        "nyc_waiting": "coalesce(ns.n, 0) - coalesce(nl.n, 0)",
        "nyc_overdue": "coalesce(nof.n, 0) - coalesce(nou.n, 0)",
        "carrier_departures_180m": _window("cd_now", "cd_180", "departed"),
        "carrier_mean_delay_180m": mean_delay("cd_now", "cd_180"),
        "carrier_overdue": "coalesce(cof.n, 0) - coalesce(cou.n, 0)",
        # history: outcomes settled before T
        "route_flights_known": "coalesce(rl.known, 0)",
        "route_delay_rate": rate("rl"),
        "carrier_flights_known": "coalesce(cl.known, 0)",
        "carrier_delay_rate": rate("cl"),
        "flight_number_flights_known": "coalesce(fl.known, 0)",
        "flight_number_delay_rate": rate("fl"),
        "origin_hour_flights_known": "coalesce(ohl.known, 0)",
        "origin_hour_delay_rate": rate("ohl"),
        "carrier_delay_rate_7d": rate("cl", "cl_7d"),
        "origin_delay_rate_7d": rate("ol_now", "ol_7d"),
        "origin_delay_rate_3h": rate("ol_now", "ol_3h"),
        "nyc_delay_rate_3h": rate("nl_now", "nl_3h"),
        "carrier_delay_rate_3h": rate("cl", "cl_3h"),
        "flight_number_delay_rate_28d": rate("fl", "fl_28d"),
        "carrier_origin_delay_rate_3h": rate("col_now", "col_3h"),
        "origin_delay_rate_1h": rate("ol_now", "ol_1h"),
    }
    select = ",\n    ".join(f"{expression} as {name}" for name, expression in columns.items())
    return (
        "with\n\n"
        + ",\n\n".join(ctes)
        + f"\n\nselect\n    {select}\nfrom probes as flight\n"
        + "\n".join(join_clauses)
        + "\norder by flight.scheduled_departure_utc, flight.flight_id"
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

    The totals before each month's look-back, the latest day each flight number flew before it
    (for the stand-in aircraft) and the last weather observations before it are carried from month
    to month in temporary tables (the previous month's plus the events in between). A flight's
    events (departure, label known, waiting, overdue) lie between its schedule plus the data's
    earliest departure delay and its schedule plus the largest of the latest departure delay and
    the waiting cap, so the flights whose events fall in a span are read by schedule, widened by
    those extremes. `fct_flights` is stored in scheduled order and the weather in the order of its
    monthly files, so these reads skip most of the tables. `months` (in order; default all of
    `monthly_windows`) builds some months only; `on_month` is told each file once written."""
    connection.execute("set enable_progress_bar = false")
    directory.mkdir(parents=True, exist_ok=True)
    latest, earliest = connection.execute(
        "select coalesce(max(dep_delay_minutes), 0), coalesce(min(dep_delay_minutes), 0) from fct_flights"
    ).fetchall()[0]
    after = timedelta(minutes=max(latest, WAITING_CAP_MINUTES, LATE_AFTER_MINUTES + 1) + 1)
    ahead = timedelta(minutes=max(-earliest, 0) + 1)

    def replace(table: str, select: str) -> None:
        """`table` becomes the temporary table of `select` (which may read the old `table`)."""
        connection.execute(f"create or replace temp table {table}_next as {select}")
        connection.execute(f"drop table if exists {table}")
        connection.execute(f"alter table {table}_next rename to {table}")

    written = []
    carried_until: datetime | None = None
    for start, end in monthly_windows(connection) if months is None else months:
        since = _lookback_start(start, horizon_minutes)
        before_since = f"scheduled_departure_date < date '{since:%Y-%m-%d}'"
        for total in RUNNING_TOTALS:
            table = f"carried_{total.name}"
            if carried_until is None:
                totals = _carried_totals(total, None, _timestamp(since))
            else:
                events_from = _scheduled_in(carried_until - after, since + ahead)
                more = _carried_totals(total, _timestamp(carried_until), _timestamp(since), events_from)
                totals = _added_totals(total, table, more)
            replace(table, totals)
        # the latest day each flight number flew before `since`, for the stand-in aircraft
        if carried_until is None:
            flown = _flown_days(before_since)
        else:
            days = f"scheduled_departure_date >= date '{carried_until:%Y-%m-%d}' and {before_since}"
            flown = f"select * from carried_aircraft_flown union all {_flown_days(days)}"
        replace("carried_aircraft_flown", _last_flown(flown))
        # the last weather observations known before `since`
        known_since = since - timedelta(minutes=WEATHER_LAG_MINUTES)
        if carried_until is None:
            observed = _observed_in(None, known_since)
        else:
            newer = _observed_in(carried_until - timedelta(minutes=WEATHER_LAG_MINUTES), known_since)
            observed = f"select * from carried_weather union all {newer}"
        replace("carried_weather", _last_observed(observed))
        carried_until = since
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


def read_features(warehouse: Path, horizon_minutes: int = DEFAULT_HORIZON_MINUTES) -> pl.DataFrame:
    """`build_features` on a read-only connection to a warehouse file."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return build_features(connection, horizon_minutes)
