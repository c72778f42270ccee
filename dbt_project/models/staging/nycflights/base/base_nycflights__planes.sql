{%- set fields = declared_fields('planes') -%}
{%- set required = declared_required_fields('planes') -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'planes')) }}
),

{{ parse_and_check_fields('source', fields, required) }},

checked as (
    select
        {{ star_except(['field_rejection']) }},
        concat_ws(
            '; ',
            nullif(field_rejection, ''),
            case when year not between 1900 and 2100 then 'impossible year of manufacture ' || year end,
            case when seats < 0 or engines < 0 then 'negative seats or engines' end
        ) as field_rejection
    from checked_fields
),

{{ with_rejection_reason('checked', ['tailnum'], 'tail number') }}
