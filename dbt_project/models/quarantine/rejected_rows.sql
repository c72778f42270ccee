{#- Every raw row that broke a hard rule, from every source, with the rule(s) it broke and where
    it came from. Nothing is dropped silently: for each file, staged rows + these rows = the
    file's rows (tests/data/test_raw_reconciliation.py). Flights and weather are checked against
    the airports' time zones in staging; the other sources are checked whole in their base model. -#}
{%- set checked_models = {
    'flights': 'stg_nycflights__flights_checked',
    'weather': 'stg_nycflights__weather_checked',
    'planes': 'base_nycflights__planes',
    'airports': 'base_nycflights__airports',
    'airlines': 'base_nycflights__airlines',
} -%}

{%- for source_name, model_name in checked_models.items() %}
    select
        '{{ source_name }}' as source_name,
        source_file,
        source_line,
        rejection_reason,
        raw_record
    from {{ ref(model_name) }}
    where rejection_reason is not null
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
