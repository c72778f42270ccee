{%- set fields = declared_fields('weather') -%}
{%- set required = declared_required_fields('weather') -%}

with

source as (
    select * from {{ source('nycflights', 'weather') }}
),

lines as (
    select
        {{ relative_source_file('filename') }} as source_file,
        unnest(generate_series(1, len(string_split(content, chr(10))))) as source_line,
        unnest(string_split(content, chr(10))) as line_text
    from source
),

records as (
    select
        source_file,
        source_line,
        line_text,
        -- json_type raises on text that is not JSON, so it is only asked of valid JSON.
        coalesce(case when json_valid(line_text) then json_type(line_text) = 'OBJECT' end, false) as is_json_object
    from lines
    -- The newline that ends the last line leaves an empty string behind: not a record.
    where trim(line_text) <> ''
),

unpacked as (
    select
        source_file,
        source_line,
        {%- for column in fields %}
            case when is_json_object then json_extract_string(line_text, '$.{{ column }}') end as {{ column }},
        {%- endfor %}
        line_text,
        is_json_object
    from records
),

-- The raw record is the line exactly as it arrived, readable even when it is not JSON.
{{ parse_and_check_fields(
    'unpacked', fields, required,
    raw_fields_expression='line_text', keep_columns=['is_json_object'],
) }},

airports as (
    select * from {{ ref('stg_nycflights__airports') }}
),

checked_rows as (
    select
        reading.* exclude (field_rejection, is_json_object), -- noqa: RF02
        concat_ws(
            '; ',
            -- A line that is not JSON has no fields to complain about.
            case
                when not reading.is_json_object then 'line is not a JSON object'
                else nullif(reading.field_rejection, '')
            end,
            case
                when reading.origin is not null and airports.time_zone is null
                    then 'no time zone known for origin ' || reading.origin
            end,
            case
                when {{ dbt.date_trunc('hour', 'reading.time_hour') }} <> reading.time_hour
                    then 'time_hour ' || reading.time_hour || ' is not on the hour'
            end,
            case
                when {{ utc_to_local('reading.time_hour', 'airports.time_zone') }} <> {{ dbt.dateadd(
                        'hour', 'reading.hour',
                        dbt.safe_cast("reading.year || '-' || reading.month || '-' || reading.day", 'timestamp')
                    ) }}
                    or reading.hour not between 0 and 23
                    then 'local date and hour ' || reading.year || '-' || reading.month || '-' || reading.day
                        || ' ' || reading.hour || 'h disagree with time_hour ' || reading.time_hour
            end
        ) as field_rejection
    from checked_fields as reading
    left join airports
        on reading.origin = airports.airport_code
),

{{ with_rejection_reason(
    'checked_rows', ['origin', 'time_hour'], 'observation hour', raw_is_text=true
) }}
