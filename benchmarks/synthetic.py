"""Synthetic landing zones: `years` copies of the bundled 2013 data, copy k moved to the year 2013 + k.

The copies are written like the source systems deliver the bundled data (`lakehouse land`): one
gzip CSV of flights and one JSON Lines file of weather per month, the reference tables as they are.
The 10x and 100x zones of the build, gate and feature benchmarks come from here.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from lakehouse.config import ORIGIN_TIME_ZONE
from lakehouse.platform.landing import REFERENCE_TABLES

WEATHER_MEASURES = (
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
)
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
MARKER = ".complete"
# Bump when the generator changes, so that a cached landing zone from an older one is rebuilt.
GENERATOR_VERSION = 2

# Why the copies are shifted by whole weeks, not by exactly a year:
# The published delays and air times are durations measured under 2013's clocks. Keeping each
# row's month/day in another year moves it relative to the DST changes (US rule: second Sunday of
# March, first Sunday of November), so a flight across a change in the new year, or one across
# 2013's change date that is now an ordinary day, gains or loses an hour: its published arr_delay
# and air_time no longer agree with its clock times (a 2x trial failed fct_flights' arrival tests
# on 38 rows of the shifted year, and a failing test makes `dbt build` skip everything downstream).
# So copy k is shifted by the whole number of weeks that takes 2013's DST start (2013-03-10) to the
# DST start of 2013 + k. DST always lasts exactly 34 weeks, so the end aligns too; every date then
# keeps its weekday and its UTC offset, every instant moves by the same number of days, and all
# durations stay exact. Years come out as 2013 + k; dates move by -2 to +4 days from "same month
# and day", so a copy's first or last days can fall in the neighbouring year's files. Copies meet
# at year ends (copy k+1's Jan 1 can land on copy k's Dec 31), so flight numbers get + 10000 * k
# (max 998,500, still an integer) to keep (carrier, flight, origin, scheduled local departure)
# unique. Weather is shifted as UTC instants by the same days and its local fields recomputed,
# which keeps (origin, time_hour) unique and the repeated November hour on the right date.
SOURCE_YEAR = 2013
FLIGHT_NUMBER_STEP = 10000

_DST_START = "(make_date({year}, 3, 8) + cast((7 - isodow(make_date({year}, 3, 8))) % 7 as integer))"


def flights_file(root: Path, year: int, month: int) -> Path:
    """Where a landing zone keeps one month of flights (the layout `lakehouse land` writes)."""
    return root / "flights" / str(year) / f"flights_{year}-{month:02d}.csv.gz"


def weather_file(root: Path, year: int, month: int) -> Path:
    """Where a landing zone keeps one local month of weather."""
    return root / "weather" / str(year) / f"weather_{year}-{month:02d}.jsonl"


def create_shifts(con: duckdb.DuckDBPyConnection, years: int) -> None:
    """bench_shifts(years_added, days_added): the DST-aligned shift of each copy (see above)."""
    target = _DST_START.format(year=f"{SOURCE_YEAR} + k")
    source = _DST_START.format(year=SOURCE_YEAR)
    con.execute(f"""
        create table bench_shifts as
        select cast(k as integer) as years_added, cast({target} - {source} as integer) as days_added
        from range({years}) as copies(k)
    """)


def load_flights(con: duckdb.DuckDBPyConnection, raw: Path) -> None:
    """The bundled flights as text (NA strings kept verbatim), in file order, with their date."""
    con.execute(f"""
        create table bench_flights as
        select
            row_number() over () as source_order,
            *,
            make_date(cast(year as integer), cast(month as integer), cast(day as integer)) as source_date
        from read_csv('{raw}/flights/*/flights_*.csv.gz', header = true, all_varchar = true)
    """)
    years = con.execute("select distinct year from bench_flights").fetchall()
    if years != [(str(SOURCE_YEAR),)]:
        raise ValueError(f"expected only {SOURCE_YEAR} in the bundled flights, found {years}")


def flight_months(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int, list[int]]]:
    """(year, month, copies landing in it) for each monthly flights file of the synthetic zone."""
    rows = con.execute("""
        with dates as (select distinct source_date from bench_flights)
        select
            year(dates.source_date + shifts.days_added) as year,
            month(dates.source_date + shifts.days_added) as month,
            list(distinct shifts.years_added order by shifts.years_added) as copies
        from dates
        cross join bench_shifts as shifts
        group by all
        order by 1, 2
    """).fetchall()
    return [(int(year), int(month), list(copies)) for year, month, copies in rows]


def flights_copy_sql(year: int, month: int, copies: list[int], path: Path) -> str:
    """One month of the shifted copies, written like the source's monthly gzip CSV export.

    time_hour is recomputed from the new local date and clock time the way the model reads a
    local time (`timezone(zone, local)`): with DST aligned it equals the published one moved by
    the shift, and a clock time in a skipped or repeated hour resolves as the model resolves it.
    """
    new_date = "(flights.source_date + shifts.days_added)"
    local = f"make_timestamp(year({new_date}), month({new_date}), day({new_date}), "
    local += "cast(flights.hour as integer), cast(flights.minute as integer), 0)"
    utc_hour = f"date_trunc('hour', timezone('UTC', timezone('{ORIGIN_TIME_ZONE}', {local})))"
    first_day = f"make_date({year}, {month}, 1)"
    return f"""
        copy (
            select flights.* exclude (source_order, source_date) replace (
                cast(year({new_date}) as varchar) as year,
                cast(month({new_date}) as varchar) as month,
                cast(day({new_date}) as varchar) as day,
                cast(cast(flights.flight as integer) + {FLIGHT_NUMBER_STEP} * shifts.years_added as varchar)
                    as flight,
                strftime({utc_hour}, '{ISO_UTC}') as time_hour
            )
            from bench_flights as flights
            inner join bench_shifts as shifts
                on shifts.years_added in ({", ".join(map(str, copies))})
            where {new_date} >= {first_day} and {new_date} < {first_day} + interval 1 month
            order by shifts.years_added, flights.source_order
        ) to '{path}' (format csv, header true, compression gzip)
    """


def load_weather(con: duckdb.DuckDBPyConnection, raw: Path) -> list[tuple[int, int]]:
    """Every copy of the weather in one table; returns the (local year, month) files to write.

    Each UTC instant moves by its copy's days and the local year/month/day/hour are recomputed
    from it (see the comment above SOURCE_YEAR). Measures are read as raw JSON, so their
    published digits and "NA" strings are written back as they are.
    """
    columns = {
        "origin": "VARCHAR",
        **{name: "VARCHAR" for name in ("year", "month", "day", "hour")},
        **dict.fromkeys(WEATHER_MEASURES, "JSON"),
        "time_hour": "VARCHAR",
    }
    con.execute(f"""
        create table bench_weather as
        with
        source as (
            select row_number() over () as source_order, *
            from read_json('{raw}/weather/*/weather_*.jsonl', format = 'newline_delimited',
                columns = {columns})
        ),
        shifted as (
            select
                source.*,
                shifts.years_added,
                strptime(source.time_hour, '{ISO_UTC}') + to_days(shifts.days_added) as utc
            from source
            cross join bench_shifts as shifts
        ),
        located as (
            select *, timezone('{ORIGIN_TIME_ZONE}', timezone('UTC', utc)) as local_hour
            from shifted
        )
        select
            years_added,
            source_order,
            origin,
            cast(year(local_hour) as integer) as year,
            cast(month(local_hour) as integer) as month,
            cast(day(local_hour) as integer) as day,
            cast(hour(local_hour) as integer) as hour,
            {", ".join(WEATHER_MEASURES)},
            strftime(utc, '{ISO_UTC}') as time_hour
        from located
    """)
    rows = con.execute("select distinct year, month from bench_weather order by 1, 2").fetchall()
    return [(int(year), int(month)) for year, month in rows]


def weather_copy_sql(year: int, month: int, path: Path) -> str:
    """One local month of weather as JSON Lines, keys in the source's order."""
    return f"""
        copy (
            select * exclude (years_added, source_order)
            from bench_weather
            where year = {year} and month = {month}
            order by years_added, source_order
        ) to '{path}' (format json)
    """


def _run_parallel(con: duckdb.DuckDBPyConnection, statements: list[str], workers: int = 2) -> None:
    """Run COPY statements on cursors in parallel: each gzip file is written by one thread."""

    def run(sql: str) -> None:
        with con.cursor() as cursor:
            cursor.execute(sql)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, statements))


def _write_copies(bundled: Path, partial: Path, years: int) -> None:
    """The flights and weather files of every copy, under `partial`."""
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    create_shifts(con, years)
    load_flights(con, bundled)
    statements: list[str] = []
    for year, month, copies in flight_months(con):
        path = flights_file(partial, year, month)
        path.parent.mkdir(parents=True, exist_ok=True)
        statements.append(flights_copy_sql(year, month, copies, path))
    for year, month in load_weather(con, bundled):
        path = weather_file(partial, year, month)
        path.parent.mkdir(parents=True, exist_ok=True)
        statements.append(weather_copy_sql(year, month, path))
    _run_parallel(con, statements)
    con.close()


def generate_synthetic_raw(bundled: Path, target: Path, years: int) -> bool:
    """Write a landing zone with `years` copies of the bundled year; False when a cached one exists.

    Written to a sibling folder and renamed when complete (with a marker file), so an interrupted
    run is never mistaken for a finished one.
    """
    stamp = {"years": years, "generator": GENERATOR_VERSION, "source": str(bundled)}
    if (target / MARKER).exists() and json.loads((target / MARKER).read_text()) == stamp:
        return False
    partial = target.with_name(target.name + ".partial")
    for stale in (partial, target):
        if stale.exists():
            shutil.rmtree(stale)
    _write_copies(bundled, partial, years)
    for table in REFERENCE_TABLES:
        shutil.copytree(bundled / table, partial / table, ignore=shutil.ignore_patterns("README*"))
    (partial / MARKER).write_text(json.dumps(stamp) + "\n")
    partial.rename(target)
    return True
