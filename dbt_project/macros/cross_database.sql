{#- The project's versions of dbt's cross-database macros, where dbt's own do not do what the
    models need. -#}

{#- dbt.safe_cast compiles to a plain cast on DuckDB and on Spark (ANSI mode), which raise on bad
    input; the warehouse needs a cast that yields NULL so that bad values are quarantined, not
    fatal. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- dbt-spark's dateadd and datediff raise on a NULL timestamp and return zoned timestamps; Spark's
    own timestampadd and timestampdiff take NULLs and keep a timestamp without zone as it is. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    timestampdiff({{ datepart }}, {{ first_date }}, {{ second_date }})
{%- endmacro %}

{#- Every column of the relation in scope but `columns`, for a select list (optionally of one
    relation: `prefix.`): DuckDB's `* exclude`, Spark's `* except`. -#}
{% macro star_except(columns, prefix='') -%}
    {{ return(adapter.dispatch('star_except')(columns, prefix)) }}
{%- endmacro %}

{% macro duckdb__star_except(columns, prefix) -%}
    {{ prefix }}* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns, prefix) -%}
    {{ prefix }}* except ({{ columns | join(', ') }})
{%- endmacro %}

{#- A timestamp without zone: DuckDB's `timestamp`; Spark's `timestamp` is an instant in the
    session's zone, its `timestamp_ntz` the wall-clock value the models mean. -#}
{% macro spark__type_timestamp() -%}
    timestamp_ntz
{%- endmacro %}

{#- Integer division rounding down: DuckDB's `//`, Spark's `div`. -#}
{% macro integer_divide(dividend, divisor) -%}
    {{ return(adapter.dispatch('integer_divide')(dividend, divisor)) }}
{%- endmacro %}

{% macro duckdb__integer_divide(dividend, divisor) -%}
    ({{ dividend }}) // ({{ divisor }})
{%- endmacro %}

{% macro spark__integer_divide(dividend, divisor) -%}
    ({{ dividend }}) div ({{ divisor }})
{%- endmacro %}

{#- Every instant from `start` to `stop` (both included) a `step` apart (an interval such as
    '1 hour'), one row each, in a select list: DuckDB's generate_series, Spark's sequence. -#}
{% macro timestamp_series(start, stop, step) -%}
    {{ return(adapter.dispatch('timestamp_series')(start, stop, step)) }}
{%- endmacro %}

{% macro duckdb__timestamp_series(start, stop, step) -%}
    unnest(generate_series({{ start }}, {{ stop }}, interval {{ step }}))
{%- endmacro %}

{% macro spark__timestamp_series(start, stop, step) -%}
    explode(sequence({{ start }}, {{ stop }}, interval {{ step }}))
{%- endmacro %}

{#- An aggregate of doubles whose rows are added in `order_by` order, so that a rebuild gives the
    same bits (DuckDB's ordered aggregates). Spark has none: it takes the plain aggregate, whose
    order follows its partitions. -#}
{% macro ordered_aggregate(function, expression, order_by) -%}
    {{ return(adapter.dispatch('ordered_aggregate')(function, expression, order_by)) }}
{%- endmacro %}

{% macro duckdb__ordered_aggregate(function, expression, order_by) -%}
    {{ function }}({{ expression }} order by {{ order_by }})
{%- endmacro %}

{% macro default__ordered_aggregate(function, expression, order_by) -%}
    {{ function }}({{ expression }})
{%- endmacro %}

{#- A date's day of the week, 1 (Monday) to 7 (Sunday), and its day and month names in English. -#}
{% macro iso_day_of_week(date) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(date)) }}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(date) -%}
    extract(isodow from {{ date }})
{%- endmacro %}

{% macro spark__iso_day_of_week(date) -%}
    cast(extract(dayofweek_iso from {{ date }}) as bigint)
{%- endmacro %}

{% macro day_name(date) -%}
    {{ return(adapter.dispatch('day_name')(date)) }}
{%- endmacro %}

{% macro duckdb__day_name(date) -%}
    dayname({{ date }})
{%- endmacro %}

{% macro spark__day_name(date) -%}
    date_format({{ date }}, 'EEEE')
{%- endmacro %}

{% macro month_name(date) -%}
    {{ return(adapter.dispatch('month_name')(date)) }}
{%- endmacro %}

{% macro duckdb__month_name(date) -%}
    monthname({{ date }})
{%- endmacro %}

{% macro spark__month_name(date) -%}
    date_format({{ date }}, 'MMMM')
{%- endmacro %}

{#- first_value or last_value skipping NULLs, for a window: `last_value(x ignore nulls)` on DuckDB,
    `last_value(x, true)` on Spark. -#}
{% macro ignoring_nulls(function, expression) -%}
    {{ return(adapter.dispatch('ignoring_nulls')(function, expression)) }}
{%- endmacro %}

{% macro duckdb__ignoring_nulls(function, expression) -%}
    {{ function }}({{ expression }} ignore nulls)
{%- endmacro %}

{% macro spark__ignoring_nulls(function, expression) -%}
    {{ function }}({{ expression }}, true)
{%- endmacro %}
