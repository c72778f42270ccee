with

source as (
    select * from {{ ref('base_nycflights__airlines') }}
    where rejection_reason is null
),

renamed as (
    select
        -- ids
        carrier as carrier_code,

        -- strings
        name as carrier_name,

        -- lineage
        source_file,
        source_line
    from source
)

select * from renamed
