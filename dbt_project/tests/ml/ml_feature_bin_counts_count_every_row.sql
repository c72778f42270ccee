{#- Every feature's bins of a window and day add up to the day's ml.flight_features rows at the
    window's horizon: no row is lost or counted twice by the binning. -#}
{{ config(tags=['ml']) }}

with

bin_totals as (
    select
        window_id,
        feature_name,
        scheduled_departure_date,
        sum(rows_in_bin) as counted_rows
    from {{ ref('int_ml__feature_bin_counts') }}
    group by window_id, feature_name, scheduled_departure_date
),

day_rows as (
    select
        training_windows.window_id,
        features.scheduled_departure_date,
        count(*) as feature_rows
    from {{ source('ml', 'flight_features') }} as features
    inner join {{ ref('int_ml__training_windows') }} as training_windows
        on features.horizon_minutes = training_windows.horizon_minutes
    group by training_windows.window_id, features.scheduled_departure_date
)

select
    bin_totals.*,
    day_rows.feature_rows
from bin_totals
left join day_rows
    on
        bin_totals.window_id = day_rows.window_id
        and bin_totals.scheduled_departure_date = day_rows.scheduled_departure_date
where day_rows.feature_rows is distinct from bin_totals.counted_rows
