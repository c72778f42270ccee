{{ config(meta={'lake_order_by': 'scheduled_departure_utc, flight_id'}) }}

with

flights as (
    select * from {{ ref('int_flights__enriched') }}
)

select
    -- keys
    flight_id,
    carrier_code,
    flight_number,
    tail_number,
    origin_airport_code,
    dest_airport_code,
    scheduled_departure_date,

    -- instants
    scheduled_departure_local,
    scheduled_departure_utc,
    scheduled_departure_hour_utc,
    actual_departure_local,
    actual_departure_utc,
    scheduled_arrival_local,
    scheduled_arrival_utc,
    actual_arrival_local,
    actual_arrival_utc,

    -- measures
    dep_delay_minutes,
    arr_delay_minutes,
    distance_miles,
    air_time_minutes,

    -- flags
    is_cancelled,
    is_diverted,
    is_departure_delayed,
    is_on_time_arrival,
    is_plane_missing_from_registry,
    is_dest_missing_from_registry,

    -- lineage
    source_file,
    source_line
from flights
-- Stored in scheduled order: a read of some months (the month-by-month feature build) skips the
-- other row groups by their min/max instead of scanning the whole table.
order by scheduled_departure_utc, flight_id
