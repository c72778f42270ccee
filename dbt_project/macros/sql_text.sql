{#- A value (a path, say) as a string literal of the target's SQL: a quote in it, as in a folder
    named o'hare, stays part of the text instead of ending it. DuckDB doubles the quote; Spark
    escapes it, and its backslashes, with a backslash. -#}
{% macro sql_text(value) -%}
    {{ return(adapter.dispatch('sql_text')(value)) }}
{%- endmacro %}

{% macro default__sql_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__sql_text(value) -%}
    '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
