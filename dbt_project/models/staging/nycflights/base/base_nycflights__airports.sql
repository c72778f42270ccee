{%- set fields = declared_fields('airports') -%}
{%- set required = declared_required_fields('airports') -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'airports')) }}
),

{{ parse_and_check_fields('source', fields, required) }},

checked as (
    select
        {{ star_except(['field_rejection']) }},
        concat_ws(
            '; ',
            nullif(field_rejection, ''),
            case
                when not {{ matches_fully('faa', '[A-Z0-9]{3,4}') }}
                    then 'faa code ''' || faa || ''' is not 3-4 letters or digits'
            end,
            case when not lat between -90 and 90 or not lon between -180 and 180 then 'coordinates out of range' end,
            case
                when {{ is_unknown_time_zone('tzone') }}
                    then 'unknown time zone ''' || tzone || ''''
            end
        ) as field_rejection
    from checked_fields
),

{{ with_rejection_reason('checked', ['faa'], 'airport code') }}
