{#- Every hour at every origin from the first to the last observation, with short gaps filled.
    Gap rule: a measure missing for at most var('weather_max_interpolated_gap_hours') consecutive
    hours is interpolated linearly between the observations on either side (wind direction
    along the shorter arc of the compass); longer gaps stay NULL. Wind gust is never filled: the
    source reports a gust only when there is one. Each filled value is flagged. -#}
{%- set interpolated = [
    'temperature_f', 'dew_point_f', 'relative_humidity_pct', 'wind_direction_deg',
    'wind_speed_mph', 'precipitation_in', 'pressure_mb', 'visibility_mi',
] -%}
{%- set measures = interpolated + ['wind_gust_mph'] -%}
{%- set max_gap = var('weather_max_interpolated_gap_hours') -%}

with

observations as (
    select * from {{ ref('stg_nycflights__weather') }}
),

span as (
    select
        min(observed_hour_utc) as first_hour_utc,
        max(observed_hour_utc) as last_hour_utc
    from observations
),

hours as (
    select {{ timestamp_series('span.first_hour_utc', 'span.last_hour_utc', "'1 hour'") }} as weather_hour_utc
    from span
),

stations as (
    select distinct airport_code from observations
),

grid as (
    select
        stations.airport_code,
        hours.weather_hour_utc
    from stations
    cross join hours
),

joined as (
    select
        grid.airport_code,
        grid.weather_hour_utc,
        {%- for measure in measures %}
            observations.{{ measure }},
            coalesce(observations.is_{{ measure }}_out_of_range, false) as is_{{ measure }}_out_of_range,
        {%- endfor %}
        observations.observed_hour_utc is not null as is_observed,
        coalesce(observations.has_out_of_range_reading, false) as has_out_of_range_reading
    from grid
    left join observations
        on
            grid.airport_code = observations.airport_code
            and grid.weather_hour_utc = observations.observed_hour_utc
),

neighbours as (
    select
        {%- for measure in interpolated %}
            {{ ignoring_nulls('last_value', 'case when ' ~ measure ~ ' is not null then weather_hour_utc end') }}
                over before_hour as {{ measure }}_before_at,
            {{ ignoring_nulls('last_value', measure) }} over before_hour as {{ measure }}_before,
            {{ ignoring_nulls('last_value', 'case when ' ~ measure ~ ' is not null then weather_hour_utc end') }}
                over after_hour as {{ measure }}_after_at,
            {{ ignoring_nulls('last_value', measure) }} over after_hour as {{ measure }}_after,
        {%- endfor %}
        *
    from joined
    window
        before_hour as (
            partition by airport_code order by weather_hour_utc
            rows between unbounded preceding and 1 preceding
        ),
        -- the first reading after the hour, as the last one before it in reverse order: a frame
        -- running from the partition's start, which engines keep as they go (Spark computes a frame
        -- reaching to the partition's end afresh for every row)
        after_hour as (
            partition by airport_code order by weather_hour_utc desc
            rows between unbounded preceding and 1 preceding
        )
),

filled as (
    select
        {%- for measure in interpolated %}
            {%- set before = measure ~ '_before' %}
            {%- set after = measure ~ '_after' %}
            {%- set gap_hours = dbt.datediff(before ~ '_at', after ~ '_at', 'hour') ~ ' - 1' %}
            {%- set fraction = dbt.datediff(before ~ '_at', 'weather_hour_utc', 'hour') ~ ' / ('
                ~ dbt.datediff(before ~ '_at', after ~ '_at', 'hour') ~ ')' %}
            -- false, not NULL, at the edges of the data (no reading before or after to fill from)
            coalesce({{ measure }} is null and {{ gap_hours }} <= {{ max_gap }}, false)
                as is_{{ measure }}_interpolated,
            case
                when {{ measure }} is not null then {{ measure }}
                {%- if measure == 'wind_direction_deg' %}
                    -- along the shorter arc: 350 -> 10 passes through 0, not 180
                    when {{ gap_hours }} <= {{ max_gap }}
                        then (
                            {{ before }} + ((({{ after }} - {{ before }} + 540) % 360) - 180) * {{ fraction }} + 360
                        ) % 360
                {%- else %}
                    when {{ gap_hours }} <= {{ max_gap }}
                        then {{ before }} + ({{ after }} - {{ before }}) * {{ fraction }}
                {%- endif %}
            end as {{ measure }},
            is_{{ measure }}_out_of_range,
        {%- endfor %}
        airport_code,
        weather_hour_utc,
        is_observed,
        has_out_of_range_reading,
        wind_gust_mph,
        is_wind_gust_mph_out_of_range
    from neighbours
)

select
    *,
    (
        {%- for measure in interpolated %}
            {{ 'or ' if not loop.first }}is_{{ measure }}_interpolated
        {%- endfor %}
    ) as has_interpolated_value
from filled
