{#- Clock times and time zones. UTC instants are stored as timestamps without zone, named *_utc;
    local wall-clock times likewise, named *_local. -#}

{#- hhmm integer clock time -> minutes after midnight. 2400 (midnight at the end of the day, as
    the source writes it) gives 1440, which lands on the next day when added to the date. -#}
{% macro hhmm_to_minutes(hhmm) -%}
    (({{ hhmm }}) // 100 * 60 + ({{ hhmm }}) % 100)
{%- endmacro %}

{#- True when an hhmm integer is a real clock time (0000-2359, or 2400). -#}
{% macro is_valid_hhmm(hhmm) -%}
    (({{ hhmm }}) between 0 and 2400 and ({{ hhmm }}) % 100 < 60)
{%- endmacro %}

{#- A local date plus an hhmm clock time, as a local timestamp. -#}
{% macro local_clock_timestamp(local_date, hhmm, extra_days=0) -%}
    {{ dbt.dateadd('minute', hhmm_to_minutes(hhmm) ~ (' + ' ~ (1440 * extra_days) if extra_days else ''),
        'cast(' ~ local_date ~ ' as timestamp)') }}
{%- endmacro %}

{#- Wall-clock time in a zone -> UTC instant. In the hour that repeats when clocks go back,
    fold='later' gives the second (standard-time) instant and fold='earlier' the first; outside
    that hour both give the one instant. A clock time skipped when clocks go forward maps forward. -#}
{% macro local_to_utc(local_timestamp, time_zone, fold='later') -%}
    {%- set later = adapter.dispatch('local_to_utc_later')(local_timestamp, time_zone) -%}
    {%- if fold == 'later' -%}
        {{ later }}
    {%- else -%}
        {%- set hour_before = dbt.dateadd('hour', -1, later) -%}
        case
            when {{ utc_to_local(hour_before, time_zone) }} = {{ local_timestamp }}
                then {{ hour_before }}
            else {{ later }}
        end
    {%- endif -%}
{%- endmacro %}

{#- DuckDB (ICU) resolves a repeated local hour to its later instant. -#}
{% macro duckdb__local_to_utc_later(local_timestamp, time_zone) -%}
    timezone('UTC', timezone({{ time_zone }}, {{ local_timestamp }}))
{%- endmacro %}

{% macro utc_to_local(utc_timestamp, time_zone) -%}
    {{ return(adapter.dispatch('utc_to_local')(utc_timestamp, time_zone)) }}
{%- endmacro %}

{% macro duckdb__utc_to_local(utc_timestamp, time_zone) -%}
    timezone({{ time_zone }}, timezone('UTC', {{ utc_timestamp }}))
{%- endmacro %}

{#- The first instant at or after `after_utc` at which the clock in `time_zone` reads `hhmm`.
    This is how a local arrival time, which carries no date, becomes an instant: the flight left
    at `after_utc` and no flight here lasts a day. It covers midnight crossings, arrivals in
    other zones and arrivals in the repeated hour of a DST change. -#}
{% macro next_clock_time_utc(after_utc, hhmm, time_zone) -%}
    {%- set local_date = 'cast(' ~ utc_to_local(after_utc, time_zone) ~ ' as date)' -%}
    {%- set same_day_first = local_to_utc(local_clock_timestamp(local_date, hhmm), time_zone, 'earlier') -%}
    {%- set same_day_last = local_to_utc(local_clock_timestamp(local_date, hhmm), time_zone) -%}
    case
        when {{ same_day_first }} >= {{ after_utc }} then {{ same_day_first }}
        when {{ same_day_last }} >= {{ after_utc }} then {{ same_day_last }}
        else {{ local_to_utc(local_clock_timestamp(local_date, hhmm, 1), time_zone, 'earlier') }}
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
