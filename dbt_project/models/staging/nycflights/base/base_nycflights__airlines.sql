{%- set fields = {'carrier': 'text', 'name': 'text'} -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'airlines')) }}
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
            {{ field_rejections(fields, required=['carrier', 'name']) }}
            case
                when not regexp_full_match(carrier__value, '[A-Z0-9]{2}')
                    then 'carrier code ''' || carrier__value || ''' is not 2 letters or digits'
            end
        ) as field_rejection
    from parsed
),

{{ with_rejection_reason('checked', ['carrier'], 'carrier code') }}
