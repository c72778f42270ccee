{%- set fields = declared_fields('weather') -%}
{%- set required = declared_required_fields('weather') -%}

with

source as (
    select * from {{ source('nycflights', 'weather') }}
),

lines as (
    {{ text_file_lines('source') }}
),

records as (
    select
        source_file,
        source_line,
        line_text,
        {{ is_json_object('line_text') }} as is_json_object
    from lines
    -- The newline that ends the last line leaves an empty string behind: not a record.
    where trim(line_text) <> ''
),

unpacked as (
    select
        source_file,
        source_line,
        {%- for column in fields %}
            case when is_json_object then {{ json_field_text('line_text', column) }} end as {{ column }},
        {%- endfor %}
        line_text,
        is_json_object
    from records
),

-- The raw record is the line exactly as it arrived, readable even when it is not JSON.
{{ parse_and_check_fields(
    'unpacked', fields, required,
    raw_fields_expression='line_text', keep_columns=['is_json_object'],
) }}

select * from checked_fields
