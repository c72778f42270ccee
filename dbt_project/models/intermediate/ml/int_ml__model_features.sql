{#- Each feature of each scored model that has a training window, with that window. Models that
    share a horizon and a training window share a window_id: bins and counts are computed once per
    window, for every feature. -#}

with

registry as (
    select * from {{ source('ml', 'model_registry') }}
),

predictions as (
    select * from {{ ref('fct_flight_predictions') }}
),

scored_models as (
    select distinct model_id from predictions
),

models as (
    select
        model_id,
        model_name,
        run_id as model_version,
        task,
        cast(horizon_minutes as integer) as horizon_minutes,
        train_start_date,
        train_end_date,
        features as feature_list
    from registry
    where
        train_start_date is not null
        and train_end_date is not null
        and model_id in (select scored_models.model_id from scored_models)
),

windowed_models as (
    select
        *,
        dense_rank() over (order by horizon_minutes, train_start_date, train_end_date) as window_id
    from models
)

select distinct
    windowed_models.model_id,
    windowed_models.model_name,
    windowed_models.model_version,
    windowed_models.task,
    windowed_models.horizon_minutes,
    windowed_models.train_start_date,
    windowed_models.train_end_date,
    windowed_models.window_id,
    trim(feature.feature_name) as feature_name
from windowed_models
cross join unnest(string_split(windowed_models.feature_list, ',')) as feature (feature_name)
