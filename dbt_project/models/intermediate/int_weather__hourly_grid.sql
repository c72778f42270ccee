{#- The hourly weather grid (int_weather__hourly_filled) with each hour on the airport's local
    clock and every measure standardized per airport over the whole period. The z-scores are
    descriptive: since they see the whole year they are not for point-in-time features. -#}
{%- set measures = [
    'temperature_f', 'dew_point_f', 'relative_humidity_pct', 'wind_direction_deg',
    'wind_speed_mph', 'precipitation_in', 'pressure_mb', 'visibility_mi', 'wind_gust_mph',
] -%}

with

filled as (
    select * from {{ ref('int_weather__hourly_filled') }}
),

airports as (
    select * from {{ ref('stg_nycflights__airports') }}
),

-- The sums run in a fixed order: a parallel sum of doubles differs in its last bits from one
-- build to the next, and a rebuild of unchanged data must give the same table, bit for bit.
airport_statistics as (
    select
        {%- for measure in measures %}
            {{ ordered_aggregate('avg', measure, 'weather_hour_utc') }} as {{ measure }}_mean,
            {{ ordered_aggregate('stddev_samp', measure, 'weather_hour_utc') }} as {{ measure }}_std,
        {%- endfor %}
        airport_code
    from filled
    group by airport_code
),

standardized as (
    select
        {%- for measure in measures %}
            (filled.{{ measure }} - airport_statistics.{{ measure }}_mean)
            / nullif(airport_statistics.{{ measure }}_std, 0) as {{ measure }}_zscore,
        {%- endfor %}
        {{ utc_to_local('filled.weather_hour_utc', 'airports.time_zone') }} as weather_hour_local,
        filled.*
    from filled
    inner join airports
        on filled.airport_code = airports.airport_code
    inner join airport_statistics
        on filled.airport_code = airport_statistics.airport_code
)

select * from standardized
