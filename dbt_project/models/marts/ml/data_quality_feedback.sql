{#- Where each classification model loses accuracy, beside the data-quality flags of those rows.
    Every scored flight with a known outcome, outside the model's training window, falls in one segment of each kind (carrier, route,
    scheduled local hour, weather regime at the origin in the scheduled hour) and in one segment per
    data-quality flag it carries. A segment's cost is its excess log loss: the sum over its rows of
    (row log loss - the model's mean log loss). The weather here is what happened in the scheduled
    hour (the hourly grid), not what the model knew at its decision time: it says where the model
    fails, not what it should have seen. -#}
{%- set regimes = [
    ['low visibility (< 3 mi)', 'weather.visibility_mi < 3'],
    ['precipitation', 'weather.precipitation_in > 0'],
    ['strong wind (>= 25 mph)', 'weather.wind_speed_mph >= 25'],
    ['freezing (< 32 F)', 'weather.temperature_f < 32'],
] -%}
{#- Each flag: its name and when a row carries it. -#}
{%- set flags = {
    'weather_missing': 'weather.weather_hour_utc is null or not (weather.is_observed or weather.has_interpolated_value)',
    'weather_interpolated': 'coalesce(weather.has_interpolated_value, false)',
    'weather_out_of_range': 'coalesce(weather.has_out_of_range_reading, false)',
    'weather_quarantined': 'quarantined_weather.weather_hour_utc is not null',
    'weather_stale_at_decision': 'coalesce(features.weather_age_minutes >= ' ~ var('weather_stale_after_minutes') ~ ', true)',
    'plane_missing_from_registry': 'flights.is_plane_missing_from_registry',
    'tailnum_missing': 'flights.tail_number is null',
    'dest_missing_from_registry': 'coalesce(flights.is_dest_missing_from_registry, false)',
} -%}
{%- set segments = [
    ['carrier', 'carrier_code'],
    ['route', "origin_airport_code || '-' || dest_airport_code"],
    ['scheduled_hour', "lpad(cast(scheduled_hour_local as varchar), 2, '0')"],
    ['weather_regime', 'weather_regime'],
] -%}
{%- set measures = ['flight_id', 'actual_label', 'score', 'log_loss', 'squared_error'] -%}
{%- set flag_columns = [] -%}
{%- for flag in flags -%}{%- do flag_columns.append('is_' ~ flag) -%}{%- endfor -%}
{{ config(meta={'lake_order_by': 'model_id, cost_rank'}) }}

with

-- a model's training flights are left out: their scores are in-sample and would hide its failures
predictions as (
    select * from {{ ref('fct_flight_predictions') }}
    where
        task = 'classification'
        and is_outcome_known
        and evaluation_split is distinct from 'training'
),

registry as (
    select * from {{ source('ml', 'model_registry') }}
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

promoted as (
    select
        model_id,
        row_number() over (partition by task, horizon_minutes order by created_at desc) as recency
    from registry
    where is_promoted
),

-- the latest promoted model of each task and horizon
champions as (
    select model_id from promoted
    where recency = 1
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
),

flagged as (
    select
        predictions.model_id,
        predictions.model_name,
        predictions.model_version,
        predictions.horizon_minutes,
        predictions.carrier_code,
        predictions.origin_airport_code,
        predictions.dest_airport_code,
        extract(hour from predictions.scheduled_departure_local) as scheduled_hour_local,
        {%- for measure in measures %}
            predictions.{{ measure }},
        {%- endfor %}
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
),

-- each row once per segment it belongs to; 'overall' is the model's reference
segmented as (
    select
        model_id,
        'overall' as segment_type,
        'all' as segment_value,
        {{ (measures + flag_columns) | join(',\n        ') }}
    from flagged
    {%- for segment_type, value in segments %}
        union all
        select
            model_id,
            '{{ segment_type }}' as segment_type,
            {{ value }} as segment_value,
            {{ (measures + flag_columns) | join(',\n            ') }}
        from flagged
    {%- endfor %}
    {%- for flag in flags %}
        union all
        select
            model_id,
            'data_quality_flag' as segment_type,
            '{{ flag }}' as segment_value,
            {{ (measures + flag_columns) | join(',\n            ') }}
        from flagged
        where is_{{ flag }}
    {%- endfor %}
),

-- an integer per segment: ranking within an integer partition is about 3x faster than within
-- three text columns
segments as (
    select distinct
        model_id,
        segment_type,
        segment_value
    from segmented
),

segment_ids as (
    select
        *,
        row_number() over (order by model_id, segment_type, segment_value) as segment_id
    from segments
),

ranked as (
    select
        segment_ids.segment_id,
        {%- for column in measures + flag_columns %}
            segmented.{{ column }},
        {%- endfor %}
        {{ average_rank('segmented.score', ['segment_ids.segment_id']) }} as score_rank
    from segmented
    inner join segment_ids
        on
            segmented.model_id = segment_ids.model_id
            and segmented.segment_type = segment_ids.segment_type
            and segmented.segment_value = segment_ids.segment_value
),

by_segment_id as (
    select
        segment_id,
        count(*) as scored_rows,
        avg(case when actual_label then 1.0 else 0.0 end) as positive_rate,
        {{ fixed_order_avg('score', 'flight_id') }} as mean_score,
        {{ fixed_order_avg('log_loss', 'flight_id') }} as log_loss,
        {{ fixed_order_sum('log_loss', 'flight_id') }} as total_log_loss,
        {{ fixed_order_avg('squared_error', 'flight_id') }} as brier_score,
        {{ roc_auc('actual_label', 'score_rank') }} as roc_auc,
        {%- for flag in flags %}
            avg(case when is_{{ flag }} then 1.0 else 0.0 end) as {{ flag }}_share,
        {%- endfor %}
        avg(case when {{ flag_columns | join(' or ') }} then 1.0 else 0.0 end) as any_flag_share
    from ranked
    group by segment_id
),

by_segment as (
    select
        segment_ids.model_id,
        segment_ids.segment_type,
        segment_ids.segment_value,
        by_segment_id.*
    from by_segment_id
    inner join segment_ids
        on by_segment_id.segment_id = segment_ids.segment_id
),

models as (
    select distinct
        model_id,
        model_name,
        model_version,
        horizon_minutes
    from flagged
),

overall as (
    select * from by_segment
    where segment_type = 'overall'
),

costed as (
    select
        by_segment.*,
        overall.log_loss as overall_log_loss,
        overall.roc_auc as overall_roc_auc,
        by_segment.log_loss - overall.log_loss as log_loss_lift,
        by_segment.total_log_loss - by_segment.scored_rows * overall.log_loss as excess_log_loss
    from by_segment
    inner join overall
        on by_segment.model_id = overall.model_id
    where by_segment.segment_type <> 'overall'
)

select
    -- ids
    models.model_id,
    models.model_name,
    models.model_version,
    models.horizon_minutes,
    models.model_id in (select champions.model_id from champions) as is_champion,
    costed.segment_type,
    costed.segment_value,

    -- rank by cost
    row_number() over (
        partition by costed.model_id
        order by costed.excess_log_loss desc, costed.segment_type asc, costed.segment_value asc
    ) as cost_rank,
    row_number() over (
        partition by costed.model_id, costed.segment_type
        order by costed.excess_log_loss desc, costed.segment_value asc
    ) as cost_rank_in_segment_type,

    -- the segment against the model overall
    costed.scored_rows,
    costed.positive_rate,
    costed.mean_score,
    costed.log_loss,
    costed.overall_log_loss,
    costed.log_loss_lift,
    costed.excess_log_loss,
    costed.brier_score,
    costed.roc_auc,
    costed.overall_roc_auc,

    -- data quality of the segment's rows
    {%- for flag in flags %}
        costed.{{ flag }}_share,
    {%- endfor %}
    costed.any_flag_share
from costed
inner join models
    on costed.model_id = models.model_id
