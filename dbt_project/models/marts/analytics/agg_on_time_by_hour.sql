{{ config(meta={'lake_order_by': 'origin_airport_code, scheduled_departure_hour_local'}) }}

with

flights as (
    select * from {{ ref('fct_flights') }}
)

select
    flights.origin_airport_code,
    cast(extract(hour from flights.scheduled_departure_local) as bigint) as scheduled_departure_hour_local,
    {{ flight_performance_measures() }}
from flights
group by flights.origin_airport_code, cast(extract(hour from flights.scheduled_departure_local) as bigint)
