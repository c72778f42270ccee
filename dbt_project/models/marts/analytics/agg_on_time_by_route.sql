{{ config(meta={'lake_order_by': 'origin_airport_code, dest_airport_code'}) }}

with

flights as (
    select * from {{ ref('fct_flights') }}
),

airports as (
    select * from {{ ref('dim_airports') }}
)

select
    flights.origin_airport_code,
    flights.dest_airport_code,
    airports.airport_name as dest_airport_name,
    airports.is_missing_from_registry as is_dest_missing_from_registry,
    avg(flights.distance_miles) as mean_distance_miles,
    count(distinct flights.carrier_code) as carrier_count,
    {{ flight_performance_measures() }}
from flights
inner join airports
    on flights.dest_airport_code = airports.airport_code
group by
    flights.origin_airport_code,
    flights.dest_airport_code,
    airports.airport_name,
    airports.is_missing_from_registry
