"""No feature sees the future: rewrite everything not yet known at a cut-off instant C, rebuild,
and every flight decided before C must have bit-identical features; flights decided after C must
see the change (the test has power); and a deliberately leaky variant must fail the same check.
A missing tail number (an outcome: only cancelled flights lose theirs) must not show either."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from lakehouse.config import paths
from lakehouse.models.features.build import build_features
from lakehouse.models.features.catalog import FEATURES
from lakehouse.platform.dbt import run_dbt
from lakehouse.platform.pipeline import PipelineRun

pytestmark = pytest.mark.warehouse

# UTC, a summer weekday around midday; not on the hour, so that an hourly weather row straddles it.
CUTOFF = datetime(2013, 7, 15, 12, 30)
SEED = 20130715
WEATHER_VALUES = {
    "temp": (40.0, 100.0),
    "dewp": (20.0, 75.0),
    "humid": (10.0, 100.0),
    "wind_speed": (0.0, 40.0),
    "wind_gust": (16.0, 60.0),
    "precip": (0.0, 1.0),
    "pressure": (990.0, 1040.0),
    "visib": (0.0, 10.0),
}


def _hhmm_plus(hhmm: int, minutes: int) -> int:
    total = (hhmm // 100 * 60 + hhmm % 100 + minutes) % 1440
    return total // 60 * 100 + total % 60


Instants = tuple[datetime, datetime | None, datetime | None, datetime]


def _known_at_cutoff(warehouse: Path) -> dict[tuple[str, int], Instants]:
    """(file, line) -> scheduled departure, actual departure, actual arrival and scheduled arrival
    (UTC)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select source_file, source_line, scheduled_departure_utc, actual_departure_utc, "
            "actual_arrival_utc, scheduled_arrival_utc from fct_flights"
        ).fetchall()
    return {
        (file, line): (scheduled, departed, arrived, scheduled_arrival)
        for file, line, scheduled, departed, arrived, scheduled_arrival in rows
    }


def _rewrite_flights(
    raw: Path,
    instants: dict[tuple[str, int], Instants],
    rng: random.Random,
) -> int:
    """Randomize every departure and arrival not known at the cut-off, keeping each row valid."""
    changed = 0
    for path in sorted(raw.glob("flights/*/*.csv.gz")):
        relative = str(path.relative_to(raw))
        with gzip.open(path, "rt") as handle:
            header, *lines = handle.read().splitlines()
        at = {name: i for i, name in enumerate(header.split(","))}
        rewritten = [header]
        for number, line in enumerate(lines, start=2):
            fields = line.split(",")
            scheduled, departed, arrived, scheduled_arrival = instants[(relative, number)]
            departure_known = departed is not None and departed < CUTOFF
            arrival_known = arrived is not None and arrived < CUTOFF
            # A flight still on the ground at C departs at a random time after C, or never. (Older
            # flights that never left stay cancelled: keeping what is known is always allowed.)
            if not departure_known and scheduled > CUTOFF - timedelta(hours=6):
                changed += 1
                earliest = max(-10, int((CUTOFF - scheduled).total_seconds() // 60) + 1)
                if rng.random() < 0.1:
                    for name in ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"):
                        fields[at[name]] = "NA"
                else:
                    delay = max(earliest, rng.randint(-10, 240))
                    fields[at["dep_delay"]] = str(delay)
                    fields[at["dep_time"]] = str(_hhmm_plus(int(fields[at["sched_dep_time"]]), delay))
                    arrival_known = False
            # A flight that left before C and was due more than 4 hours before C without landing
            # (diverted) is known at C not to have arrived: it keeps its missing arrival.
            due_long_before = departure_known and scheduled_arrival + timedelta(hours=4) < CUTOFF
            if not arrival_known and not due_long_before and fields[at["dep_delay"]] != "NA":
                # An arrival not made by C lands after C (staging puts the arrival clock at the
                # first instant after the departure: a departure rewritten to after C lands after C).
                earliest = -30
                if departure_known:
                    earliest = max(earliest, int((CUTOFF - scheduled_arrival).total_seconds() // 60) + 1)
                arrival_delay = max(earliest, rng.randint(-30, 240))
                fields[at["arr_delay"]] = str(arrival_delay)
                fields[at["arr_time"]] = str(_hhmm_plus(int(fields[at["sched_arr_time"]]), arrival_delay))
                fields[at["air_time"]] = str(rng.randint(20, 600))
            rewritten.append(",".join(fields))
        path.write_bytes(gzip.compress(("\n".join(rewritten) + "\n").encode(), mtime=0))
    return changed


def _rewrite_weather(raw: Path, rng: random.Random) -> int:
    """Randomize every observation not known at the cut-off (hour H is known from H + 1 hour)."""
    changed = 0
    for path in sorted(raw.glob("weather/*/*.jsonl")):
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            hour = datetime.strptime(record["time_hour"], "%Y-%m-%dT%H:%M:%SZ")
            if hour + timedelta(hours=1) > CUTOFF:
                changed += 1
                for name, (low, high) in WEATHER_VALUES.items():
                    if record[name] != "NA":
                        record[name] = round(rng.uniform(low, high), 2)
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return changed


@pytest.fixture(scope="module")
def rewritten_warehouse(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("leakage")
    raw = shutil.copytree(paths().raw, root / "raw")
    rng = random.Random(SEED)
    assert _rewrite_flights(raw, _known_at_cutoff(built_warehouse), rng) > 10_000
    assert _rewrite_weather(raw, rng) > 1_000
    run_dbt(
        [
            "build",
            "--select",
            "+fct_flights",
            "+dim_planes",
            "+dim_dates",
            "+stg_nycflights__weather",
            # The rewritten data is not meant to pass the data tests, only to build.
            "--exclude",
            "resource_type:test",
            "resource_type:unit_test",
        ],
        project_dir=paths().dbt_project,
        warehouse=root / "warehouse.duckdb",
        raw_dir=raw,
        lake_dir=root / "lake",
        target_dir=root / "target",
    )
    return root / "warehouse.duckdb"


def _features(
    warehouse: Path, weather_lag_minutes: int = 60, scheduled_between: tuple[datetime, datetime] | None = None
) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return build_features(
            connection, weather_lag_minutes=weather_lag_minutes, scheduled_between=scheduled_between
        )


def _split_at_cutoff(original: pl.DataFrame, rewritten: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(decided before C, decided after C), each with both versions of every feature."""
    assert original.height == rewritten.height
    assert original["flight_id"].equals(rewritten["flight_id"])
    columns = list(FEATURES.all)
    pair = original.select("flight_id", "decision_at_utc", *columns).join(
        rewritten.select("flight_id", *columns), on="flight_id", suffix="__rewritten"
    )
    return pair.filter(pl.col("decision_at_utc") < CUTOFF), pair.filter(pl.col("decision_at_utc") >= CUTOFF)


def _changed(pair: pl.DataFrame) -> dict[str, int]:
    """Per feature, how many flights have a different value (NULLs compare equal)."""
    counts = pair.select(
        pl.col(c).ne_missing(pl.col(f"{c}__rewritten")).sum().alias(c) for c in FEATURES.all
    ).row(0, named=True)
    return {name: count for name, count in counts.items() if count}


def test_rewriting_the_unknown_future_changes_no_feature_decided_before_it(
    pipeline_run: PipelineRun, rewritten_warehouse: Path
) -> None:
    # the session's run built the original features at the default horizon and weather lag
    assert 120 in pipeline_run.features
    before, after = _split_at_cutoff(pipeline_run.features[120], _features(rewritten_warehouse))
    assert before.height > 150_000
    assert _changed(before) == {}
    # Power: the rewrite reaches the features of later flights, group by group.
    changed_after = _changed(after.filter(pl.col("decision_at_utc") < CUTOFF + timedelta(days=1)))
    for group in ("live", "history", "weather"):
        assert set(getattr(FEATURES, group)) & set(changed_after), f"no {group} feature changed after C"


def test_the_check_catches_weather_used_at_its_own_hour(
    built_warehouse: Path, rewritten_warehouse: Path
) -> None:
    """Negative control: weather labelled hour H used from H (not H + 1) must fail the check, on
    the flights of the two days before C (a build of some flights gives them the same features
    as the build of all: tests/model/test_feature_build.py)."""
    days = (CUTOFF - timedelta(days=2), CUTOFF + timedelta(hours=2))
    before, _ = _split_at_cutoff(
        _features(built_warehouse, weather_lag_minutes=0, scheduled_between=days),
        _features(rewritten_warehouse, weather_lag_minutes=0, scheduled_between=days),
    )
    assert before.height > 1000
    assert set(_changed(before)) & set(FEATURES.weather)


def test_a_missing_tail_number_does_not_show_in_the_aircraft_features(
    pipeline_run: PipelineRun, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """Every flight without a tail number is cancelled (an outcome the record lost, not a schedule
    known at T): its aircraft features must be ones that flights with a tail number of the same
    carrier also have, or the model learns "no tail, cancelled". The few left are flight numbers
    never flown before, with no stand-in aircraft."""
    assert 120 in pipeline_run.features
    tails = warehouse.sql("select flight_id, tail_number is null as is_tail_missing from fct_flights").pl()
    frame = pipeline_run.features[120].join(tails, on="flight_id")
    assert frame.filter("is_tail_missing")["is_cancelled"].all()
    columns = ["carrier", "manufacturer", *FEATURES.aircraft]
    with_tail = frame.filter(~pl.col("is_tail_missing")).select(columns).unique()
    without_tail = frame.filter("is_tail_missing").select(["flight_id", *columns])
    shown = without_tail.join(with_tail, on=columns, how="anti", nulls_equal=True)
    assert without_tail.height > 2000
    assert shown.height <= 0.01 * without_tail.height, shown
