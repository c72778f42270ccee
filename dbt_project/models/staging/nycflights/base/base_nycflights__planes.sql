{%- set fields = {
    'tailnum': 'text', 'year': 'integer', 'type': 'text', 'manufacturer': 'text',
    'model': 'text', 'engines': 'integer', 'seats': 'integer', 'speed': 'integer',
    'engine': 'text',
} -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'planes')) }}
),

parsed as (
    select
        {{ parsed_fields(fields) }}
        *
    from source
),

checked as (
    select
        source_file,
        source_line,
        {{ raw_record(fields.keys()) }} as raw_record,
        {{ typed_fields(fields) }}
        concat_ws(
            '; ',
            {{ field_rejections(fields, required=['tailnum']) }}
            case
                when year__value not between 1900 and 2100
                    then 'impossible year of manufacture ' || year__value
            end,
            case
                when seats__value < 0 or engines__value < 0
                    then 'negative seats or engines'
            end
        ) as field_rejection
    from parsed
),

{{ with_rejection_reason('checked', ['tailnum'], 'tail number') }}
