{#- A model's custom schema is used as written (`quarantine`, `reference`), not prefixed with the
    target schema: analysts query `quarantine.flights`, not `main_quarantine.flights`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
