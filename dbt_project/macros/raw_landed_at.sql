{% macro raw_landed_at(source_name) -%}
    {#- When the newest file of a raw source landed: the landing zone's record (file times),
        for `dbt source freshness`. -#}
    select max(last_modified)
    from read_blob({{ sql_text(raw_dir() ~ '/' ~ var("raw_sources")[source_name]["files"]) }})
{%- endmacro %}
