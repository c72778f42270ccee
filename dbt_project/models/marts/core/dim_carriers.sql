{{ config(meta={'lake_order_by': 'carrier_code'}) }}

with

airlines as (
    select * from {{ ref('stg_nycflights__airlines') }}
),

flown as (
    select distinct carrier_code from {{ ref('stg_nycflights__flights') }}
),

-- A carrier code that flies but is missing from the airlines extract becomes an explicit,
-- flagged member, so facts keep their key and the gap stays visible.
unknown as (
    select
        flown.carrier_code,
        cast(null as {{ dbt.type_string() }}) as carrier_name,
        true as is_missing_from_registry
    from flown
    left join airlines
        on flown.carrier_code = airlines.carrier_code
    where airlines.carrier_code is null
)

select
    carrier_code,
    carrier_name,
    false as is_missing_from_registry
from airlines
union all
select * from unknown
