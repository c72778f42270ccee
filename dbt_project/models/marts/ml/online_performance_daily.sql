{{ config(meta={'lake_order_by': 'feed_id, classification_model_id, scheduled_departure_date'}) }}

with

pushed as (
    select * from {{ source('ml', 'served_predictions') }}
    where source = 'feed'
),

flights as (
    select * from {{ ref('fct_flights') }}
),

batch as (
    select * from {{ ref('fct_flight_predictions') }}
),

-- each pushed score beside its outcome and the batch scores of the same flight and models
joined as (
    select
        pushed.feed_id,
        pushed.classification_model_id,
        pushed.horizon_minutes,
        flights.scheduled_departure_date,
        pushed.flight_id,
        pushed.probability_late,
        pushed.expected_arrival_delay_minutes,
        classified.score as batch_probability_late,
        regressed.score as batch_expected_arrival_delay_minutes,
        {{ dbt.datediff('pushed.decision_at_utc', 'pushed.feed_clock_utc', 'second') }}
            as push_lateness_seconds,
        case
            when classified.actual_label then 1.0 when not classified.actual_label then 0.0
        end as outcome
    from pushed
    inner join flights
        on pushed.flight_id = flights.flight_id
    left join batch as classified
        on
            pushed.flight_id = classified.flight_id
            and pushed.classification_model_id = classified.model_id
    left join batch as regressed
        on
            pushed.flight_id = regressed.flight_id
            and pushed.regression_model_id = regressed.model_id
)

select
    -- ids
    feed_id,
    classification_model_id,
    scheduled_departure_date,
    horizon_minutes,

    -- pushed
    count(*) as pushed_scores,
    count(distinct flight_id) as pushed_flights,
    avg(push_lateness_seconds) as mean_push_lateness_seconds,
    max(push_lateness_seconds) as max_push_lateness_seconds,

    -- against the outcome, pushed and batch on the same flights
    count(outcome) as pushed_with_outcome,
    avg(outcome) as late_share,
    avg(probability_late) as mean_probability_late,
    avg(power(probability_late - outcome, 2)) as online_brier_score,
    avg(power(batch_probability_late - outcome, 2)) as batch_brier_score,

    -- pushed and batch agree: the same features at the same decision time, the same models
    max(abs(probability_late - batch_probability_late)) as max_abs_difference_from_batch,
    max(abs(expected_arrival_delay_minutes - batch_expected_arrival_delay_minutes))
        as max_abs_delay_difference_from_batch
from joined
group by feed_id, classification_model_id, scheduled_departure_date, horizon_minutes
