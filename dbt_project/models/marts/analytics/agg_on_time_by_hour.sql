{{ config(meta={'lake_order_by': 'origin, scheduled_departure_hour_local'}) }}

with

flights as (
    select * from {{ ref('fct_flights') }}
)

select
    flights.origin,
    extract(hour from flights.scheduled_departure_local) as scheduled_departure_hour_local,
    {{ flight_performance_measures() }}
from flights
group by flights.origin, extract(hour from flights.scheduled_departure_local)
