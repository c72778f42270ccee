"""The benchmarks are not run by the tests (timings are noisy), but they must import: a broken
import fails here rather than at the next `make bench`. And the synthetic generator, on one flight
and one weather reading, writes its files where the landing zone keeps them and moves copy k to
the year 2013 + k by whole weeks (benchmarks/synthetic.py says why). A child's peak memory is its
own, not that of the benchmark process that spawned it."""

from __future__ import annotations

import csv
import gzip
import importlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.runner import BUNDLED_RAW, MIB, run_child
from benchmarks.synthetic import (
    FLIGHT_NUMBER_STEP,
    ISO_UTC,
    flights_file,
    generate_synthetic_raw,
    weather_file,
)
from lakehouse.platform.landing import REFERENCE_TABLES

ENTRY_MODULES = ("build", "gate", "features", "scoring", "serving", "live", "spark", "threads", "training")
MODULES = (*ENTRY_MODULES, "synthetic", "dbt_replay", "runner")
# 2013's DST start (2013-03-10) to 2014's (2014-03-09): the shift of copy 1.
ONE_YEAR_SHIFT = timedelta(weeks=52)


@pytest.mark.parametrize("name", MODULES)
def test_every_benchmark_module_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    if name in ENTRY_MODULES:
        assert callable(module.main)


def test_a_child_peak_memory_is_its_own_not_its_parents() -> None:
    ballast = b"\x01" * (400 * MIB)  # written, so resident: the parent's peak is above 400 MB
    run = run_child("json.tool", ["--help"])
    assert len(ballast) == 400 * MIB
    assert run.exit_code == 0
    assert 0 < run.peak_rss_bytes < 200 * MIB
    assert run_child("json.tool", ["/no/such/file.json"]).exit_code != 0


def test_file_names_are_the_landing_zone_layout(tmp_path: Path) -> None:
    assert flights_file(tmp_path, 2014, 3) == tmp_path / "flights" / "2014" / "flights_2014-03.csv.gz"
    assert weather_file(tmp_path, 2113, 12) == tmp_path / "weather" / "2113" / "weather_2113-12.jsonl"
    # the same names `lakehouse land` gave the bundled files
    assert flights_file(BUNDLED_RAW, 2013, 1).is_file()
    assert weather_file(BUNDLED_RAW, 2013, 1).is_file()


def _tiny_landing_zone(folder: Path) -> tuple[dict[str, str], dict[str, object]]:
    """One flight and one weather reading of 2013-03-15 (after DST began), from the bundled files."""
    with gzip.open(flights_file(BUNDLED_RAW, 2013, 3), "rt") as handle:
        header, *rows = handle.read().splitlines()
    flight = next(row for row in rows if row.split(",")[2] == "15")
    path = flights_file(folder, 2013, 3)
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(f"{header}\n{flight}\n".encode()))
    lines = weather_file(BUNDLED_RAW, 2013, 3).read_text().splitlines()
    reading = next(line for line in lines if json.loads(line)["day"] == 15)
    weather_file(folder, 2013, 3).parent.mkdir(parents=True)
    weather_file(folder, 2013, 3).write_text(reading + "\n")
    for table in REFERENCE_TABLES:
        (folder / table).mkdir()
        (folder / table / f"{table}.csv").write_text("code\nx\n")
    return next(csv.DictReader([header, flight])), json.loads(reading)


def test_a_copy_moves_by_whole_weeks_to_its_year(tmp_path: Path) -> None:
    flight, reading = _tiny_landing_zone(tmp_path / "bundled")
    target = tmp_path / "raw-2x"

    assert generate_synthetic_raw(tmp_path / "bundled", target, 2)
    assert not generate_synthetic_raw(tmp_path / "bundled", target, 2)  # cached

    written = sorted(str(path.relative_to(target)) for path in target.rglob("*") if path.is_file())
    assert written == [
        ".complete",
        "airlines/airlines.csv",
        "airports/airports.csv",
        "flights/2013/flights_2013-03.csv.gz",
        "flights/2014/flights_2014-03.csv.gz",
        "planes/planes.csv",
        "weather/2013/weather_2013-03.jsonl",
        "weather/2014/weather_2014-03.jsonl",
    ]
    with gzip.open(flights_file(target, 2013, 3), "rt") as handle:
        assert list(csv.DictReader(handle)) == [flight]  # copy 0 is the bundled year as it was
    with gzip.open(flights_file(target, 2014, 3), "rt") as handle:
        (copied,) = csv.DictReader(handle)
    moved = datetime.strptime(flight["time_hour"], ISO_UTC) + ONE_YEAR_SHIFT
    assert copied == {
        **flight,
        "year": "2014",
        "day": "14",  # the same weekday, a year on
        "flight": str(int(flight["flight"]) + FLIGHT_NUMBER_STEP),
        "time_hour": moved.strftime(ISO_UTC),  # the same clock time and UTC offset
    }
    (copied_reading,) = map(json.loads, weather_file(target, 2014, 3).read_text().splitlines())
    moved = datetime.strptime(str(reading["time_hour"]), ISO_UTC) + ONE_YEAR_SHIFT
    assert copied_reading == {**reading, "year": 2014, "day": 14, "time_hour": moved.strftime(ISO_UTC)}


def test_make_bench_prints_the_step_times_the_published_run_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run's record keeps the seconds of each step; a record written before that column existed
    still loads (read by name, NULL), and `make bench` prints the newest published run's steps."""
    import polars as pl

    from benchmarks.build import print_pipeline_steps
    from lakehouse.quality.gate import RunOutcome, new_run
    from lakehouse.quality.history import OUTCOME_SCHEMA, load_history_into, save_outcome

    runs, history = tmp_path / "runs", tmp_path / "history"
    history.mkdir()
    old = new_run("old build")
    older_schema = {k: v for k, v in OUTCOME_SCHEMA.items() if k != "step_seconds"}
    runs.mkdir()
    pl.DataFrame(
        [{"run_id": old.run_id, "run_started_at": old.started_at, "outcome": "published"}],
        schema=older_schema,
    ).write_parquet(runs / "0-older.parquet")
    run = new_run("a build")
    save_outcome(run, RunOutcome("published", version="v1"), runs, [("raw files", 0.7), ("dbt build", 12.0)])
    warehouse = tmp_path / "warehouse.duckdb"
    load_history_into(warehouse, history, runs)
    print_pipeline_steps(warehouse)
    printed = capsys.readouterr().out
    assert f"run {run.run_id}" in printed
    assert "dbt build          12.0 s" in printed
    assert "total              12.7 s" in printed
