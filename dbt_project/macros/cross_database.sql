{#- The project's versions of dbt's cross-database macros, where dbt's own do not do what the
    models need. -#}

{#- dbt.safe_cast compiles to a plain cast on DuckDB and on Spark (ANSI mode), which raise on bad
    input; the warehouse needs a cast that yields NULL so that bad values are quarantined, not
    fatal. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- dbt-spark's dateadd and datediff raise on a NULL timestamp and return zoned timestamps; Spark's
    own timestampadd and timestampdiff take NULLs and keep a timestamp without zone as it is. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    timestampdiff({{ datepart }}, {{ first_date }}, {{ second_date }})
{%- endmacro %}

{#- Every column of the relation in scope but `columns`, for a select list (optionally of one
    relation: `prefix.`): DuckDB's `* exclude`, Spark's `* except`. -#}
{% macro star_except(columns, prefix='') -%}
    {{ return(adapter.dispatch('star_except')(columns, prefix)) }}
{%- endmacro %}

{% macro duckdb__star_except(columns, prefix) -%}
    {{ prefix }}* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns, prefix) -%}
    {{ prefix }}* except ({{ columns | join(', ') }})
{%- endmacro %}

{#- A timestamp without zone: DuckDB's `timestamp`; Spark's `timestamp` is an instant in the
    session's zone, its `timestamp_ntz` the wall-clock value the models mean. -#}
{% macro spark__type_timestamp() -%}
    timestamp_ntz
{%- endmacro %}

{#- Integer division rounding down: DuckDB's `//`, Spark's `div`. -#}
{% macro integer_divide(dividend, divisor) -%}
    {{ return(adapter.dispatch('integer_divide')(dividend, divisor)) }}
{%- endmacro %}

{% macro duckdb__integer_divide(dividend, divisor) -%}
    ({{ dividend }}) // ({{ divisor }})
{%- endmacro %}

{% macro spark__integer_divide(dividend, divisor) -%}
    ({{ dividend }}) div ({{ divisor }})
{%- endmacro %}
