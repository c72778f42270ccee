{{ config(meta={'lake_order_by': 'date_day'}) }}

with

flight_dates as (
    select
        min(scheduled_departure_date) as first_date,
        max(scheduled_departure_date) as last_date
    from {{ ref('stg_nycflights__flights') }}
),

day_starts as (
    select
        {{ timestamp_series(
            'cast(flight_dates.first_date as ' ~ dbt.type_timestamp() ~ ')',
            'cast(flight_dates.last_date as ' ~ dbt.type_timestamp() ~ ')',
            "'1 day'",
        ) }} as day_start
    from flight_dates
),

days as (
    select cast(day_start as date) as date_day
    from day_starts
),

holidays as (
    select * from {{ ref('us_federal_holidays') }}
),

nearest_holiday as (
    select
        days.date_day,
        min(abs({{ dbt.datediff('days.date_day', 'holidays.holiday_date', 'day') }})) as days_to_nearest_holiday
    from days
    cross join holidays
    group by days.date_day
)

select
    days.date_day,
    cast(extract(year from days.date_day) as bigint) as year_number,
    cast(extract(quarter from days.date_day) as bigint) as quarter_of_year,
    cast(extract(month from days.date_day) as bigint) as month_of_year,
    cast(extract(day from days.date_day) as bigint) as day_of_month,
    {{ iso_day_of_week('days.date_day') }} as day_of_week,
    {{ day_name('days.date_day') }} as day_of_week_name,
    {{ month_name('days.date_day') }} as month_name,
    cast(extract(week from days.date_day) as bigint) as week_of_year,
    {{ iso_day_of_week('days.date_day') }} in (6, 7) as is_weekend,
    holidays.holiday_date is not null as is_holiday,
    holidays.holiday_name,
    nearest_holiday.days_to_nearest_holiday
from days
left join holidays
    on days.date_day = holidays.holiday_date
left join nearest_holiday
    on days.date_day = nearest_holiday.date_day
