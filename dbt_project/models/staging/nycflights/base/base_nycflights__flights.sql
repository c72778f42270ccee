{%- set fields = declared_fields('flights') -%}
{%- set required = declared_required_fields('flights') -%}

with

source as (
    {{ csv_rows_with_lines(source('nycflights', 'flights')) }}
),

{{ parse_and_check_fields('source', fields, required) }}

select
    *,
    {{ dbt.safe_cast("year || '-' || month || '-' || day", 'date') }} as flight_date
from checked_fields
