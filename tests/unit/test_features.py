"""The feature SQL on a hand-made warehouse whose right answers are known by hand."""

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from lakehouse.config import check_horizon
from lakehouse.models.features.build import build_features, write_features
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.features.sql import Scope, feature_sql, portable_feature_sql

DAY = datetime(2013, 1, 10)


def _at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


# (id, carrier, tail, origin, scheduled UTC, delay minutes or None when cancelled)
FLIGHTS = [
    ("F1", "UA", "N1", "EWR", _at(10), 5),
    ("F2", "UA", "N1", "EWR", _at(10, 30), 70),
    ("F3", "AA", "N2", "EWR", _at(12, 30), 0),
    ("F4", "UA", "N3", "JFK", _at(12, 45), None),
    ("F5", "UA", "N4", "EWR", _at(13), 2),
    ("F6", "UA", "N1", "EWR", _at(16), 0),
]
# Every flight is scheduled to take 2 hours and makes up 10 minutes of its departure delay en route.
BLOCK = timedelta(hours=2)
MADE_UP_MINUTES = 10


@pytest.fixture
def small_warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    rows = [
        {
            "flight_id": flight_id,
            "carrier_code": carrier,
            "flight_number": number,
            "tail_number": tail,
            "origin_airport_code": origin,
            "dest_airport_code": "ORD",
            "distance_miles": 719,
            "scheduled_departure_date": DAY.date(),
            "scheduled_departure_utc": scheduled,
            "scheduled_departure_local": scheduled - timedelta(hours=5),
            "scheduled_arrival_utc": scheduled + BLOCK,
            "actual_departure_utc": None if delay is None else scheduled + timedelta(minutes=delay),
            "actual_arrival_utc": (
                None if delay is None else scheduled + BLOCK + timedelta(minutes=delay - MADE_UP_MINUTES)
            ),
            "dep_delay_minutes": delay,
            "arr_delay_minutes": None if delay is None else delay - MADE_UP_MINUTES,
            "is_cancelled": delay is None,
            "is_diverted": False,
        }
        for number, (flight_id, carrier, tail, origin, scheduled, delay) in enumerate(FLIGHTS, start=1)
    ]
    flights = pl.DataFrame(rows)  # noqa: F841 (read by DuckDB below)
    weather = pl.DataFrame(  # noqa: F841
        {
            "airport_code": ["EWR", "EWR", "EWR"],
            "observed_hour_utc": [_at(8), _at(9), _at(10)],
            "temperature_f": [50.0, 60.0, 70.0],
            "dew_point_f": [40.0, 40.0, 40.0],
            "relative_humidity_pct": [50.0, 50.0, 50.0],
            "wind_speed_mph": [5.0, 5.0, 5.0],
            "wind_gust_mph": [None, None, None],
            "precipitation_in": [0.0, 0.1, 0.2],
            "pressure_mb": [1010.0, 1012.0, 1014.0],
            "visibility_mi": [10.0, 10.0, 10.0],
            "has_out_of_range_reading": [False, False, False],
        }
    )
    connection.execute("create table fct_flights as select * from flights")
    connection.execute("create table stg_nycflights__weather as select * from weather")
    connection.execute(
        "create table dim_planes as select tail_number, 'BOEING' as manufacturer, 2000 as year_manufactured, "
        "150 as seat_count, 2 as engine_count, false as is_missing_from_registry from flights"
    )
    connection.execute(
        "create table dim_dates as select date '2013-01-10' as date_day, false as is_holiday, "
        "10 as days_to_nearest_holiday"
    )
    return connection


def _row(frame: pl.DataFrame, flight_id: str) -> dict[str, object]:
    return frame.filter(pl.col("flight_id") == flight_id).row(0, named=True)


def test_live_state_counts_only_what_happened_before_the_decision_time(
    small_warehouse: duckdb.DuckDBPyConnection,
) -> None:
    features = build_features(small_warehouse, horizon_minutes=120)
    f3 = _row(features, "F3")  # T = 10:30: F1 left at 10:05, F2 (10:30) is not yet due
    assert f3["decision_at_utc"] == _at(10, 30)
    assert (f3["origin_departures_60m"], f3["origin_mean_delay_60m"]) == (1, 5.0)
    assert (f3["origin_waiting"], f3["origin_overdue"]) == (0, 0)
    f5 = _row(features, "F5")  # T = 11:00: F2 is 30 minutes overdue, F4 (JFK, 12:45) not due
    assert (f5["origin_waiting"], f5["origin_overdue"], f5["nyc_waiting"]) == (1, 1, 1)
    # F2's label (late) is settled 16 minutes after its schedule (10:46), before F5's T.
    assert (f5["carrier_flights_known"], f5["carrier_delay_rate"]) == (2, 0.5)
    assert (f3["carrier_flights_known"], f3["carrier_delay_rate"]) == (0, None)


def test_weather_is_used_from_one_hour_after_its_label(small_warehouse: duckdb.DuckDBPyConnection) -> None:
    f3 = _row(build_features(small_warehouse, horizon_minutes=120), "F3")  # T = 10:30
    assert (f3["temperature_f"], f3["weather_age_minutes"]) == (60.0, 30)
    assert f3["pressure_change_3h"] is None  # nothing known 3 hours before
    leaky = _row(build_features(small_warehouse, horizon_minutes=120, weather_lag_minutes=0), "F3")
    assert leaky["temperature_f"] == 70.0


def test_the_aircraft_previous_leg_is_known_only_once_it_left(
    small_warehouse: duckdb.DuckDBPyConnection,
) -> None:
    at_two_hours = _row(build_features(small_warehouse, horizon_minutes=120), "F2")  # T = 08:30
    assert (at_two_hours["earlier_legs_today"], at_two_hours["minutes_since_previous_leg"]) == (1, 30)
    assert at_two_hours["previous_leg_dep_delay_minutes"] is None
    at_ten_minutes = _row(build_features(small_warehouse, horizon_minutes=10), "F2")  # T = 10:20
    assert at_ten_minutes["previous_leg_dep_delay_minutes"] == 5


def test_the_aircraft_previous_leg_arrival_is_known_only_once_it_landed(
    small_warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """F6 (16:00) follows F2 on N1: F2 scheduled 10:30, left 11:40, landed 13:30 (60 minutes late);
    the aircraft is expected back one block (2 hours) after landing, two blocks after leaving."""

    def f6(horizon: int) -> tuple[object, object]:
        row = _row(build_features(small_warehouse, horizon_minutes=horizon), "F6")
        return row["previous_leg_arr_delay_minutes"], row["aircraft_return_slack_minutes"]

    assert f6(120) == (60, 30)  # T = 14:00: landed; back at 15:30
    assert f6(180) == (None, 20)  # T = 13:00: in the air; back at 11:40 + 4 hours
    assert f6(300) == (None, 60)  # T = 11:00: not gone yet; back at T + 4 hours at the earliest


def test_labels_and_every_declared_feature_are_present(small_warehouse: duckdb.DuckDBPyConnection) -> None:
    features = build_features(small_warehouse)
    assert set(FEATURES.all) <= set(features.columns)
    assert _row(features, "F4")["is_delayed"] is True  # cancelled counts as delayed
    assert _row(features, "F4")["is_delayed_departed"] is None
    assert _row(features, "F2")["is_delayed"] is True
    assert _row(features, "F1")["is_delayed"] is False


@pytest.mark.parametrize("horizon", [0, -30, 7 * 24 * 60 + 1, 1.5, "120", True])
def test_a_horizon_that_is_not_minutes_before_departure_is_refused(horizon: object) -> None:
    """T must come before the scheduled departure: at or after it, the flight's own departure (or
    its being late) is known."""
    with pytest.raises(ValueError, match="the horizon must be"):
        feature_sql(horizon, Scope())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the horizon must be"):
        portable_feature_sql(horizon)  # type: ignore[arg-type]


def test_a_horizon_of_any_integer_type_is_minutes() -> None:
    minutes = check_horizon(np.int64(30))  # type: ignore[arg-type]
    assert minutes == 30
    assert type(minutes) is int
    assert feature_sql(np.int64(30), Scope()) == feature_sql(30, Scope())  # type: ignore[arg-type]


def _insert_cancelled_copy(
    con: duckdb.DuckDBPyConnection, flight_id: str, days_later: int, flight_number: int | None = None
) -> None:
    """F2's flight (or another flight number) `days_later`, cancelled: no tail number, no outcome."""
    con.execute(
        """insert into fct_flights
        select * replace (
            $flight_id as flight_id,
            coalesce($flight_number, flight_number) as flight_number,
            null as tail_number,
            scheduled_departure_date + $days as scheduled_departure_date,
            scheduled_departure_utc + to_days($days) as scheduled_departure_utc,
            scheduled_departure_local + to_days($days) as scheduled_departure_local,
            scheduled_arrival_utc + to_days($days) as scheduled_arrival_utc,
            null as actual_departure_utc,
            null as actual_arrival_utc,
            null as dep_delay_minutes,
            null as arr_delay_minutes,
            true as is_cancelled
        )
        from fct_flights
        where flight_id = 'F2'""",
        {"flight_id": flight_id, "flight_number": flight_number, "days": days_later},
    )


def test_a_flight_without_a_tail_number_takes_its_flight_numbers_last_aircraft_on_a_first_leg(
    small_warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """Only cancelled flights lose their tail number, so a missing tail must not show in the
    features: F7 repeats F2's flight the next day, cancelled without a tail, and looks exactly like
    the first leg of N1 (F2's aircraft); F8, a flight number never flown before, gets an unknown
    aircraft."""
    _insert_cancelled_copy(small_warehouse, "F7", days_later=1)
    _insert_cancelled_copy(small_warehouse, "F8", days_later=1, flight_number=99)
    features = build_features(small_warehouse)
    aircraft = ["manufacturer", *FEATURES.aircraft]
    f7, f1 = _row(features, "F7"), _row(features, "F1")
    assert {c: f7[c] for c in aircraft} == {c: f1[c] for c in aircraft}
    assert (f7["is_plane_unknown"], f7["seat_count"], f7["earlier_legs_today"]) == (False, 150, 0)
    f8 = _row(features, "F8")
    assert (f8["is_plane_unknown"], f8["seat_count"], f8["earlier_legs_today"]) == (True, None, 0)


def test_the_month_by_month_build_carries_what_lies_before_a_months_look_back(
    small_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """F9 repeats F2's flight 60 days later, cancelled without a tail number: the flight number
    last flew, and the weather was last observed, before March's 28-day look-back. Built month by
    month, F9 still gets F2's aircraft as a stand-in, the January reading and F2's outcome, as in
    the one-pass build."""
    _insert_cancelled_copy(small_warehouse, "F9", days_later=60)
    whole = build_features(small_warehouse)
    files = write_features(small_warehouse, tmp_path / "features")
    assert len(files) == 3  # January to March
    assert pl.concat([pl.read_parquet(f) for f in files]).equals(whole)
    f9, f1 = _row(whole, "F9"), _row(whole, "F1")
    aircraft = ["manufacturer", *FEATURES.aircraft]
    assert {c: f9[c] for c in aircraft} == {c: f1[c] for c in aircraft}
    assert f9["temperature_f"] == 70.0
    # T = 08:30 sixty days on; the 10:00 reading is known from 11:00 on January 10
    assert f9["weather_age_minutes"] == (_at(8, 30) + timedelta(days=60) - _at(11)).total_seconds() // 60
    assert (f9["flight_number_flights_known"], f9["flight_number_delay_rate"]) == (1, 1.0)
