{{ config(meta={'lake_order_by': 'scheduled_departure_date, carrier, origin'}) }}

with

flights as (
    select * from {{ ref('fct_flights') }}
)

select
    flights.scheduled_departure_date,
    flights.carrier,
    flights.origin,
    {{ flight_performance_measures() }}
from flights
group by flights.scheduled_departure_date, flights.carrier, flights.origin
