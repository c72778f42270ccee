{#- Every flight row with every hard rule it broke: the field rules of the base model, then the
    rules that need the whole row, its time zones and its instants, then key collisions. -#}

with

flights as (
    select * from {{ ref('stg_nycflights__flights_located') }}
),

checked_rows as (
    select
        {{ star_except(['field_rejection']) }},
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
    from flights
),

{{ with_rejection_reason(
    'checked_rows',
    key_columns=['carrier', 'flight', 'origin', 'scheduled_departure_local'],
    key_name='scheduled flight',
) }}
