{#- Each prediction beside what happened. The classification label is the training label
    (lakehouse.features: cancelled, or departed more than var('on_time_threshold_minutes') late),
    built from fct_flights' is_departure_delayed so that lateness is defined once. The regression
    target is the arrival delay, which cancelled and diverted flights do not have: their outcome
    is unknown and every metric leaves them out. evaluation_split says whether the flight was
    among those the model was fitted on (training: its score is in-sample), tuned and chosen on
    (validation), or neither (out_of_sample: the honest measure). -#}
{{ config(meta={'lake_order_by': 'model_id, scheduled_departure_utc, flight_id'}) }}

with

predictions as (
    select * from {{ source('ml', 'predictions') }}
),

flights as (
    select * from {{ ref('fct_flights') }}
),

registry as (
    select * from {{ source('ml', 'model_registry') }}
),

joined as (
    select
        predictions.flight_id,
        predictions.task,
        predictions.model_id,
        predictions.model_name,
        predictions.model_version,
        predictions.horizon_minutes,
        predictions.decision_at_utc,
        predictions.scored_at,
        predictions.feature_fingerprint,
        predictions.score,
        predictions.threshold,
        predictions.predicted_label,
        flights.carrier_code,
        flights.flight_number,
        flights.origin_airport_code,
        flights.dest_airport_code,
        flights.scheduled_departure_date,
        flights.scheduled_departure_local,
        flights.scheduled_departure_utc,
        flights.is_cancelled,
        flights.is_diverted,
        flights.dep_delay_minutes,
        flights.arr_delay_minutes,
        case
            when predictions.task = 'classification'
                then flights.is_cancelled or flights.is_departure_delayed
        end as actual_label,
        case when predictions.task = 'regression' then flights.arr_delay_minutes end as actual_arr_delay_minutes,
        case
            when registry.train_start_date is null then 'unknown'
            when flights.scheduled_departure_date between registry.train_start_date and registry.train_end_date
                then 'training'
            when
                flights.scheduled_departure_date
                between registry.validation_start_date and registry.validation_end_date
                then 'validation'
            else 'out_of_sample'
        end as evaluation_split
    from predictions
    left join flights
        on predictions.flight_id = flights.flight_id
    left join registry
        on predictions.model_id = registry.model_id
),

valued as (
    select
        *,
        case
            when actual_label then 1.0
            when not actual_label then 0.0
            else cast(actual_arr_delay_minutes as double)
        end as actual_value
    from joined
),

scored as (
    select
        *,
        actual_value is not null as is_outcome_known,
        score - actual_value as error
    from valued
)

select
    -- ids
    flight_id,
    task,
    model_id,
    model_name,
    model_version,

    -- the flight
    carrier_code,
    flight_number,
    origin_airport_code,
    dest_airport_code,
    scheduled_departure_date,
    scheduled_departure_local,
    scheduled_departure_utc,

    -- the prediction
    evaluation_split,
    horizon_minutes,
    decision_at_utc,
    scored_at,
    feature_fingerprint,
    score,
    threshold,
    predicted_label,

    -- what happened
    is_cancelled,
    is_diverted,
    dep_delay_minutes,
    arr_delay_minutes,
    is_outcome_known,
    actual_label,
    actual_value,

    -- how wrong
    error,
    abs(error) as absolute_error,
    error * error as squared_error,
    case when task = 'classification' then {{ log_loss('actual_label', 'score') }} end as log_loss
from scored
