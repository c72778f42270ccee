{{ config(meta={'lake_order_by': 'tail_number'}) }}

with

planes as (
    select * from {{ ref('stg_nycflights__planes') }}
),

flown as (
    select
        tail_number,
        count(*) as flight_count
    from {{ ref('stg_nycflights__flights') }}
    where tail_number is not null
    group by tail_number
),

registered as (
    select
        planes.tail_number,
        planes.year_manufactured,
        planes.aircraft_type,
        planes.manufacturer,
        planes.model,
        planes.engine_count,
        planes.seat_count,
        planes.cruise_speed_mph,
        planes.engine_type,
        false as is_missing_from_registry,
        coalesce(flown.flight_count, 0) as flight_count
    from planes
    left join flown
        on planes.tail_number = flown.tail_number
),

-- Tail numbers that fly but have no registry row: explicit members with unknown attributes.
unregistered as (
    select
        flown.tail_number,
        cast(null as integer) as year_manufactured,
        cast(null as {{ dbt.type_string() }}) as aircraft_type,
        cast(null as {{ dbt.type_string() }}) as manufacturer,
        cast(null as {{ dbt.type_string() }}) as model,
        cast(null as integer) as engine_count,
        cast(null as integer) as seat_count,
        cast(null as integer) as cruise_speed_mph,
        cast(null as {{ dbt.type_string() }}) as engine_type,
        true as is_missing_from_registry,
        flown.flight_count
    from flown
    left join planes
        on flown.tail_number = planes.tail_number
    where planes.tail_number is null
)

select * from registered
union all
select * from unregistered
