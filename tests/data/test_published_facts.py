"""The warehouse preserves what the nycflights13 publication says (tests on the real build)."""

import duckdb
import pytest

pytestmark = pytest.mark.warehouse


def test_every_scheduled_flight_is_in_fct_flights(warehouse: duckdb.DuckDBPyConnection) -> None:
    total, cancelled, ids = warehouse.execute(
        "select count(*), count(*) filter (where is_cancelled), count(distinct flight_id) from fct_flights"
    ).fetchall()[0]
    assert (total, cancelled, ids) == (336_776, 8_255, 336_776)


def test_published_facts_hold(warehouse: duckdb.DuckDBPyConnection) -> None:
    ua, iah, mean_arr, mean_dep = warehouse.execute(
        """
        select
            count(*) filter (where carrier_code = 'UA'),
            count(*) filter (where dest_airport_code = 'IAH'),
            avg(arr_delay_minutes),
            avg(dep_delay_minutes)
        from fct_flights
        """
    ).fetchall()[0]
    assert (ua, iah) == (58_665, 7_198)
    assert mean_arr == pytest.approx(6.8954, abs=5e-5)
    assert mean_dep == pytest.approx(12.6391, abs=5e-5)


def test_known_defects_are_kept_visible(warehouse: duckdb.DuckDBPyConnection) -> None:
    unknown_planes, unknown_plane_flights = warehouse.execute(
        """
        select
            (select count(*) from dim_planes where is_missing_from_registry),
            (select count(*) from fct_flights where is_plane_missing_from_registry)
        """
    ).fetchall()[0]
    assert (unknown_planes, unknown_plane_flights) == (721, 50_094)
    caribbean = warehouse.execute(
        """
        select list(distinct f.dest_airport_code order by f.dest_airport_code), count(*)
        from fct_flights as f
        join dim_airports as a on f.dest_airport_code = a.airport_code
        where a.is_missing_from_registry
        """
    ).fetchall()[0]
    assert caribbean == (["BQN", "PSE", "SJU", "STT"], 7_602)
    wind = warehouse.execute(
        """
        select wind_speed_mph, is_wind_speed_mph_out_of_range
        from stg_nycflights__weather
        where airport_code = 'EWR' and observed_hour_utc = timestamp '2013-02-12 08:00:00'
        """
    ).fetchall()
    assert wind == [(None, True)]


def test_each_hour_of_the_dst_repeat_is_kept(warehouse: duckdb.DuckDBPyConnection) -> None:
    repeated = warehouse.execute(
        """
        select airport_code, count(*)
        from stg_nycflights__weather
        where observed_hour_local = timestamp '2013-11-03 01:00:00'
        group by airport_code order by airport_code
        """
    ).fetchall()
    assert repeated == [("EWR", 2), ("JFK", 2), ("LGA", 2)]


def test_bundled_data_has_nothing_in_quarantine(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert warehouse.execute("select count(*) from quarantine.rejected_rows").fetchall() == [(0,)]
