{#- Population stability index of every feature a model uses, per day it scored, against the
    model's training window. The population of a day is every ml.flight_features row of that
    scheduled departure date at the model's horizon; the reference is every row at that horizon
    whose date falls in the model's training window (registry train_start_date .. train_end_date).
    Bins, counts and PSI are computed once per training window, for every feature, in
    models/intermediate/ml (int_ml__numeric_feature_bins, int_ml__categorical_feature_bins,
    int_ml__feature_bin_counts, int_ml__feature_psi_by_day); each model picks its features and
    scored days here. -#}
{{ config(meta={'lake_order_by': 'model_id, feature_name, scheduled_departure_date'}) }}

with

model_features as (
    select * from {{ ref('int_ml__model_features') }}
),

psi_by_day as (
    select * from {{ ref('int_ml__feature_psi_by_day') }}
),

predictions as (
    select * from {{ ref('fct_flight_predictions') }}
),

scored_days as (
    select distinct
        model_id,
        scheduled_departure_date
    from predictions
)

select
    -- ids
    model_features.model_id,
    model_features.model_name,
    model_features.model_version,
    model_features.task,
    model_features.horizon_minutes,
    model_features.feature_name,
    psi_by_day.feature_kind,
    psi_by_day.scheduled_departure_date,
    psi_by_day.scheduled_departure_date
    between model_features.train_start_date and model_features.train_end_date as is_training_day,

    -- populations
    psi_by_day.day_rows,
    1.0 * psi_by_day.missing_rows / psi_by_day.day_rows as missing_share,
    psi_by_day.training_rows,
    1.0 * psi_by_day.training_missing_rows / psi_by_day.training_rows as training_missing_share,
    psi_by_day.training_bins,

    -- drift
    psi_by_day.psi,
    psi_by_day.psi > {{ var('ml_psi_drift_threshold') }} as is_drifted
from model_features
inner join psi_by_day
    on
        model_features.window_id = psi_by_day.window_id
        and model_features.feature_name = psi_by_day.feature_name
inner join scored_days
    on
        model_features.model_id = scored_days.model_id
        and psi_by_day.scheduled_departure_date = scored_days.scheduled_departure_date
