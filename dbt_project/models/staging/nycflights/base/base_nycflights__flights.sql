{%- set fields = declared_fields('flights') -%}
{%- set required = declared_required_fields('flights') -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'flights')) }}
),

{{ parse_and_check_fields('source', fields, required) }},

airports as (
    select * from {{ ref('stg_nycflights__airports') }}
),

located as (
    select
        checked_fields.*,
        origin_airport.time_zone as origin_time_zone,
        destination_airport.time_zone as dest_time_zone,
        {{ dbt.safe_cast("checked_fields.year || '-' || checked_fields.month || '-' || checked_fields.day", 'date') }}
            as flight_date
    from checked_fields
    left join airports as origin_airport
        on checked_fields.origin = origin_airport.airport_code
    left join airports as destination_airport
        on checked_fields.dest = destination_airport.airport_code
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
        * exclude (departure_later_fold_utc),
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
),

arrivals as (
    select
        * exclude (
            scheduled_arrival_clock_local, scheduled_arrival_same_day_utc, scheduled_arrival_next_day_utc,
            actual_arrival_clock_local, actual_arrival_same_day_utc, actual_arrival_next_day_utc
        ),
        {{ first_instant_at_or_after(
            'scheduled_departure_utc', 'scheduled_arrival_same_day_utc', 'scheduled_arrival_next_day_utc',
            'scheduled_arrival_clock_local', 'dest_time_zone') }} as scheduled_arrival_utc,
        {{ first_instant_at_or_after(
            'actual_departure_utc', 'actual_arrival_same_day_utc', 'actual_arrival_next_day_utc',
            'actual_arrival_clock_local', 'dest_time_zone') }} as actual_arrival_utc
    from arrival_later_folds
),

checked_rows as (
    select
        * exclude (field_rejection),
        concat_ws(
            '; ',
            nullif(field_rejection, ''),
            case
                when flight_date is null and year is not null and month is not null and day is not null
                    then 'impossible date ' || year || '-' || month || '-' || day
            end,
            {%- for clock in ['sched_dep_time', 'dep_time', 'sched_arr_time', 'arr_time'] %}
                case
                    when {{ clock }} is not null and not {{ is_valid_hhmm(clock) }}
                        then 'impossible clock time {{ clock }} ' || {{ clock }}
                end,
            {%- endfor %}
            case
                when hour * 100 + minute <> sched_dep_time
                    then 'hour ' || hour || ' and minute ' || minute
                        || ' disagree with sched_dep_time ' || sched_dep_time
            end,
            case
                when origin is not null and origin_time_zone is null
                    then 'no time zone known for origin ' || origin
            end,
            case
                when dest is not null and dest_time_zone is null
                    then 'no time zone known for destination ' || dest
            end,
            case
                when {{ dbt.date_trunc('hour', 'scheduled_departure_utc') }} <> time_hour
                    then 'time_hour ' || time_hour || ' is not the UTC hour of the scheduled departure '
                        || scheduled_departure_local || ' at ' || origin
            end,
            case
                when (dep_time is null) <> (dep_delay is null)
                    then 'dep_time and dep_delay disagree on whether the flight left'
            end,
            case
                when {{ delay_disagrees_with_clocks('sched_dep_time', 'dep_delay', 'dep_time') }}
                    then 'dep_delay ' || dep_delay || ' disagrees with sched_dep_time ' || sched_dep_time
                        || ' and dep_time ' || dep_time
            end,
            case
                when {{ delay_disagrees_with_clocks('sched_arr_time', 'arr_delay', 'arr_time') }}
                    then 'arr_delay ' || arr_delay || ' disagrees with sched_arr_time ' || sched_arr_time
                        || ' and arr_time ' || arr_time
            end,
            case when distance <= 0 then 'distance ' || distance || ' is not positive' end,
            case when air_time <= 0 then 'air_time ' || air_time || ' is not positive' end
        ) as field_rejection
    from arrivals
),

{{ with_rejection_reason(
    'checked_rows',
    key_columns=['carrier', 'flight', 'origin', 'scheduled_departure_local'],
    key_name='scheduled flight',
) }}
