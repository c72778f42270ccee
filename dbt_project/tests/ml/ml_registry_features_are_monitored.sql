{#- Fails for each feature a registered model uses that ml.flight_features lacks: feature_drift
    monitors the columns of that table, so such a feature would go unwatched. -#}
{{ config(tags=['ml']) }}

{%- set features = source('ml', 'flight_features') -%}

with

registry as (
    select * from {{ source('ml', 'model_registry') }}
),

present as (
    select column_name
    from information_schema.columns
    where
        table_schema = '{{ features.schema }}'
        and table_name = '{{ features.identifier }}'
),

used as (
    select
        registry.model_id,
        trim(feature.feature_name) as feature_name
    from registry
    cross join unnest(string_split(registry.features, ',')) as feature (feature_name)
)

select
    model_id,
    feature_name
from used
where feature_name not in (select present.column_name from present)
