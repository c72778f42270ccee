{{ config(meta={'lake_order_by': 'scheduled_departure_date, carrier_code, origin_airport_code'}) }}

with

flights as (
    select * from {{ ref('fct_flights') }}
)

select
    flights.scheduled_departure_date,
    flights.carrier_code,
    flights.origin_airport_code,
    {{ flight_performance_measures() }}
from flights
group by flights.scheduled_departure_date, flights.carrier_code, flights.origin_airport_code
