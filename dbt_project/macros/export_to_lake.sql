{#- Post-hook on every mart: write it as Parquet under data/lake/ so that other engines (Spark,
    polars, pandas) read the published tables without DuckDB. Rows are ordered by the model's
    `meta.lake_order_by` config so the files are identical on every rebuild. -#}
{% macro export_to_lake() -%}
    {{ return(adapter.dispatch('export_to_lake')()) }}
{%- endmacro %}

{#- On Spark a table is Parquet in Spark's warehouse already, which is the lake of a Spark build. -#}
{% macro spark__export_to_lake() -%}
{%- endmacro %}

{% macro default__export_to_lake() -%}
    {%- set lake_dir = env_var('LAKEHOUSE_LAKE_DIR', '../data/lake') -%}
    {%- set order_by = config.meta_get('lake_order_by') -%}
    copy (
        select * from {{ this }}
        {%- if order_by %} order by {{ order_by }}{% endif %}
    ) to {{ sql_text(lake_dir ~ '/' ~ this.identifier ~ '.parquet') }} (format parquet, compression zstd)
{%- endmacro %}
