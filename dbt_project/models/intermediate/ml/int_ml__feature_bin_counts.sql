{#- Rows per training window, feature, scheduled departure date and bin, for every feature at the
    window's horizon (a row belongs to every window of its horizon). Numeric features: bin k is
    [edge k, edge k+1) of int_ml__numeric_feature_bins (0 below the first edge, 9 from the last),
    '(missing)' for NULL. Categorical features: the value when it is a bin of
    int_ml__categorical_feature_bins, '(other)' for rarer and unseen values, '(missing)' for NULL.
    Numeric features are binned on the wide rows and counted feature by feature; only the
    categorical features are unpivoted. -#}
{%- set numeric_features = ml_feature_columns('numeric') -%}
{%- set categorical_features = ml_feature_columns('categorical') -%}
{%- set edge_count = 9 -%}
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

edges as (
    select * from {{ ref('int_ml__numeric_feature_bins') }}
),

category_bins as (
    select * from {{ ref('int_ml__categorical_feature_bins') }}
),

windowed as (
    select
        training_windows.window_id,
        features.*
    from features
    inner join training_windows
        on features.horizon_minutes = training_windows.horizon_minutes
),

-- every row's bin of every numeric feature, still one row per flight: binning and counting
-- feature by feature on the wide rows is faster than on the unpivoted values
numeric_bins as (
    select
        {%- for feature in numeric_features %}
            case
                when windowed.{{ feature }} is null then -1
                {%- for edge in range(edge_count, 0, -1) %}
                    when windowed.{{ feature }} >= edges.{{ feature }}__edge_{{ edge }} then {{ edge }}
                {%- endfor %}
                else 0
            end as {{ feature }}__bin,
        {%- endfor %}
        windowed.window_id,
        windowed.scheduled_departure_date
    from windowed
    inner join edges
        on windowed.window_id = edges.window_id
),

numeric_counts as (
    {%- for feature in numeric_features %}
        select
            window_id,
            '{{ feature }}' as feature_name,
            scheduled_departure_date,
            {{ feature }}__bin as bin,
            count(*) as rows_in_bin
        from numeric_bins
        group by window_id, scheduled_departure_date, {{ feature }}__bin
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        -- no numeric feature (or no ml.flight_features yet, as when sqlfluff compiles this)
        select
            cast(null as bigint) as window_id,
            cast(null as {{ dbt.type_string() }}) as feature_name,
            cast(null as date) as scheduled_departure_date,
            cast(null as integer) as bin,
            cast(0 as bigint) as rows_in_bin
        where false
    {%- endfor %}
),

categorical_values as (
    {%- for feature in categorical_features %}
        select
            window_id,
            scheduled_departure_date,
            '{{ feature }}' as feature_name,
            {{ feature }} as feature_value
        from windowed
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select
            cast(null as bigint) as window_id,
            cast(null as date) as scheduled_departure_date,
            cast(null as {{ dbt.type_string() }}) as feature_name,
            cast(null as {{ dbt.type_string() }}) as feature_value
        where false
    {%- endfor %}
),

categorical_binned as (
    select
        categorical_values.window_id,
        categorical_values.feature_name,
        categorical_values.scheduled_departure_date,
        case
            when categorical_values.feature_value is null then '(missing)'
            when category_bins.feature_value is null then '(other)'
            else category_bins.feature_value
        end as bin
    from categorical_values
    left join category_bins
        on
            categorical_values.window_id = category_bins.window_id
            and categorical_values.feature_name = category_bins.feature_name
            and categorical_values.feature_value = category_bins.feature_value
)

select
    window_id,
    feature_name,
    'numeric' as feature_kind,
    scheduled_departure_date,
    case when bin = -1 then '(missing)' else cast(bin as {{ dbt.type_string() }}) end as bin,
    rows_in_bin
from numeric_counts
union all
select
    window_id,
    feature_name,
    'categorical' as feature_kind,
    scheduled_departure_date,
    bin,
    count(*) as rows_in_bin
from categorical_binned
group by window_id, feature_name, scheduled_departure_date, bin
