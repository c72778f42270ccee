{#- The metrics of each classification model on each segment of its scored rows
    (int_ml__scored_flights_flagged): 'overall' (all rows, the model's reference), one segment
    per carrier, route, scheduled local hour and weather regime (each kind partitions the rows),
    and one per data-quality flag (the rows carrying it). Means and sums of doubles run in a
    fixed order (flight_id) so that a rebuild gives the same values, bit for bit. -#}
{%- set segments = [
    ['carrier', 'carrier_code'],
    ['route', "origin_airport_code || '-' || dest_airport_code"],
    ['scheduled_hour', "lpad(cast(scheduled_hour_local as " ~ dbt.type_string() ~ "), 2, '0')"],
    ['weather_regime', 'weather_regime'],
] -%}
{%- set flags = ml_data_quality_flags() -%}
{%- set measures = ['flight_id', 'actual_label', 'score', 'log_loss', 'squared_error'] -%}
{%- set flag_columns = [] -%}
{%- for flag in flags -%}{%- do flag_columns.append('is_' ~ flag) -%}{%- endfor -%}

with

flagged as (
    select * from {{ ref('int_ml__scored_flights_flagged') }}
),

-- each row once per segment it belongs to
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

-- an integer per segment: ranking within an integer partition is faster than within
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
        {{ reproducible_avg('score') }} as mean_score,
        {{ reproducible_avg('log_loss') }} as log_loss,
        {{ reproducible_sum('log_loss') }} as total_log_loss,
        {{ reproducible_avg('squared_error') }} as brier_score,
        {{ roc_auc('actual_label', 'score_rank') }} as roc_auc,
        {%- for flag in flags %}
            avg(case when is_{{ flag }} then 1.0 else 0.0 end) as {{ flag }}_share,
        {%- endfor %}
        avg(case when {{ flag_columns | join(' or ') }} then 1.0 else 0.0 end) as any_flag_share
    from ranked
    group by segment_id
)

select
    segment_ids.model_id,
    segment_ids.segment_type,
    segment_ids.segment_value,
    by_segment_id.* exclude (segment_id) -- noqa: RF02
from by_segment_id
inner join segment_ids
    on by_segment_id.segment_id = segment_ids.segment_id
