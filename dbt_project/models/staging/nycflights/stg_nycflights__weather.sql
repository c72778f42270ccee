{%- set measures = var('weather_measure_names') -%}
{%- set bounds = var('raw_measures')['weather'] -%}

with

source as (
    select * from {{ ref('stg_nycflights__weather_checked') }}
    where rejection_reason is null
),

renamed as (
    select
        -- ids
        origin as airport_code,

        -- instants
        time_hour as observed_hour_utc,
        {{ dbt.dateadd('hour', 'hour', dbt.safe_cast("year || '-' || month || '-' || day", dbt.type_timestamp())) }}
            as observed_hour_local,

        -- measures: physically impossible readings become NULL, flagged below
        {%- for raw, name in measures.items() %}
            case when {{ raw }} between {{ bounds[raw][0] }} and {{ bounds[raw][1] }} then {{ raw }} end
                as {{ name }},
        {%- endfor %}

        -- booleans
        {%- for raw, name in measures.items() %}
            coalesce({{ raw }} not between {{ bounds[raw][0] }} and {{ bounds[raw][1] }}, false)
                as is_{{ name }}_out_of_range,
        {%- endfor %}

        -- lineage
        source_file,
        source_line
    from source
)

select
    *,
    {%- for name in measures.values() %}
        {{ 'or ' if not loop.first }}is_{{ name }}_out_of_range
    {%- endfor %} as has_out_of_range_reading
from renamed
