{#- Model metrics computed in SQL, so that the monitoring marts agree with the Python evaluation
    (lakehouse.evaluate, scikit-learn) without moving predictions out of the warehouse. -#}

{#- The average rank of `score` within `partition_by` (a list of columns): tied scores share the
    mean of the ranks they span, which is the rank the Mann-Whitney statistic needs for the ROC AUC
    to count a tie between a positive and a negative as one half. rank() is the first position of
    the ties and count(*) over the same window (default frame: up to the current row's last peer)
    the last, so one sort serves both. -#}
{% macro average_rank(score, partition_by) -%}
    {%- set window = 'partition by ' ~ (partition_by | join(', ')) ~ ' order by ' ~ score -%}
    (rank() over ({{ window }}) + count(*) over ({{ window }})) / 2.0
{%- endmacro %}

{#- ROC AUC as an aggregate over rows carrying average_rank (computed over the same rows and the
    same groups): (sum of the positives' ranks - P(P+1)/2) / (P N), the Mann-Whitney U over P N.
    NULL when the group has only one class. `is_positive` is a boolean. -#}
{% macro roc_auc(is_positive, rank) -%}
    (
        (
            sum(case when {{ is_positive }} then {{ rank }} end)
            - sum(case when {{ is_positive }} then 1.0 else 0.0 end)
            * (sum(case when {{ is_positive }} then 1.0 else 0.0 end) + 1) / 2
        )
        / nullif(
            sum(case when {{ is_positive }} then 1.0 else 0.0 end)
            * sum(case when not {{ is_positive }} then 1.0 else 0.0 end),
            0
        )
    )
{%- endmacro %}

{#- The log loss of one probability against a boolean outcome, the probability clipped to
    [eps, 1 - eps] (var ml_log_loss_epsilon, as lakehouse.evaluate.EPSILON). -#}
{% macro log_loss(is_positive, probability) -%}
    {%- set eps = var('ml_log_loss_epsilon') -%}
    -ln(
        case
            when {{ is_positive }} then greatest(least({{ probability }}, 1 - {{ eps }}), {{ eps }})
            else 1 - greatest(least({{ probability }}, 1 - {{ eps }}), {{ eps }})
        end
    )
{%- endmacro %}

{#- One bin's term of the population stability index, (p - q) ln(p / q), from the bin's counts in
    the two populations and their sizes. An empty bin counts as var('ml_psi_epsilon') of its
    population so the logarithm stays finite; a bin empty in both gives 0. Each term is >= 0. -#}
{% macro psi_term(rows_in_bin, rows, reference_rows_in_bin, reference_rows) -%}
    {%- set eps = var('ml_psi_epsilon') -%}
    {%- set p = 'greatest(1.0 * coalesce(' ~ rows_in_bin ~ ', 0) / ' ~ rows ~ ', ' ~ eps ~ ')' -%}
    {%- set q = 'greatest(1.0 * coalesce(' ~ reference_rows_in_bin ~ ', 0) / ' ~ reference_rows ~ ', ' ~ eps ~ ')' -%}
    ({{ p }} - {{ q }}) * ln({{ p }} / {{ q }})
{%- endmacro %}

{#- The continuous (interpolated) quantiles of `column` at each of `fractions`, as one list
    (1-based: element k is fractions[k - 1]). DuckDB computes them from one sorted state; the
    default asks for each quantile separately (about 4x slower on DuckDB). -#}
{% macro quantile_cont_list(column, fractions) -%}
    {{ return(adapter.dispatch('quantile_cont_list')(column, fractions)) }}
{%- endmacro %}

{% macro default__quantile_cont_list(column, fractions) -%}
    array[
        {%- for fraction in fractions %}
            percentile_cont({{ fraction }}) within group (order by {{ column }}){{ ',' if not loop.last }}
        {%- endfor %}
    ]
{%- endmacro %}

{% macro duckdb__quantile_cont_list(column, fractions) -%}
    quantile_cont({{ column }}, [{{ fractions | join(', ') }}])
{%- endmacro %}

{#- The features of ml.flight_features by kind, read from the table itself (scoring writes text
    for a categorical feature and a double for every other one): the Python package's feature
    list stays the one declaration. The table is named directly, not through source(), which a
    unit test replaces with its fixture (whose columns dbt takes from this same table). Empty
    while dbt parses, or before the first scoring. -#}
{% macro ml_feature_columns(kind) -%}
    {%- set keys = ['flight_id', 'horizon_minutes', 'decision_at_utc', 'scheduled_departure_date'] -%}
    {%- set names = [] -%}
    {%- set table = api.Relation.create(database=(target.database if target.database is defined else none), schema='ml', identifier='flight_features') -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(table) -%}
            {%- if column.name not in keys and column.is_string() == (kind == 'categorical') -%}
                {%- do names.append(column.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names) }}
{%- endmacro %}

{#- A sum or mean of doubles that a rebuild of unchanged data reproduces bit for bit: a parallel
    sum of doubles changes in its last bits from one run to the next (the order partial sums
    meet in varies). DuckDB adds the values as exact decimals (18 places, so |values| < 1e20:
    metrics, errors in minutes, PSI terms), in any order, then returns a double; other engines get
    the plain aggregate. -#}
{% macro reproducible_sum(expression) -%}
    {{ return(adapter.dispatch('reproducible_sum')(expression)) }}
{%- endmacro %}

{% macro default__reproducible_sum(expression) -%}
    sum({{ expression }})
{%- endmacro %}

{% macro duckdb__reproducible_sum(expression) -%}
    cast(sum(cast({{ expression }} as decimal(38, 18))) as double)
{%- endmacro %}

{% macro reproducible_avg(expression) -%}
    {{ return(adapter.dispatch('reproducible_avg')(expression)) }}
{%- endmacro %}

{% macro default__reproducible_avg(expression) -%}
    avg({{ expression }})
{%- endmacro %}

{% macro duckdb__reproducible_avg(expression) -%}
    avg(cast({{ expression }} as decimal(38, 18)))
{%- endmacro %}

{#- The data-quality flags data_quality_feedback reports, in their order: each flag's name and
    when a scored row carries it, over the joins of int_ml__scored_flights_flagged (flights,
    weather, features, quarantined_weather). The later steps use the names only. -#}
{% macro ml_data_quality_flags() -%}
    {{ return({
        'weather_missing': 'weather.weather_hour_utc is null or not (weather.is_observed or weather.has_interpolated_value)',
        'weather_interpolated': 'coalesce(weather.has_interpolated_value, false)',
        'weather_out_of_range': 'coalesce(weather.has_out_of_range_reading, false)',
        'weather_quarantined': 'quarantined_weather.weather_hour_utc is not null',
        'weather_stale_at_decision': 'coalesce(features.weather_age_minutes >= ' ~ var('weather_stale_after_minutes') ~ ', true)',
        'plane_missing_from_registry': 'flights.is_plane_missing_from_registry',
        'tailnum_missing': 'flights.tail_number is null',
        'dest_missing_from_registry': 'coalesce(flights.is_dest_missing_from_registry, false)',
    }) }}
{%- endmacro %}
