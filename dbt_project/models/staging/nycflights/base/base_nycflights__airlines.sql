{%- set fields = {'carrier': 'text', 'name': 'text'} -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'airlines')) }}
),

checked as (
    select
        *,
        concat_ws(
            '; ',
            {{ field_rejections(fields, required=['carrier', 'name']) }}
            case
                when not regexp_full_match(trim(carrier), '[A-Z0-9]{2}')
                    then 'carrier code ''' || carrier || ''' is not 2 letters or digits'
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

{{ with_rejection_reason('parsed', ['carrier'], 'carrier code') }}
