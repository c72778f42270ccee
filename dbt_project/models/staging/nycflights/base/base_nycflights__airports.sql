{%- set fields = {
    'faa': 'text', 'name': 'text', 'lat': 'double', 'lon': 'double', 'alt': 'integer',
    'tz': 'double', 'dst': 'text', 'tzone': 'text',
} -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'airports')) }}
),

checked as (
    select
        *,
        concat_ws(
            '; ',
            {{ field_rejections(fields, required=['faa', 'name']) }}
            case
                when not regexp_full_match(trim(faa), '[A-Z0-9]{3,4}')
                    then 'faa code ''' || faa || ''' is not 3-4 letters or digits'
            end,
            case
                when not {{ parse_value(na_to_null('lat'), 'double') }} between -90 and 90
                    or not {{ parse_value(na_to_null('lon'), 'double') }} between -180 and 180
                    then 'coordinates out of range'
            end,
            case
                when {{ na_to_null('tzone') }} not in (select zones.name from pg_timezone_names() as zones)
                    then 'unknown time zone ''' || tzone || ''''
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

{{ with_rejection_reason('parsed', ['faa'], 'airport code') }}
