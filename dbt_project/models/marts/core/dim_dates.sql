{{ config(meta={'lake_order_by': 'date_day'}) }}

with

flight_dates as (
    select
        min(scheduled_departure_date) as first_date,
        max(scheduled_departure_date) as last_date
    from {{ ref('stg_nycflights__flights') }}
),

days as (
    select
        cast(unnest(generate_series(
            cast(flight_dates.first_date as timestamp),
            cast(flight_dates.last_date as timestamp),
            interval 1 day
        )) as date) as date_day
    from flight_dates
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
    extract(year from days.date_day) as year_number,
    extract(quarter from days.date_day) as quarter_of_year,
    extract(month from days.date_day) as month_of_year,
    extract(day from days.date_day) as day_of_month,
    extract(isodow from days.date_day) as day_of_week,
    dayname(days.date_day) as day_of_week_name,
    monthname(days.date_day) as month_name,
    extract(week from days.date_day) as week_of_year,
    extract(isodow from days.date_day) in (6, 7) as is_weekend,
    holidays.holiday_date is not null as is_holiday,
    holidays.holiday_name,
    nearest_holiday.days_to_nearest_holiday
from days
left join holidays
    on days.date_day = holidays.holiday_date
left join nearest_holiday
    on days.date_day = nearest_holiday.date_day
