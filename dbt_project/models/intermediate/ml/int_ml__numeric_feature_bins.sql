{#- The bin edges of every numeric feature in every training window: the deciles of the window's
    rows (quantile_cont), as <feature>__edge_1 .. <feature>__edge_9. Tied deciles leave a bin
    empty in both populations, which adds nothing to the PSI. -#}
{%- set numeric_features = ml_feature_columns('numeric') -%}
{%- set deciles = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] -%}
-- The linter compiles against a warehouse without ml.flight_features: the feature loops render
-- nothing there, which leaves indents it cannot judge.
-- noqa: disable=LT02

with

features as (
    select * from {{ source('ml', 'flight_features') }}
),

training_windows as (
    select * from {{ ref('int_ml__training_windows') }}
),

training_rows as (
    select
        training_windows.window_id,
        features.*
    from features
    inner join training_windows
        on
            features.horizon_minutes = training_windows.horizon_minutes
            and features.scheduled_departure_date
            between training_windows.train_start_date and training_windows.train_end_date
),

decile_lists as (
    select
        {%- for feature in numeric_features %}
            {{ quantile_cont_list(feature, deciles) }} as {{ feature }}__deciles,
        {%- endfor %}
        window_id
    from training_rows
    group by window_id
)

select
    {%- for feature in numeric_features %}
        {%- for decile in deciles %}
            {{ feature }}__deciles[{{ loop.index }}] as {{ feature }}__edge_{{ loop.index }},
        {%- endfor %}
    {%- endfor %}
    window_id
from decile_lists
