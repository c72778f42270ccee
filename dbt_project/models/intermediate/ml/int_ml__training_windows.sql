{#- One row per training window of the scored models: the reference population of their PSI. -#}

with

model_features as (
    select * from {{ ref('int_ml__model_features') }}
)

select distinct
    window_id,
    horizon_minutes,
    train_start_date,
    train_end_date
from model_features
