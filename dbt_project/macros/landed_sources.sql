{#- On Spark, the raw CSV sources are tables over the Parquet that lakehouse.platform.spark lands
    (a folder per source, every field as text plus source_file and source_line), registered in
    the source's schema at the start of every run; DuckDB reads the raw files themselves
    (the sources' external_location). -#}
{% macro register_landed_sources() -%}
    {{ return(adapter.dispatch('register_landed_sources')()) }}
{%- endmacro %}

{% macro default__register_landed_sources() -%}
{%- endmacro %}

{% macro spark__register_landed_sources() -%}
    {%- set landed = env_var('LAKEHOUSE_SPARK_RAW_DIR', '../data/spark/raw') -%}
    {%- do run_query('create schema if not exists nycflights') -%}
    {%- for name, spec in var('raw_sources').items() if '.csv' in spec['files'] -%}
        {%- do run_query('drop table if exists nycflights.' ~ name) -%}
        {%- do run_query('create table nycflights.' ~ name ~ " using parquet location '" ~ landed ~ '/' ~ name ~ "'") -%}
    {%- endfor -%}
{%- endmacro %}
