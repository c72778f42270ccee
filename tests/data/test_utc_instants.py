"""Every flight's instants, recomputed here independently of the SQL (Python's zoneinfo over the
raw files), must equal the warehouse's: the oracle for the clock-time and time-zone logic."""

import csv
import gzip
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from lakehouse.config import paths

pytestmark = pytest.mark.warehouse

# The four destinations the airports extract lacks (also in the dbt seed; both say the same).
SUPPLEMENTED_ZONES = {
    "BQN": "America/Puerto_Rico",
    "PSE": "America/Puerto_Rico",
    "SJU": "America/Puerto_Rico",
    "STT": "America/St_Thomas",
}


def _zones(raw: Path) -> dict[str, ZoneInfo]:
    with open(raw / "airports" / "airports.csv", newline="") as handle:
        zones = {row["faa"]: row["tzone"] for row in csv.DictReader(handle) if row["tzone"] != "NA"}
    return {code: ZoneInfo(name) for code, name in {**zones, **SUPPLEMENTED_ZONES}.items()}


def _clock(day: date, hhmm: int, zone: ZoneInfo, fold: int = 0) -> datetime:
    local = datetime(day.year, day.month, day.day, tzinfo=zone, fold=fold) + timedelta(
        hours=hhmm // 100, minutes=hhmm % 100
    )
    # Adding a timedelta keeps the wall clock; rebuild with the fold at the final wall time.
    return local.replace(fold=fold).astimezone(UTC)


def _next_clock(after: datetime, hhmm: int, zone: ZoneInfo) -> datetime:
    """First instant at or after `after` when the clock in `zone` reads hhmm."""
    day = after.astimezone(zone).date()
    for candidate_day in (day, day + timedelta(days=1)):
        for fold in (0, 1):
            instant = _clock(candidate_day, hhmm, zone, fold)
            if instant >= after:
                return instant
    raise AssertionError(f"no clock time {hhmm} within a day after {after}")


def _naive_utc(instant: datetime | None) -> datetime | None:
    return instant.astimezone(UTC).replace(tzinfo=None) if instant else None


def expected_instants(raw: Path) -> dict[tuple[str, int, str, datetime], tuple[datetime | None, ...]]:
    zones = _zones(raw)
    expected = {}
    for path in sorted(raw.glob("flights/*/flights_*.csv.gz")):
        with gzip.open(path, "rt", newline="") as handle:
            for row in csv.DictReader(handle):
                day = date(int(row["year"]), int(row["month"]), int(row["day"]))
                origin, dest = zones[row["origin"]], zones[row["dest"]]
                time_hour = datetime.fromisoformat(row["time_hour"].replace("Z", "+00:00"))
                sched_dep = _clock(day, int(row["sched_dep_time"]), origin, 0)
                if sched_dep.replace(minute=0) != time_hour:
                    sched_dep = _clock(day, int(row["sched_dep_time"]), origin, 1)
                sched_arr = _next_clock(sched_dep, int(row["sched_arr_time"]), dest)
                actual_dep = actual_arr = None
                if row["dep_delay"] != "NA":
                    actual_dep = sched_dep + timedelta(minutes=int(row["dep_delay"]))
                    if row["arr_time"] != "NA":
                        actual_arr = _next_clock(actual_dep, int(row["arr_time"]), dest)
                local = datetime(day.year, day.month, day.day) + timedelta(
                    hours=int(row["sched_dep_time"]) // 100, minutes=int(row["sched_dep_time"]) % 100
                )
                key = (row["carrier"], int(row["flight"]), row["origin"], local)
                expected[key] = tuple(map(_naive_utc, (sched_dep, actual_dep, sched_arr, actual_arr)))
    return expected


def test_utc_instants_are_right_for_every_flight(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = expected_instants(paths().raw)
    actual = {
        (carrier, flight, origin, local): rest
        for carrier, flight, origin, local, *rest in warehouse.execute(
            """
            select carrier_code, flight_number, origin_airport_code, scheduled_departure_local,
                scheduled_departure_utc, actual_departure_utc, scheduled_arrival_utc, actual_arrival_utc
            from fct_flights
            """
        ).fetchall()
    }
    assert len(expected) == len(actual) == 336_776
    wrong = [
        (key, expected[key], tuple(actual.get(key, ())))
        for key in expected
        if tuple(actual.get(key, ())) != expected[key]
    ]
    assert not wrong, f"{len(wrong)} flights differ, first: {wrong[:3]}"
