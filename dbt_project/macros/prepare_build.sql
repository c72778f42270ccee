{#- What a build needs before its models, run at the start of every run (on-run-start).

    On Spark, the raw sources are tables over the Parquet that lakehouse.platform.spark lands (a
    folder per source: a CSV source's fields as text, a text source's lines as line_text, each
    with source_file and source_line), registered in the source's schema. DuckDB reads the raw
    files themselves (the sources' external_location); its marts' post-hooks write into the lake
    folder (export_to_lake), which a plain `dbt build` on a fresh clone has not got yet: DuckDB
    has no mkdir, but a COPY partitioned by a column of no rows creates the folder (one level) and
    writes nothing, and leaves a folder that exists as it is. -#}
{% macro prepare_build() -%}
    {{ return(adapter.dispatch('prepare_build')()) }}
{%- endmacro %}

{% macro default__prepare_build() -%}
    {%- set lake_dir = env_var('LAKEHOUSE_LAKE_DIR', '../data/lake') -%}
    copy (select 1 as folder, 1 as nothing where false)
    to {{ sql_text(lake_dir) }} (format parquet, partition_by (folder), overwrite_or_ignore true)
{%- endmacro %}

{% macro spark__prepare_build() -%}
    {%- set landed = env_var('LAKEHOUSE_SPARK_RAW_DIR', '../data/spark/raw') -%}
    {%- do run_query('create schema if not exists nycflights') -%}
    {%- for name in var('raw_sources') -%}
        {%- do run_query('drop table if exists nycflights.' ~ name) -%}
        {%- do run_query('create table nycflights.' ~ name ~ ' using parquet location ' ~ sql_text(landed ~ '/' ~ name)) -%}
    {%- endfor -%}
{%- endmacro %}
