with

registry as (
    select * from {{ ref('base_nycflights__airports') }}
    where rejection_reason is null
),

supplements as (
    select * from {{ ref('airport_time_zone_supplements') }}
),

renamed as (
    select
        -- ids
        faa as airport_code,

        -- strings
        name as airport_name,
        dst as dst_rule_code,
        tzone as time_zone,

        -- numerics
        lat as latitude,
        lon as longitude,
        alt as altitude_ft,
        tz as standard_utc_offset_hours,

        -- booleans
        false as is_missing_from_registry,

        -- lineage
        source_file,
        source_line
    from registry
),

supplemented as (
    select
        airport_code,
        airport_name,
        null as dst_rule_code,
        time_zone,
        latitude,
        longitude,
        null as altitude_ft,
        null as standard_utc_offset_hours,
        true as is_missing_from_registry,
        'seeds/airport_time_zone_supplements.csv' as source_file,
        null as source_line
    from supplements
    where airport_code not in (select registry.airport_code from renamed as registry)
)

select * from renamed
union all
select * from supplemented
