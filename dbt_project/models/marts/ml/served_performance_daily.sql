{{ config(meta={'lake_order_by': 'classification_model_id, scheduled_departure_date'}) }}

with

-- answers to requests (the feed's pushed scores are in online_performance_daily)
served as (
    select * from {{ source('ml', 'served_predictions') }}
    where coalesce(source, 'request') = 'request'
),

flights as (
    select * from {{ ref('fct_flights') }}
),

batch as (
    select * from {{ ref('fct_flight_predictions') }}
    where task = 'classification'
),

-- each served answer of a known flight, beside its outcome and the batch score of the same model
joined as (
    select
        served.classification_model_id,
        flights.scheduled_departure_date,
        served.flight_id,
        served.probability_late,
        served.latency_ms,
        batch.score as batch_probability_late,
        case when batch.actual_label then 1.0 when not batch.actual_label then 0.0 end as outcome
    from served
    inner join flights
        on served.flight_id = flights.flight_id
    left join batch
        on
            served.flight_id = batch.flight_id
            and served.classification_model_id = batch.model_id
)

select
    -- ids
    classification_model_id,
    scheduled_departure_date,

    -- served
    count(*) as served_predictions,
    count(distinct flight_id) as served_flights,
    avg(latency_ms) as mean_latency_ms,

    -- against the outcome, served and batch on the same flights
    count(outcome) as served_with_outcome,
    avg(power(probability_late - outcome, 2)) as served_brier_score,
    avg(power(batch_probability_late - outcome, 2)) as batch_brier_score,

    -- served and batch agree: the same model scores the same features
    max(abs(probability_late - batch_probability_late)) as max_abs_difference_from_batch
from joined
group by classification_model_id, scheduled_departure_date
