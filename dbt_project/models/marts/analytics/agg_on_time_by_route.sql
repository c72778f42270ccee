{{ config(meta={'lake_order_by': 'origin, dest'}) }}

with

flights as (
    select * from {{ ref('fct_flights') }}
),

airports as (
    select * from {{ ref('dim_airports') }}
)

select
    flights.origin,
    flights.dest,
    airports.airport_name as dest_airport_name,
    airports.is_missing_from_registry as is_dest_missing_from_registry,
    avg(flights.distance_miles) as mean_distance_miles,
    count(distinct flights.carrier) as carrier_count,
    {{ flight_performance_measures() }}
from flights
inner join airports
    on flights.dest = airports.airport_code
group by flights.origin, flights.dest, airports.airport_name, airports.is_missing_from_registry
