{#- The population stability index of every feature, per training window and scheduled departure
    date, against the window: PSI = sum over bins of (p_day - p_train) ln(p_day / p_train), over
    every bin seen in either population, an empty bin counted as var('ml_psi_epsilon') of its
    population (the psi_term macro). -#}

with

bin_counts as (
    select * from {{ ref('int_ml__feature_bin_counts') }}
),

training_windows as (
    select * from {{ ref('int_ml__training_windows') }}
),

day_totals as (
    select
        window_id,
        feature_name,
        feature_kind,
        scheduled_departure_date,
        cast(sum(rows_in_bin) as bigint) as day_rows,
        cast(sum(case when bin = '(missing)' then rows_in_bin else 0 end) as bigint) as missing_rows
    from bin_counts
    group by window_id, feature_name, feature_kind, scheduled_departure_date
),

training_counts as (
    select
        bin_counts.window_id,
        bin_counts.feature_name,
        bin_counts.bin,
        cast(sum(bin_counts.rows_in_bin) as bigint) as training_rows_in_bin
    from bin_counts
    inner join training_windows
        on bin_counts.window_id = training_windows.window_id
    where
        bin_counts.scheduled_departure_date
        between training_windows.train_start_date and training_windows.train_end_date
    group by bin_counts.window_id, bin_counts.feature_name, bin_counts.bin
),

training_totals as (
    select
        window_id,
        feature_name,
        cast(sum(training_rows_in_bin) as bigint) as training_rows,
        cast(sum(case when bin = '(missing)' then training_rows_in_bin else 0 end) as bigint)
            as training_missing_rows,
        count(*) as training_bins
    from training_counts
    group by window_id, feature_name
),

-- every bin seen in either population, for every day
bins as (
    select distinct
        window_id,
        feature_name,
        bin
    from bin_counts
)

select
    day_totals.window_id,
    day_totals.feature_name,
    day_totals.feature_kind,
    day_totals.scheduled_departure_date,
    day_totals.day_rows,
    day_totals.missing_rows,
    training_totals.training_rows,
    training_totals.training_missing_rows,
    training_totals.training_bins,
    {{ reproducible_sum(
        psi_term(
            'bin_counts.rows_in_bin', 'day_totals.day_rows',
            'training_counts.training_rows_in_bin', 'training_totals.training_rows',
        ),
    ) }} as psi
from day_totals
inner join training_totals
    on
        day_totals.window_id = training_totals.window_id
        and day_totals.feature_name = training_totals.feature_name
inner join bins
    on
        day_totals.window_id = bins.window_id
        and day_totals.feature_name = bins.feature_name
left join bin_counts
    on
        bins.window_id = bin_counts.window_id
        and bins.feature_name = bin_counts.feature_name
        and bins.bin = bin_counts.bin
        and day_totals.scheduled_departure_date = bin_counts.scheduled_departure_date
left join training_counts
    on
        bins.window_id = training_counts.window_id
        and bins.feature_name = training_counts.feature_name
        and bins.bin = training_counts.bin
group by
    day_totals.window_id,
    day_totals.feature_name,
    day_totals.feature_kind,
    day_totals.scheduled_departure_date,
    day_totals.day_rows,
    day_totals.missing_rows,
    training_totals.training_rows,
    training_totals.training_missing_rows,
    training_totals.training_bins
