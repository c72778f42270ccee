{#- Each model's quality per scheduled departure date, over the predictions whose outcome is known.
    Classification: ROC AUC (Mann-Whitney, ties counted one half), precision, recall and F1 at the
    model's stored threshold, Brier score, log loss, mean score against the positive rate.
    Regression: MAE, RMSE and the mean error (bias). -#}
{{ config(meta={'lake_order_by': 'model_id, scheduled_departure_date'}) }}

with

predictions as (
    select * from {{ ref('fct_flight_predictions') }}
),

registry as (
    select * from {{ source('ml', 'model_registry') }}
),

ranked as (
    select
        model_id,
        scheduled_departure_date,
        actual_label,
        {{ average_rank('score', ['model_id', 'scheduled_departure_date']) }} as score_rank
    from predictions
    where task = 'classification' and is_outcome_known
),

daily_auc as (
    select
        model_id,
        scheduled_departure_date,
        {{ roc_auc('actual_label', 'score_rank') }} as roc_auc
    from ranked
    group by model_id, scheduled_departure_date
),

daily as (
    select
        model_id,
        scheduled_departure_date,
        min(task) as task,
        min(model_name) as model_name,
        min(model_version) as model_version,
        min(horizon_minutes) as horizon_minutes,
        count(*) as scored_rows,
        count(actual_value) as rows_with_outcome,
        cast(sum(case when actual_label then 1 else 0 end) as bigint) as positives,
        sum(case when actual_label and predicted_label then 1 else 0 end) as true_positives,
        sum(case when not actual_label and predicted_label then 1 else 0 end) as false_positives,
        sum(case when actual_label and not predicted_label then 1 else 0 end) as false_negatives,
        {{ reproducible_avg('case when is_outcome_known then score end') }} as mean_score,
        avg(actual_value) as mean_actual,
        {{ reproducible_avg("case when task = 'classification' then squared_error end") }}
            as brier_score,
        {{ reproducible_avg('log_loss') }} as log_loss,
        {{ reproducible_avg("case when task = 'regression' then absolute_error end") }} as mae,
        sqrt({{ reproducible_avg("case when task = 'regression' then squared_error end") }})
            as rmse,
        {{ reproducible_avg("case when task = 'regression' then error end") }} as mean_error
    from predictions
    group by model_id, scheduled_departure_date
)

select
    -- ids
    daily.model_id,
    daily.model_name,
    daily.model_version,
    daily.task,
    daily.horizon_minutes,
    daily.scheduled_departure_date,
    coalesce(
        daily.scheduled_departure_date between registry.train_start_date and registry.train_end_date,
        false
    ) as is_training_day,

    -- counts
    daily.scored_rows,
    daily.rows_with_outcome,
    case when daily.task = 'classification' then daily.positives end as positives,

    -- classification
    case when daily.task = 'classification' then daily.mean_actual end as positive_rate,
    case when daily.task = 'classification' then daily.mean_score end as mean_score,
    daily_auc.roc_auc,
    case
        when daily.task = 'classification'
            then 1.0 * daily.true_positives / nullif(daily.true_positives + daily.false_positives, 0)
    end as precision_at_threshold,
    case
        when daily.task = 'classification'
            then 1.0 * daily.true_positives / nullif(daily.true_positives + daily.false_negatives, 0)
    end as recall_at_threshold,
    case
        when daily.task = 'classification'
            then 2.0 * daily.true_positives
                / nullif(2 * daily.true_positives + daily.false_positives + daily.false_negatives, 0)
    end as f1_at_threshold,
    daily.brier_score,
    daily.log_loss,

    -- regression
    case when daily.task = 'regression' then daily.mean_score end as mean_predicted_minutes,
    case when daily.task = 'regression' then daily.mean_actual end as mean_actual_minutes,
    daily.mae,
    daily.rmse,
    daily.mean_error
from daily
left join daily_auc
    on
        daily.model_id = daily_auc.model_id
        and daily.scheduled_departure_date = daily_auc.scheduled_departure_date
left join registry
    on daily.model_id = registry.model_id
