{#- dbt.safe_cast compiles to a plain cast on DuckDB, which raises on bad input; the warehouse
    needs a cast that yields NULL so that bad values are quarantined, not fatal. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
