{#- Clock times and time zones. UTC instants are stored as timestamps without zone, named *_utc;
    local wall-clock times likewise, named *_local. -#}

{#- hhmm integer clock time -> minutes after midnight. 2400 (midnight at the end of the day, as
    the source writes it) gives 1440, which lands on the next day when added to the date. -#}
{% macro hhmm_to_minutes(hhmm) -%}
    ({{ integer_divide(hhmm, 100) }} * 60 + ({{ hhmm }}) % 100)
{%- endmacro %}

{#- True when an hhmm integer is a real clock time (0000-2359, or 2400). -#}
{% macro is_valid_hhmm(hhmm) -%}
    (({{ hhmm }}) between 0 and 2400 and ({{ hhmm }}) % 100 < 60)
{%- endmacro %}

{#- A local date plus an hhmm clock time, as a local timestamp. -#}
{% macro local_clock_timestamp(local_date, hhmm) -%}
    {{ dbt.dateadd('minute', hhmm_to_minutes(hhmm), 'cast(' ~ local_date ~ ' as ' ~ dbt.type_timestamp() ~ ')') }}
{%- endmacro %}

{#- Wall-clock time in a zone -> UTC instant. In the hour that repeats when clocks go back this is
    the later (standard-time) instant; earlier_fold_utc finds the first. A clock time skipped when
    clocks go forward maps forward. -#}
{% macro local_to_utc(local_timestamp, time_zone) -%}
    {{ return(adapter.dispatch('local_to_utc')(local_timestamp, time_zone)) }}
{%- endmacro %}

{#- DuckDB (ICU) resolves a repeated local hour to its later instant. -#}
{% macro duckdb__local_to_utc(local_timestamp, time_zone) -%}
    timezone('UTC', timezone({{ time_zone }}, {{ local_timestamp }}))
{%- endmacro %}

{#- Spark (java.time) resolves a repeated local hour to its earlier instant: take the later one
    when the clock shows the same time an hour after it. -#}
{% macro spark__local_to_utc(local_timestamp, time_zone) -%}
    {%- set earlier = 'cast(to_utc_timestamp(' ~ local_timestamp ~ ', ' ~ time_zone ~ ') as timestamp_ntz)' -%}
    case
        when {{ spark__utc_to_local(dbt.dateadd('hour', 1, earlier), time_zone) }} = {{ local_timestamp }}
            then {{ dbt.dateadd('hour', 1, earlier) }}
        else {{ earlier }}
    end
{%- endmacro %}

{% macro utc_to_local(utc_timestamp, time_zone) -%}
    {{ return(adapter.dispatch('utc_to_local')(utc_timestamp, time_zone)) }}
{%- endmacro %}

{% macro duckdb__utc_to_local(utc_timestamp, time_zone) -%}
    timezone({{ time_zone }}, timezone('UTC', {{ utc_timestamp }}))
{%- endmacro %}

{% macro spark__utc_to_local(utc_timestamp, time_zone) -%}
    cast(from_utc_timestamp({{ utc_timestamp }}, {{ time_zone }}) as timestamp_ntz)
{%- endmacro %}

{#- Given local_to_utc of a wall-clock time (the later instant), the first instant at which the
    clock shows that time: an hour earlier inside the repeated hour of a DST change, otherwise
    the same instant. -#}
{% macro earlier_fold_utc(later_utc, local_timestamp, time_zone) -%}
    case
        when {{ utc_to_local(dbt.dateadd('hour', -1, later_utc), time_zone) }} = {{ local_timestamp }}
            then {{ dbt.dateadd('hour', -1, later_utc) }}
        else {{ later_utc }}
    end
{%- endmacro %}

{#- True when a published delay is not the difference of the two clock times it summarizes (the
    clocks carry no date, so the comparison is modulo a day). -#}
{% macro delay_disagrees_with_clocks(scheduled_hhmm, delay_minutes, actual_hhmm) -%}
    (
        {{ is_valid_hhmm(scheduled_hhmm) }} and {{ is_valid_hhmm(actual_hhmm) }}
        and ({{ hhmm_to_minutes(scheduled_hhmm) }} + {{ delay_minutes }} - {{ hhmm_to_minutes(actual_hhmm) }}) % 1440 <> 0
    )
{%- endmacro %}

{#- The first instant at or after `after_utc` at which the clock in `time_zone` shows
    `clock_local` (a wall-clock time on the local date of `after_utc`), given local_to_utc of that
    time on that date and on the next. This is how an arrival clock time, which carries no date,
    becomes an instant: no flight here lasts a day. -#}
{% macro first_instant_at_or_after(after_utc, same_day_later_utc, next_day_later_utc, clock_local, time_zone) -%}
    {%- set same_day_first = earlier_fold_utc(same_day_later_utc, clock_local, time_zone) -%}
    case
        when {{ same_day_first }} >= {{ after_utc }} then {{ same_day_first }}
        when {{ same_day_later_utc }} >= {{ after_utc }} then {{ same_day_later_utc }}
        else {{ earlier_fold_utc(next_day_later_utc, dbt.dateadd('day', 1, clock_local), time_zone) }}
    end
{%- endmacro %}

{#- True when a time zone name is given and the engine does not know it. -#}
{% macro is_unknown_time_zone(time_zone) -%}
    {{ return(adapter.dispatch('is_unknown_time_zone')(time_zone)) }}
{%- endmacro %}

{% macro duckdb__is_unknown_time_zone(time_zone) -%}
    {{ time_zone }} not in (select zones.name from pg_timezone_names() as zones)
{%- endmacro %}

{#- Spark converts time zones with java.time: a name ZoneId.of rejects is unknown to it. -#}
{% macro spark__is_unknown_time_zone(time_zone) -%}
    ({{ time_zone }} is not null and try_reflect('java.time.ZoneId', 'of', {{ time_zone }}) is null)
{%- endmacro %}
