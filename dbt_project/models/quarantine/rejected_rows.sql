{#- Every raw row that broke a hard rule, from every source, with the rule(s) it broke and where
    it came from. Nothing is dropped silently: for each file, staged rows + these rows = the
    file's rows (tests/data/test_raw_reconciliation.py). -#}
{%- set sources = ['flights', 'weather', 'planes', 'airports', 'airlines'] -%}

{%- for source_name in sources %}
    select
        '{{ source_name }}' as source_name,
        source_file,
        source_line,
        rejection_reason,
        raw_record
    from {{ ref('base_nycflights__' ~ source_name) }}
    where rejection_reason is not null
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
