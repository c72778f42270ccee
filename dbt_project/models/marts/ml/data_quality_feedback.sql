{#- Where each classification model loses accuracy, beside the data-quality flags of those rows.
    Every scored flight with a known outcome, outside the model's training window, falls in one
    segment of each kind (carrier, route, scheduled local hour, weather regime at the origin in the
    scheduled hour) and in one segment per data-quality flag it carries
    (int_ml__scored_flights_flagged); int_ml__segment_metrics measures each segment. A segment's
    cost is its excess log loss: the sum over its rows of (row log loss - the model's mean log
    loss). The weather here is what happened in the scheduled hour, not what the model knew at
    its decision time: it says where the model fails, not what it should have seen. -#}
{%- set flags = ml_data_quality_flags() -%}
{{ config(meta={'lake_order_by': 'model_id, cost_rank'}) }}

with

by_segment as (
    select * from {{ ref('int_ml__segment_metrics') }}
),

flagged as (
    select * from {{ ref('int_ml__scored_flights_flagged') }}
),

champions as (
    select model_id from {{ source('ml', 'model_registry') }}
    where is_champion
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
