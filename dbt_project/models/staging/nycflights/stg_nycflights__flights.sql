with

source as (
    select * from {{ ref('stg_nycflights__flights_checked') }}
    where rejection_reason is null
),

renamed as (
    select
        -- ids
        carrier as carrier_code,
        flight as flight_number,
        tailnum as tail_number,
        origin as origin_airport_code,
        dest as dest_airport_code,

        -- dates and instants
        flight_date as scheduled_departure_date,
        scheduled_departure_local,
        scheduled_departure_utc,
        actual_departure_utc,
        {{ utc_to_local('actual_departure_utc', 'origin_time_zone') }} as actual_departure_local,
        scheduled_arrival_utc,
        {{ utc_to_local('scheduled_arrival_utc', 'dest_time_zone') }} as scheduled_arrival_local,
        actual_arrival_utc,
        {{ utc_to_local('actual_arrival_utc', 'dest_time_zone') }} as actual_arrival_local,
        time_hour as scheduled_departure_hour_utc,

        -- clock times as published (local hhmm)
        sched_dep_time as scheduled_departure_hhmm,
        dep_time as actual_departure_hhmm,
        sched_arr_time as scheduled_arrival_hhmm,
        arr_time as actual_arrival_hhmm,

        -- numerics
        dep_delay as dep_delay_minutes,
        arr_delay as arr_delay_minutes,
        air_time as air_time_minutes,
        distance as distance_miles,

        -- time zones
        origin_time_zone,
        dest_time_zone,

        -- booleans
        -- The source marks a cancellation by leaving the departure empty.
        dep_time is null as is_cancelled,
        -- Left but never reported an arrival delay: diverted (or lost in reporting).
        dep_time is not null and arr_delay is null as is_diverted,

        -- lineage
        source_file,
        source_line
    from source
)

select * from renamed
