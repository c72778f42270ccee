{{ config(meta={'lake_order_by': 'airport_code'}) }}

with

airports as (
    select * from {{ ref('stg_nycflights__airports') }}
),

origins as (
    select distinct origin_airport_code from {{ ref('stg_nycflights__flights') }}
)

select
    airports.airport_code,
    airports.airport_name,
    airports.latitude,
    airports.longitude,
    airports.altitude_ft,
    airports.time_zone,
    airports.standard_utc_offset_hours,
    airports.dst_rule_code,
    airports.is_missing_from_registry,
    origins.origin_airport_code is not null as is_nyc_origin
from airports
left join origins
    on airports.airport_code = origins.origin_airport_code
