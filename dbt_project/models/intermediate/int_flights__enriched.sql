{#- Each staged flight with its stable id, the on-time flags every mart shares, flags where a
    reference row is missing, and the weather observed at the origin in its scheduled departure
    hour. -#}
{%- set on_time = var('on_time_threshold_minutes') -%}

with

flights as (
    select * from {{ ref('stg_nycflights__flights') }}
),

planes as (
    select * from {{ ref('stg_nycflights__planes') }}
),

airports as (
    select * from {{ ref('stg_nycflights__airports') }}
),

weather as (
    select * from {{ ref('int_weather__hourly_grid') }}
)

select
    -- ids: a flight is one carrier's flight number leaving one origin at one scheduled local
    -- time (unique in the source, enforced by the base model), so its hash is stable across
    -- rebuilds and machines.
    {{ dbt.hash(dbt.concat([
        'flights.carrier_code', "'|'", dbt.safe_cast('flights.flight_number', dbt.type_string()), "'|'",
        'flights.origin_airport_code', "'|'", dbt.safe_cast('flights.scheduled_departure_local', dbt.type_string()),
    ])) }} as flight_id,
    flights.carrier_code,
    flights.flight_number,
    flights.tail_number,
    flights.origin_airport_code,
    flights.dest_airport_code,

    -- dates and instants
    flights.scheduled_departure_date,
    flights.scheduled_departure_local,
    flights.scheduled_departure_utc,
    flights.scheduled_departure_hour_utc,
    flights.actual_departure_local,
    flights.actual_departure_utc,
    flights.scheduled_arrival_local,
    flights.scheduled_arrival_utc,
    flights.actual_arrival_local,
    flights.actual_arrival_utc,

    -- measures
    flights.dep_delay_minutes,
    flights.arr_delay_minutes,
    flights.air_time_minutes,
    flights.distance_miles,

    -- flags
    flights.is_cancelled,
    flights.is_diverted,
    flights.dep_delay_minutes > {{ on_time }} as is_departure_delayed,
    flights.arr_delay_minutes < {{ on_time }} as is_on_time_arrival,
    flights.tail_number is not null and planes.tail_number is null as is_plane_missing_from_registry,
    coalesce(dest_airport.is_missing_from_registry, true) as is_dest_missing_from_registry,

    -- weather at the origin in the scheduled departure hour
    weather.temperature_f,
    weather.wind_speed_mph,
    weather.precipitation_in,
    weather.visibility_mi,

    -- lineage
    flights.source_file,
    flights.source_line
from flights
left join planes
    on flights.tail_number = planes.tail_number
left join airports as dest_airport
    on flights.dest_airport_code = dest_airport.airport_code
left join weather
    on
        flights.origin_airport_code = weather.airport_code
        and flights.scheduled_departure_hour_utc = weather.weather_hour_utc
