{#- The performance measures every analytics mart reports, defined once. A departure is on time
    when it left no more than var('on_time_threshold_minutes') late; an arrival when it landed
    less than that late (US DOT). Rates are doubles (a 1.0 literal is a decimal on Spark), over the flights for which the outcome exists:
    departures over flights that left, arrivals over flights that arrived. -#}
{% macro flight_performance_measures(flights='flights') -%}
    count(*) as scheduled_flights,
    cast(sum(case when {{ flights }}.is_cancelled then 1 else 0 end) as bigint) as cancelled_flights,
    cast(sum(case when not {{ flights }}.is_cancelled then 1 else 0 end) as bigint) as departed_flights,
    cast(sum(case when {{ flights }}.arr_delay_minutes is not null then 1 else 0 end) as bigint) as arrived_flights,
    cast(sum(case when not {{ flights }}.is_departure_delayed then 1 else 0 end) as bigint) as on_time_departures,
    cast(sum(case when {{ flights }}.is_on_time_arrival then 1 else 0 end) as bigint) as on_time_arrivals,
    avg(cast(case when not {{ flights }}.is_departure_delayed then 1 else 0 end as double)) filter (
        where not {{ flights }}.is_cancelled
    ) as on_time_departure_rate,
    avg(cast(case when {{ flights }}.is_on_time_arrival then 1 else 0 end as double)) filter (
        where {{ flights }}.arr_delay_minutes is not null
    ) as on_time_arrival_rate,
    avg(cast(case when {{ flights }}.is_cancelled then 1 else 0 end as double)) as cancellation_rate,
    avg({{ flights }}.dep_delay_minutes) as mean_dep_delay_minutes,
    avg({{ flights }}.arr_delay_minutes) as mean_arr_delay_minutes,
    percentile_cont(0.5) within group (order by {{ flights }}.dep_delay_minutes) as median_dep_delay_minutes,
    percentile_cont(0.9) within group (order by {{ flights }}.dep_delay_minutes) as p90_dep_delay_minutes
{%- endmacro %}
