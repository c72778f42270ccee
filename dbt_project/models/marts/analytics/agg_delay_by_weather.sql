{#- Departure performance by the weather observed at the origin in the scheduled departure hour,
    one row per measure and band. Flights with no observation for that hour form their own band
    rather than vanishing. -#}
{%- set bandings = {
    'precipitation_in': [
        ['none', 'precipitation_in = 0'],
        ['light (< 0.1 in/h)', 'precipitation_in < 0.1'],
        ['heavy (>= 0.1 in/h)', 'precipitation_in >= 0.1'],
    ],
    'visibility_mi': [
        ['< 1 mi', 'visibility_mi < 1'],
        ['1-3 mi', 'visibility_mi < 3'],
        ['3-10 mi', 'visibility_mi < 10'],
        ['10 mi (clear)', 'visibility_mi >= 10'],
    ],
    'wind_speed_mph': [
        ['calm (< 5 mph)', 'wind_speed_mph < 5'],
        ['5-15 mph', 'wind_speed_mph < 15'],
        ['15-25 mph', 'wind_speed_mph < 25'],
        ['>= 25 mph', 'wind_speed_mph >= 25'],
    ],
    'temperature_f': [
        ['below freezing (< 32 F)', 'temperature_f < 32'],
        ['32-60 F', 'temperature_f < 60'],
        ['60-85 F', 'temperature_f < 85'],
        ['hot (>= 85 F)', 'temperature_f >= 85'],
    ],
} -%}
{{ config(meta={'lake_order_by': 'weather_measure, band_order'}) }}

with

flights as (
    select * from {{ ref('int_flights__enriched') }}
),

banded as (
    {%- for measure, bands in bandings.items() %}
        select
            '{{ measure }}' as weather_measure,
            case
                {%- for label, condition in bands %}
                    when {{ condition }} then {{ loop.index }}
                {%- endfor %}
                else 0
            end as band_order,
            case
                {%- for label, condition in bands %}
                    when {{ condition }} then '{{ label }}'
                {%- endfor %}
                else 'no observation'
            end as band_label,
            is_cancelled,
            is_departure_delayed,
            is_on_time_arrival,
            dep_delay_minutes,
            arr_delay_minutes
        from flights
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    banded.weather_measure,
    banded.band_order,
    banded.band_label,
    {{ flight_performance_measures('banded') }}
from banded
group by banded.weather_measure, banded.band_order, banded.band_label
