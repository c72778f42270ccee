"""The dbt project on Spark (dbt-spark, session method) builds the same tables as on DuckDB, row for
row, from the same SQL: one month of the bundled raw files plus a file per source of rows carrying
the defects staging quarantines, so that the rules that reject rows are compared too, not only
the clean rows. Equality is exact, floating point included, but for the few doubles that come
out of sums and interpolations the engines compute in another order (CLOSE_COLUMNS)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from conftest import lakehouse_environment
from lakehouse.cli import app
from lakehouse.config import CORE_ON_SPARK_SELECTOR, DEFAULT_HORIZON_MINUTES, paths
from lakehouse.models.dask_training import lake_months
from lakehouse.models.features.build import build_features
from lakehouse.platform.dbt import run_dbt
from lakehouse.platform.spark import (
    JAVA_MISSING,
    SparkFolders,
    build_on_spark,
    java_available,
    spark_build_args,
)

pytestmark = [
    pytest.mark.skipif(not java_available(), reason=JAVA_MISSING),
    # one worker builds the module's fixtures (make test runs `pytest -n 2 --dist loadgroup`)
    pytest.mark.xdist_group("spark"),
]


def _weather(**fields: str | None) -> str:
    """A weather line of 2013-02-05 01:00 at EWR (an hour the bundled month does not have) with
    `fields` replaced (None: the field is absent), values written as JSON."""
    record = {
        "origin": '"EWR"',
        "year": "2013",
        "month": "2",
        "day": "5",
        "hour": "1",
        "temp": "39.02",
        "dewp": "26.06",
        "humid": "59.37",
        "wind_dir": "270",
        "wind_speed": "10.35702",
        "wind_gust": '"NA"',
        "precip": "0",
        "pressure": "1012",
        "visib": "10",
        "time_hour": '"2013-02-05T06:00:00Z"',
    } | fields
    return "{" + ",".join(f'"{name}":{value}' for name, value in record.items() if value is not None) + "}"


# One month of flights and weather, with all of the reference files.
MONTH = "2013-01"
# Every table the pipeline's `core` selection builds (its views select from them), by schema.
TABLES = [
    *(
        ("main", table)
        for table in (
            *(
                f"base_nycflights__{source}"
                for source in ("airlines", "airports", "planes", "flights", "weather")
            ),
            "stg_nycflights__flights_checked",
            "stg_nycflights__weather_checked",
            "int_flights__enriched",
            "int_weather__hourly_filled",
            "int_weather__hourly_grid",
            "dim_airports",
            "dim_carriers",
            "dim_dates",
            "dim_planes",
            "fct_flights",
            "agg_delay_by_weather",
            "agg_on_time_by_day_carrier_origin",
            "agg_on_time_by_hour",
            "agg_on_time_by_route",
        )
    ),
    ("quarantine", "rejected_rows"),
    ("reference", "airport_time_zone_supplements"),
    ("reference", "us_federal_holidays"),
]
# Where the engines' doubles may differ in their last bits, and why; everything else is compared
# exactly. Such a double must be within CLOSE_ENOUGH of DuckDB's, relative to max(1, |value|).
CLOSE_ENOUGH = 1e-12
CLOSE_COLUMNS = {
    # means and standard deviations of a month of readings: Spark adds them in another order
    "int_weather__hourly_grid": "*_zscore",
    # percentile_cont interpolates between two delays with another formula
    **dict.fromkeys(
        ("agg_on_time_by_day_carrier_origin", "agg_on_time_by_hour", "agg_on_time_by_route"),
        "*_dep_delay_minutes",
    ),
}
FLIGHTS_HEADER = (
    "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,carrier,"
    "flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour"
)


@dataclass(frozen=True)
class DefectFile:
    """A raw file added beside the bundled ones: its lines, each with the rejection it must get in
    `table` (None: it is kept)."""

    header: str | None
    table: str
    lines: list[tuple[str, str | None]]


DEFECTS: dict[str, DefectFile] = {
    "airlines/airlines_defects.csv": DefectFile(
        "carrier,name",
        "base_nycflights__airlines",
        [
            ("ZZ,", "missing field name"),
            ("x!,Bad Code Air", "carrier code 'x!' is not 2 letters or digits"),
            (
                "AA,American Airlines again",
                "duplicate carrier code: same key as airlines/airlines.csv line 3",
            ),
            ('"Q5","Quoted, with a comma"', None),
        ],
    ),
    "airports/airports_defects.csv": DefectFile(
        "faa,name,lat,lon,alt,tz,dst,tzone",
        "base_nycflights__airports",
        [
            ("XYZ,Nowhere,abc,-80,100,-5,A,America/New_York", "unparseable lat: 'abc' is not a valid double"),
            ("MARS,Mars Base,10,10,NA,0,N,Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
            ("LAT9,Too Far North,95,0,0,0,A,UTC", "coordinates out of range"),
            ("04G,Lansdowne Again,41,-80,1,-5,A,America/New_York", "duplicate airport code"),
            ("NAN1,Not A Number,nan,inf,0,0,A,UTC", "unparseable lat: 'nan' is not a valid double"),
            ("ZRH1,Zürich Flughafen, 47.46 ,8.55,1416,1,U,Europe/Zurich", None),
            (
                "INT1,Half Foot,40,-70,12.5,-5,A,America/New_York",
                "unparseable alt: '12.5' is not a valid integer",
            ),
        ],
    ),
    "planes/planes_defects.csv": DefectFile(
        "tailnum,year,type,manufacturer,model,engines,seats,speed,engine",
        "base_nycflights__planes",
        [
            (
                "N0BAD1,1800,Fixed wing multi engine,BOEING,737,2,150,NA,Turbo-fan",
                "impossible year of manufacture 1800",
            ),
            (
                "N0BAD2,2004,Fixed wing multi engine,BOEING,737,2,12.5,NA,Turbo-fan",
                "unparseable seats: '12.5'",
            ),
            (
                "N10156,2005,Fixed wing multi engine,EMBRAER,EMB-145XR,2,55,NA,Turbo-fan",
                "duplicate tail number",
            ),
            (
                "N0BAD3,2004,Fixed wing multi engine,BOEING,737,-2,150,NA,Turbo-fan",
                "negative seats or engines",
            ),
            ("N0BAD4,2004,Fixed wing multi engine,BOEING,737,2,150,NA,", "missing field engine"),
            ("N0GOOD,+2004,Fixed wing multi engine,BOEING,737, 2 ,150,NA,Turbo-fan", None),  # signed, padded
        ],
    ),
    "flights/2013/flights_defects.csv.gz": DefectFile(
        FLIGHTS_HEADER,
        "stg_nycflights__flights_checked",
        [
            (
                "2013,2,30,517,515,2,830,819,11,UA,9001,N14228,EWR,IAH,227,1400,5,15,2013-03-02T10:00:00Z",
                "impossible date 2013-2-30",
            ),
            (
                "2013,1,5,2461,515,2,830,819,11,UA,9002,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z",
                "impossible clock time dep_time 2461",
            ),
            (
                "2013,1,5,517,515,2,830,819,11,UA,9003,N14228,EWR,IAH,227,1400,6,15,2013-01-05T10:00:00Z",
                "hour 6 and minute 15 disagree with sched_dep_time 515",
            ),
            (
                "2013,1,5,517,515,2,830,819,11,UA,9004,N14228,XXX,IAH,227,1400,5,15,2013-01-05T10:00:00Z",
                "no time zone known for origin XXX",
            ),
            (
                "2013,1,5,517,515,2,830,819,11,UA,9005,N14228,EWR,IAH,227,1400,5,15,2013-01-05T11:00:00Z",
                "time_hour 2013-01-05 11:00:00 is not the UTC hour of the scheduled departure",
            ),
            (
                "2013,1,5,530,515,2,830,819,11,UA,9006,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z",
                "dep_delay 2 disagrees with sched_dep_time 515 and dep_time 530",
            ),
            (
                "2013,1,5,530,515,NA,830,819,11,UA,9007,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z",
                "dep_time and dep_delay disagree on whether the flight left",
            ),
            (
                "2013,1,5,517,515,2,830,819,11,UA,9008,N14228,EWR,IAH,227,0,5,15,2013-01-05T10:00:00Z",
                "distance 0 is not positive",
            ),
            (
                "2013,1,5,,515,2,830,819,11,UA,9009,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z",
                "missing field dep_time",
            ),
            (
                "2013,1,5,517,515,2.5,830,819,11,UA,9010,N14228,EWR,IAH,227,1400,5,15,2013-01-05T10:00:00Z",
                "unparseable dep_delay: '2.5' is not a valid integer",
            ),
            (
                "2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01T10:00:00Z",
                "duplicate scheduled flight: same key as flights/2013/flights_2013-01.csv.gz line 2",
            ),
            # 1:30 comes twice when clocks go back: time_hour tells which instant is meant
            ("2013,11,3,135,130,5,300,255,5,UA,9101,N14228,EWR,ORD,120,719,1,30,2013-11-03T05:00:00Z", None),
            ("2013,11,3,135,130,5,300,255,5,UA,9102,N14228,EWR,ORD,120,719,1,30,2013-11-03T06:00:00Z", None),
            # 2:30 never comes when clocks go forward: it maps to 3:30
            ("2013,3,10,235,230,5,500,450,10,UA,9103,N14228,EWR,ORD,120,719,2,30,2013-03-10T07:00:00Z", None),
            # arrives after midnight
            (
                "2013,1,6,2350,2345,5,130,120,10,B6,9104,N14228,JFK,BOS,40,187,23,45,2013-01-07T04:00:00Z",
                None,
            ),
            # cancelled
            ("2013,1,6,NA,1000,NA,NA,1200,NA,UA,9105,NA,LGA,ORD,NA,733,10,0,2013-01-06T15:00:00Z", None),
        ],
    ),
    "weather/2013/weather_defects.jsonl": DefectFile(
        None,
        "stg_nycflights__weather_checked",
        [
            ("not json at all", "line is not a JSON object"),
            ("[1, 2, 3]", "line is not a JSON object"),
            (_weather(temp='"abc"'), "unparseable temp: 'abc' is not a valid double"),
            (_weather(time_hour='"2013-02-05T06:30:00Z"'), "is not on the hour"),
            (
                _weather(hour="5"),
                "local date and hour 2013-2-5 5h disagree with time_hour 2013-02-05 06:00:00",
            ),
            (_weather(origin='"ZZZ"'), "no time zone known for origin ZZZ"),
            (_weather(temp=None), "missing field temp"),
            (_weather(temp="null", hour="2", time_hour='"2013-02-05T07:00:00Z"'), "missing field temp"),
            (
                _weather(month="1", day="1", time_hour='"2013-01-01T06:00:00Z"'),
                "duplicate observation hour: same key as weather/2013/weather_2013-01.jsonl line 1",
            ),
            # numbers as JSON may write them, escaped text, a pressure in inches (kept, flagged later)
            (
                _weather(
                    visib="1e1",
                    pressure="29.92",
                    origin='"\\u004aFK"',
                    hour="3",
                    time_hour='"2013-02-05T08:00:00Z"',
                ),
                None,
            ),
        ],
    ),
}


@dataclass(frozen=True)
class Builds:
    duckdb: Path
    spark: SparkFolders


# For this module's Spark runs only (the results do not depend on them), on a month of flights:
# the feature query's hundreds of shuffles run faster on a few partitions than on Spark's 200, and
# its hundreds of stages, each run once, cost less CPU compiled by the JVM's quick compiler alone
# (given room for all of their code: its default cache fills up and compiling stops).
SMALL_BUILD_SETTINGS = {
    "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "4",
    "LAKEHOUSE_SPARK_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m",
}


@pytest.fixture(scope="module", autouse=True)
def small_build_settings() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SMALL_BUILD_SETTINGS.items():
            patch.setenv(name, os.environ.get(name, value))
        yield


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    root = tmp_path_factory.mktemp("spark")
    raw = root / "raw"
    for source in ("airlines", "airports", "planes"):
        shutil.copytree(paths().raw / source, raw / source)
    for source, suffix in (("flights", ".csv.gz"), ("weather", ".jsonl")):
        name = f"{source}/2013/{source}_{MONTH}{suffix}"
        (raw / name).parent.mkdir(parents=True)
        shutil.copy(paths().raw / name, raw / name)
    for name, defects in DEFECTS.items():
        text = "".join(f"{line}\n" for line in [defects.header] if line) + "".join(
            f"{line}\n" for line, _ in defects.lines
        )
        with (gzip.open if name.endswith(".gz") else open)(raw / name, "wt", encoding="utf-8") as handle:
            handle.write(text)
    warehouse = root / "duckdb" / "warehouse.duckdb"
    project = paths().dbt_project
    run_dbt(
        spark_build_args(),
        project_dir=project,
        warehouse=warehouse,
        raw_dir=raw,
        lake_dir=root / "duckdb" / "lake",
        target_dir=root / "duckdb" / "target",
    )
    spark = SparkFolders(root / "spark")
    # dbt's own not_null, unique, accepted_values and relationships tests stay on DuckDB: the tables
    # they would check on Spark are asserted equal to DuckDB's, where they pass.
    build_on_spark(
        ["build", "--selector", CORE_ON_SPARK_SELECTOR],
        folders=spark,
        raw_dir=raw,
        project_dir=project,
        target_dir=root / "spark" / "target",
    )
    return Builds(duckdb=warehouse, spark=spark)


def rows_differing(con: duckdb.DuckDBPyConnection, left: str, right: str, close: str | None) -> int:
    """How many rows of `left` have no equal row in `right`, matched in sorted order: columns
    whose name matches the pattern `close` within CLOSE_ENOUGH, all others exactly."""
    columns = [name for name, *_ in con.execute(f"describe select * from {left}").fetchall()]
    rows = ", ".join(columns)
    conditions = [
        f"(l.{name} is not distinct from r.{name}"
        + (
            f" or abs(l.{name} - r.{name}) <= {CLOSE_ENOUGH} * greatest(1, abs(l.{name}), abs(r.{name})))"
            if close and fnmatch(name, close)
            else ")"
        )
        for name in columns
    ]
    numbered = "select *, row_number() over (order by {rows}) as row_position from {relation}"
    query = f"""
        select count(*)
        from ({numbered.format(rows=rows, relation=left)}) as l
        full join ({numbered.format(rows=rows, relation=right)}) as r using (row_position)
        where not ({" and ".join(conditions)})
    """
    (count,) = con.execute(query).fetchone() or (None,)
    return int(count)


def columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind, *_ in con.execute(f"describe select * from {relation}").fetchall()]


def test_spark_builds_every_table_the_pipeline_builds(builds: Builds) -> None:
    with duckdb.connect(str(builds.duckdb), read_only=True) as con:
        built = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
    assert sorted(built) == sorted(TABLES)
    on_spark = {
        (folder.name.removesuffix(".db"), table.name)
        for folder in builds.spark.warehouse.glob("*.db")
        for table in folder.iterdir()
    }
    assert on_spark == set(TABLES)


def _run_nodes(target: Path) -> dict[str, str | None]:
    """The nodes a dbt run ran, each with the name of its generic test (None for others)."""
    manifest = json.loads((target / "manifest.json").read_text())["nodes"]
    ran = [result["unique_id"] for result in json.loads((target / "run_results.json").read_text())["results"]]
    return {node: (manifest.get(node, {}).get("test_metadata") or {}).get("name") for node in ran}


def test_spark_runs_every_node_but_dbts_own_generic_tests(builds: Builds) -> None:
    on_duckdb = _run_nodes(builds.duckdb.parent / "target")
    on_spark = _run_nodes(builds.spark.root / "target")
    assert set(on_spark) < set(on_duckdb)
    left_out = {on_duckdb[node] for node in set(on_duckdb) - set(on_spark)}
    assert left_out == {"not_null", "unique", "accepted_values", "relationships"}
    assert {"accepted_range", "expression_is_true", "unique_combination_of_columns"} <= set(on_spark.values())


@pytest.mark.parametrize(("schema", "table"), TABLES)
def test_spark_builds_the_same_rows_as_duckdb(builds: Builds, schema: str, table: str) -> None:
    spark = f"read_parquet('{builds.spark.table(schema, table)}/*.parquet')"
    with duckdb.connect(str(builds.duckdb), read_only=True) as con:
        # names and types (the constraints of the marts' contracts are DuckDB's: Spark has none)
        assert columns(con, spark) == columns(con, f"{schema}.{table}")
        assert con.execute(f"select count(*) from {spark}").fetchone() == (
            con.execute(f"select count(*) from {schema}.{table}").fetchone()
        )
        assert rows_differing(con, f"{schema}.{table}", spark, CLOSE_COLUMNS.get(table)) == 0


@pytest.mark.parametrize("name", DEFECTS)
def test_spark_quarantines_each_defect_for_its_reason(builds: Builds, name: str) -> None:
    defects = DEFECTS[name]
    first_line = 2 if defects.header else 1
    spark = f"read_parquet('{builds.spark.table('main', defects.table)}/*.parquet')"
    with duckdb.connect(str(builds.duckdb), read_only=True) as con:
        reasons = dict(
            con.execute(
                f"select source_line, rejection_reason from {spark} where source_file = ?", [name]
            ).fetchall()
        )
    assert sorted(reasons) == list(range(first_line, first_line + len(defects.lines)))
    for number, (line, fragment) in enumerate(defects.lines, start=first_line):
        reason = reasons[number]
        assert (reason is None) if fragment is None else (fragment in (reason or "")), (line, reason)


def test_spark_computes_the_same_features_from_the_same_definitions(builds: Builds, tmp_path: Path) -> None:
    """`lakehouse export-features --engine spark` on the Spark build: every flight's features at the
    default horizon equal DuckDB's on its build, exactly, in the same files of the feature lake.
    One horizon: another changes only the SQL's constants (decision instant, look-back), not its form."""
    lake = tmp_path / "features"
    horizon = DEFAULT_HORIZON_MINUTES
    command = ["export-features", "--engine", "spark", "--horizon", str(horizon), "--to", str(lake)]
    # the Spark build is `spark/` under the data folder, where `lakehouse build-spark` leaves it
    with lakehouse_environment(builds.spark.root.parent, builds.spark.root.parent / "raw"):
        exported = CliRunner().invoke(app, command)
    assert exported.exit_code == 0, exported.output
    with duckdb.connect(str(builds.duckdb), read_only=True) as con:
        on_duckdb = build_features(con, horizon)
    assert on_duckdb.height > 25_000
    months = on_duckdb["scheduled_departure_date"].dt.strftime("%Y-%m").unique().sort().to_list()
    assert lake_months(lake, horizon) == months
    on_spark = pl.read_parquet(lake / f"{horizon}min" / "*.parquet")
    assert_frame_equal(on_spark.sort("flight_id"), on_duckdb.sort("flight_id"), check_exact=True)


def test_features_on_spark_need_a_spark_build(tmp_path: Path) -> None:
    with lakehouse_environment(tmp_path, tmp_path / "raw"):
        exported = CliRunner().invoke(app, ["export-features", "--engine", "spark"], terminal_width=300)
    assert exported.exit_code == 1
    assert f"no Spark build in {tmp_path / 'spark'}" in exported.output
    assert "lakehouse build-spark" in exported.output
