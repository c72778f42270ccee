{%- set fields = declared_fields('weather') -%}
{%- set required = declared_required_fields('weather') -%}

with

source as (
    select * from {{ source('nycflights', 'weather') }}
),

lines as (
    select
        {{ relative_source_file('filename') }} as source_file,
        unnest(generate_series(1, len(string_split(content, chr(10))))) as source_line,
        unnest(string_split(content, chr(10))) as line_text
    from source
),

records as (
    select
        source_file,
        source_line,
        line_text,
        -- json_type raises on text that is not JSON, so it is only asked of valid JSON.
        coalesce(case when json_valid(line_text) then json_type(line_text) = 'OBJECT' end, false) as is_json_object
    from lines
    -- The newline that ends the last line leaves an empty string behind: not a record.
    where trim(line_text) <> ''
),

unpacked as (
    select
        source_file,
        source_line,
        {%- for column in fields %}
            case when is_json_object then json_extract_string(line_text, '$.{{ column }}') end as {{ column }},
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
