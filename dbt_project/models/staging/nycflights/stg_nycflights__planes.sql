with

source as (
    select * from {{ ref('base_nycflights__planes') }}
    where rejection_reason is null
),

renamed as (
    select
        -- ids
        tailnum as tail_number,

        -- strings
        type as aircraft_type,
        manufacturer,
        model,
        engine as engine_type,

        -- numerics
        year as year_manufactured,
        engines as engine_count,
        seats as seat_count,
        speed as cruise_speed_mph,

        -- lineage
        source_file,
        source_line
    from source
)

select * from renamed
