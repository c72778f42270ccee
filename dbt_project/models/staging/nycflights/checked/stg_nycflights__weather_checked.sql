{#- Every weather line with every hard rule it broke: the field rules of the base model, then the
    rules that need the airport's time zone, then repeated observation hours. -#}

with

readings as (
    select * from {{ ref('base_nycflights__weather') }}
),

airports as (
    select * from {{ ref('stg_nycflights__airports') }}
),

checked_rows as (
    select
        {{ star_except(['field_rejection', 'is_json_object'], 'readings.') }}, -- noqa: RF02
        concat_ws(
            '; ',
            -- A line that is not JSON has no fields to complain about.
            case
                when not readings.is_json_object then 'line is not a JSON object'
                else nullif(readings.field_rejection, '')
            end,
            case
                when readings.origin is not null and airports.time_zone is null
                    then 'no time zone known for origin ' || readings.origin
            end,
            case
                when {{ dbt.date_trunc('hour', 'readings.time_hour') }} <> readings.time_hour
                    then 'time_hour ' || readings.time_hour || ' is not on the hour'
            end,
            case
                when {{ utc_to_local('readings.time_hour', 'airports.time_zone') }} <> {{ dbt.dateadd(
                        'hour', 'readings.hour',
                        dbt.safe_cast("readings.year || '-' || readings.month || '-' || readings.day", dbt.type_timestamp())
                    ) }}
                    or readings.hour not between 0 and 23
                    then 'local date and hour ' || readings.year || '-' || readings.month || '-' || readings.day
                        || ' ' || readings.hour || 'h disagree with time_hour ' || readings.time_hour
            end
        ) as field_rejection
    from readings
    left join airports
        on readings.origin = airports.airport_code
),

{{ with_rejection_reason(
    'checked_rows', ['origin', 'time_hour'], 'observation hour', raw_is_text=true
) }}
