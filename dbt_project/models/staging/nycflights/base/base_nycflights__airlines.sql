{%- set fields = declared_fields('airlines') -%}
{%- set required = declared_required_fields('airlines') -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'airlines')) }}
),

{{ parse_and_check_fields('source', fields, required) }},

checked as (
    select
        {{ star_except(['field_rejection']) }},
        concat_ws(
            '; ',
            nullif(field_rejection, ''),
            case
                when not {{ matches_fully('carrier', '[A-Z0-9]{2}') }}
                    then 'carrier code ''' || carrier || ''' is not 2 letters or digits'
            end
        ) as field_rejection
    from checked_fields
),

{{ with_rejection_reason('checked', ['carrier'], 'carrier code') }}
