{#- Every parsed flight row with its airports' time zones and real instants: local clock times
    become UTC instants in the zone of the airport they were read at. -#}

with

flights as (
    select * from {{ ref('base_nycflights__flights') }}
),

airports as (
    select * from {{ ref('stg_nycflights__airports') }}
),

located as (
    select
        flights.*,
        origin_airport.time_zone as origin_time_zone,
        destination_airport.time_zone as dest_time_zone
    from flights
    left join airports as origin_airport
        on flights.origin = origin_airport.airport_code
    left join airports as destination_airport
        on flights.dest = destination_airport.airport_code
),

-- Instants are computed in steps, each time-zone conversion once per row (they dominate the cost).
scheduled_local as (
    select
        *,
        case
            when {{ is_valid_hhmm('sched_dep_time') }}
                then {{ local_clock_timestamp('flight_date', 'sched_dep_time') }}
        end as scheduled_departure_local
    from located
),

departure_later_fold as (
    select
        *,
        {{ local_to_utc('scheduled_departure_local', 'origin_time_zone') }} as departure_later_fold_utc
    from scheduled_local
),

departures as (
    select
        {{ star_except(['departure_later_fold_utc']) }},
        -- time_hour, the source's own UTC hour of the scheduled departure, tells which of the
        -- two instants a clock time in the repeated hour of the DST change means.
        case
            when {{ dbt.date_trunc('hour', earlier_fold_utc(
                'departure_later_fold_utc', 'scheduled_departure_local', 'origin_time_zone')) }} = time_hour
                then {{ earlier_fold_utc('departure_later_fold_utc', 'scheduled_departure_local', 'origin_time_zone') }}
            else departure_later_fold_utc
        end as scheduled_departure_utc
    from departure_later_fold
),

-- An arrival clock time carries no date: the arrival is the first instant at or after the
-- departure at which the destination's clock shows it (no flight here lasts a day).
arrival_clocks as (
    select
        *,
        {{ dbt.dateadd('minute', 'dep_delay', 'scheduled_departure_utc') }} as actual_departure_utc,
        case
            when {{ is_valid_hhmm('sched_arr_time') }}
                then {{ local_clock_timestamp(
                    'cast(' ~ utc_to_local('scheduled_departure_utc', 'dest_time_zone') ~ ' as date)',
                    'sched_arr_time') }}
        end as scheduled_arrival_clock_local,
        case
            when {{ is_valid_hhmm('arr_time') }}
                then {{ local_clock_timestamp(
                    'cast(' ~ utc_to_local(dbt.dateadd('minute', 'dep_delay', 'scheduled_departure_utc'),
                        'dest_time_zone') ~ ' as date)',
                    'arr_time') }}
        end as actual_arrival_clock_local
    from departures
),

arrival_later_folds as (
    select
        *,
        {{ local_to_utc('scheduled_arrival_clock_local', 'dest_time_zone') }} as scheduled_arrival_same_day_utc,
        {{ local_to_utc(dbt.dateadd('day', 1, 'scheduled_arrival_clock_local'), 'dest_time_zone') }}
            as scheduled_arrival_next_day_utc,
        {{ local_to_utc('actual_arrival_clock_local', 'dest_time_zone') }} as actual_arrival_same_day_utc,
        {{ local_to_utc(dbt.dateadd('day', 1, 'actual_arrival_clock_local'), 'dest_time_zone') }}
            as actual_arrival_next_day_utc
    from arrival_clocks
)

select
    {{ star_except([
        'scheduled_arrival_clock_local', 'scheduled_arrival_same_day_utc', 'scheduled_arrival_next_day_utc',
        'actual_arrival_clock_local', 'actual_arrival_same_day_utc', 'actual_arrival_next_day_utc',
    ]) }},
    {{ first_instant_at_or_after(
        'scheduled_departure_utc', 'scheduled_arrival_same_day_utc', 'scheduled_arrival_next_day_utc',
        'scheduled_arrival_clock_local', 'dest_time_zone') }} as scheduled_arrival_utc,
    {{ first_instant_at_or_after(
        'actual_departure_utc', 'actual_arrival_same_day_utc', 'actual_arrival_next_day_utc',
        'actual_arrival_clock_local', 'dest_time_zone') }} as actual_arrival_utc
from arrival_later_folds
