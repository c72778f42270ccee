{#- On Spark, the raw sources are tables over the Parquet that lakehouse.platform.spark lands (a
    folder per source: a CSV source's fields as text, a text source's lines as line_text, each
    with source_file and source_line), registered in the source's schema at the start of every
    run; DuckDB reads the raw files themselves (the sources' external_location). -#}
{% macro register_landed_sources() -%}
    {{ return(adapter.dispatch('register_landed_sources')()) }}
{%- endmacro %}

{% macro default__register_landed_sources() -%}
{%- endmacro %}

{% macro spark__register_landed_sources() -%}
    {%- set landed = env_var('LAKEHOUSE_SPARK_RAW_DIR', '../data/spark/raw') -%}
    {%- do run_query('create schema if not exists nycflights') -%}
    {%- for name in var('raw_sources') -%}
        {%- do run_query('drop table if exists nycflights.' ~ name) -%}
        {%- do run_query('create table nycflights.' ~ name ~ " using parquet location '" ~ landed ~ '/' ~ name ~ "'") -%}
    {%- endfor -%}
{%- endmacro %}
