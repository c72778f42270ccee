{%- set fields = {
    'tailnum': 'text', 'year': 'integer', 'type': 'text', 'manufacturer': 'text',
    'model': 'text', 'engines': 'integer', 'seats': 'integer', 'speed': 'integer',
    'engine': 'text',
} -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'planes')) }}
),

checked as (
    select
        *,
        concat_ws(
            '; ',
            {{ field_rejections(fields, required=['tailnum']) }}
            case
                when {{ parse_value(na_to_null('year'), 'integer') }} not between 1900 and 2100
                    then 'impossible year of manufacture ' || year
            end,
            case
                when {{ parse_value(na_to_null('seats'), 'integer') }} < 0
                    or {{ parse_value(na_to_null('engines'), 'integer') }} < 0
                    then 'negative seats or engines'
            end
        ) as field_rejection
    from source
),

parsed as (
    select
        source_file,
        source_line,
        {{ raw_record(fields.keys()) }} as raw_record,
        {{ parsed_fields(fields) }}
        field_rejection
    from checked
),

{{ with_rejection_reason('parsed', ['tailnum'], 'tail number') }}
