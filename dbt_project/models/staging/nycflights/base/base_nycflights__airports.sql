{%- set fields = {
    'faa': 'text', 'name': 'text', 'lat': 'double', 'lon': 'double', 'alt': 'integer',
    'tz': 'double', 'dst': 'text', 'tzone': 'text',
} -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'airports')) }}
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
            {{ field_rejections(fields, required=['faa', 'name']) }}
            case
                when not regexp_full_match(faa__value, '[A-Z0-9]{3,4}')
                    then 'faa code ''' || faa__value || ''' is not 3-4 letters or digits'
            end,
            case
                when not lat__value between -90 and 90 or not lon__value between -180 and 180
                    then 'coordinates out of range'
            end,
            case
                when tzone__value not in (select zones.name from pg_timezone_names() as zones)
                    then 'unknown time zone ''' || tzone__value || ''''
            end
        ) as field_rejection
    from parsed
),

{{ with_rejection_reason('checked', ['faa'], 'airport code') }}
