{#- The bins of every categorical feature in every training window: each value with at least
    var('ml_psi_min_category_share') of the window's rows. Rarer values, values the window never
    saw and NULL are binned as '(other)' and '(missing)' when the rows are counted. -#}
{%- set categorical_features = ml_feature_columns('categorical') -%}
-- The linter compiles against a warehouse without ml.flight_features: the feature loops render
-- nothing there, which leaves indents and a CTE it cannot judge.
-- noqa: disable=LT02,ST03

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

training_values as (
    {%- for feature in categorical_features %}
        select
            window_id,
            '{{ feature }}' as feature_name,
            {{ feature }} as feature_value
        from training_rows
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        -- no categorical feature (or no ml.flight_features yet, as when sqlfluff compiles this)
        select
            cast(null as bigint) as window_id,
            cast(null as {{ dbt.type_string() }}) as feature_name,
            cast(null as {{ dbt.type_string() }}) as feature_value
        where false
    {%- endfor %}
),

category_shares as (
    select
        window_id,
        feature_name,
        feature_value,
        count(*) * 1.0 / sum(count(*)) over (partition by window_id, feature_name) as training_share
    from training_values
    group by window_id, feature_name, feature_value
)

select * from category_shares
where
    feature_value is not null
    and training_share >= {{ var('ml_psi_min_category_share') }}
