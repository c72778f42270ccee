"""The dbt project on Spark (dbt-spark, session method) builds the same tables as on DuckDB, row for
row, from the same SQL: the bundled raw files plus rows carrying the defects the base models
quarantine, so that the rules that reject rows are compared too, not only the clean rows."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from lakehouse.config import paths
from lakehouse.platform.dbt import run_dbt
from lakehouse.platform.spark import SPARK_SELECTION, SparkFolders, build_on_spark, java_available

pytestmark = pytest.mark.skipif(
    not java_available(), reason="Spark needs Java 17 or later: none on this machine"
)

SELECTION = ["--select", SPARK_SELECTION]
# the tables compared (the staged models are views of them)
TABLES = ["base_nycflights__airlines", "base_nycflights__airports", "base_nycflights__planes"]

# Rows appended to the bundled files, each with the rejection it must get (None: it is kept).
DEFECTS: dict[str, list[tuple[str, str | None]]] = {
    "airlines/airlines.csv": [
        ("ZZ,", "missing field name"),
        ("x!,Bad Code Air", "carrier code 'x!' is not 2 letters or digits"),
        ("AA,American Airlines again", "duplicate carrier code: same key as airlines/airlines.csv line 3"),
        ('"Q5","Quoted, with a comma"', None),
    ],
    "airports/airports.csv": [
        ("XYZ,Nowhere,abc,-80,100,-5,A,America/New_York", "unparseable lat: 'abc' is not a valid double"),
        ("MARS,Mars Base,10,10,NA,0,N,Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
        ("LAT9,Too Far North,95,0,0,0,A,UTC", "coordinates out of range"),
        ("04G,Lansdowne Again,41,-80,1,-5,A,America/New_York", "duplicate airport code"),
        ("NAN1,Not A Number,nan,inf,0,0,A,UTC", "unparseable lat: 'nan' is not a valid double"),
        ("ZRH1,Zürich Flughafen, 47.46 ,8.55,1416,1,E,Europe/Zurich", None),
        (
            "INT1,Half Foot,40,-70,12.5,-5,A,America/New_York",
            "unparseable alt: '12.5' is not a valid integer",
        ),
    ],
    "planes/planes.csv": [
        (
            "N0BAD1,1800,Fixed wing multi engine,BOEING,737,2,150,NA,Turbo-fan",
            "impossible year of manufacture 1800",
        ),
        ("N0BAD2,2004,Fixed wing multi engine,BOEING,737,2,12.5,NA,Turbo-fan", "unparseable seats: '12.5'"),
        ("N10156,2005,Fixed wing multi engine,EMBRAER,EMB-145XR,2,55,NA,Turbo-fan", "duplicate tail number"),
        ("N0BAD3,2004,Fixed wing multi engine,BOEING,737,-2,150,NA,Turbo-fan", "negative seats or engines"),
        ("N0BAD4,2004,Fixed wing multi engine,BOEING,737,2,150,NA,", "missing field engine"),
        ("N0GOOD,+2004,Fixed wing multi engine,BOEING,737, 2 ,150,NA,Turbo-fan", None),  # signed, padded
    ],
}


@dataclass(frozen=True)
class Builds:
    duckdb: Path
    spark: SparkFolders


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    root = tmp_path_factory.mktemp("spark")
    raw = root / "raw"
    for source in ("airlines", "airports", "planes"):
        shutil.copytree(paths().raw / source, raw / source)
    for name, defects in DEFECTS.items():
        with (raw / name).open("a") as handle:
            handle.write("".join(f"{line}\n" for line, _ in defects))
    warehouse = root / "duckdb" / "warehouse.duckdb"
    project = paths().dbt_project
    run_dbt(
        ["build", *SELECTION, "--indirect-selection", "cautious"],
        project_dir=project,
        warehouse=warehouse,
        raw_dir=raw,
        lake_dir=root / "duckdb" / "lake",
        target_dir=root / "duckdb" / "target",
    )
    spark = SparkFolders(root / "spark")
    build_on_spark(
        ["build", *SELECTION, "--indirect-selection", "cautious"],
        folders=spark,
        raw_dir=raw,
        project_dir=project,
        target_dir=root / "spark" / "target",
    )
    return Builds(duckdb=warehouse, spark=spark)


@pytest.mark.parametrize("table", TABLES)
def test_spark_builds_the_same_rows_and_quarantines_the_same_rows_for_the_same_reasons(
    builds: Builds, table: str
) -> None:
    source = table.removeprefix("base_nycflights__")
    defects = DEFECTS[f"{source}/{source}.csv"]
    spark = f"read_parquet('{builds.spark.table('main', table)}/*.parquet')"
    with duckdb.connect(str(builds.duckdb), read_only=True) as con:
        assert con.execute(f"describe select * from {spark}").fetchall() == (
            con.execute(f"describe main.{table}").fetchall()
        )
        only_spark = con.execute(f"select * from {spark} except all select * from main.{table}").fetchall()
        only_duckdb = con.execute(f"select * from main.{table} except all select * from {spark}").fetchall()
        assert (only_spark, only_duckdb) == ([], [])
        # the appended rows are the file's last lines
        appended = con.execute(
            f"select rejection_reason from {spark} order by source_line desc limit {len(defects)}"
        ).fetchall()
    for (reason,), (line, fragment) in zip(reversed(appended), defects, strict=True):
        assert (reason is None) if fragment is None else (fragment in (reason or "")), (line, reason)
