{#- Every classification prediction with a known outcome, outside the model's training window,
    with what data_quality_feedback segments it by: the flight's carrier, route and scheduled
    local hour, the weather regime at the origin in the scheduled hour (the hourly grid: what
    happened, not what the model knew at its decision time), and a boolean per data-quality flag
    (macro ml_data_quality_flags). -#}
{%- set regimes = [
    ['low visibility (< 3 mi)', 'weather.visibility_mi < 3'],
    ['precipitation', 'weather.precipitation_in > 0'],
    ['strong wind (>= 25 mph)', 'weather.wind_speed_mph >= 25'],
    ['freezing (< 32 F)', 'weather.temperature_f < 32'],
] -%}
{%- set flags = ml_data_quality_flags() -%}

with

-- a model's training flights are left out: their scores are in-sample and would hide its failures
predictions as (
    select * from {{ ref('fct_flight_predictions') }}
    where
        task = 'classification'
        and is_outcome_known
        and evaluation_split is distinct from 'training'
),

flights as (
    select * from {{ ref('fct_flights') }}
),

weather as (
    select * from {{ ref('int_weather__hourly_grid') }}
),

features as (
    select * from {{ source('ml', 'flight_features') }}
),

rejected as (
    select * from {{ ref('rejected_rows') }}
    where source_name = 'weather'
),

-- weather hours whose raw line was quarantined (when the line is JSON that names them)
quarantined_weather as (
    select distinct
        case when json_valid(raw_record) then json_extract_string(raw_record, '$.origin') end as airport_code,
        case
            when json_valid(raw_record)
                then {{ parse_value("json_extract_string(raw_record, '$.time_hour')", 'utc_timestamp') }}
        end as weather_hour_utc
    from rejected
)

select
    predictions.model_id,
    predictions.model_name,
    predictions.model_version,
    predictions.horizon_minutes,
    predictions.carrier_code,
    predictions.origin_airport_code,
    predictions.dest_airport_code,
    extract(hour from predictions.scheduled_departure_local) as scheduled_hour_local,
    predictions.flight_id,
    predictions.actual_label,
    predictions.score,
    predictions.log_loss,
    predictions.squared_error,
    {%- for flag, condition in flags.items() %}
        {{ condition }} as is_{{ flag }},
    {%- endfor %}
    case
        when {{ flags['weather_missing'] }} then 'no weather reading'
        {%- for label, condition in regimes %}
            when {{ condition }} then '{{ label }}'
        {%- endfor %}
        else 'clear'
    end as weather_regime
from predictions
inner join flights
    on predictions.flight_id = flights.flight_id
left join weather
    on
        flights.origin_airport_code = weather.airport_code
        and flights.scheduled_departure_hour_utc = weather.weather_hour_utc
left join features
    on
        predictions.flight_id = features.flight_id
        and predictions.horizon_minutes = features.horizon_minutes
left join quarantined_weather
    on
        flights.origin_airport_code = quarantined_weather.airport_code
        and flights.scheduled_departure_hour_utc = quarantined_weather.weather_hour_utc
