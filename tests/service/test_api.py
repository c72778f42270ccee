"""The scoring API through a real server on loopback (`lakehouse serve` in a child process), on a
copy of the session's published data folder: parity with the batch scores, new schedules, bad
input, the API key, a publish while requests are in flight, and a fuzz from its OpenAPI."""

from __future__ import annotations

import dataclasses
import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lakehouse.config import paths
from lakehouse.platform.pipeline import PipelineRun
from lakehouse.platform.publish import republish
from lakehouse.serving.log import load_served_into, served_versions
from tests.service.server import KEY, Server, copy_published, free_port, start_server

pytestmark = pytest.mark.warehouse

UA1545 = {
    "carrier": "UA",
    "flight_number": 1545,
    "origin": "EWR",
    "dest": "IAH",
    "scheduled_departure": "2013-01-01T05:15:00-05:00",
    "scheduled_arrival": "2013-01-01T08:19:00-06:00",
    "tailnum": "N14228",
}


@pytest.fixture(scope="module")
def server(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = copy_published(pipeline_run, tmp_path_factory.mktemp("served"))
    running = start_server(data, free_port())
    yield running
    running.stop()


def _published(data: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str((data / "warehouse.duckdb").resolve()), read_only=True)


def test_health_and_models_name_the_champions_of_every_horizon(server: Server) -> None:
    status, models = server.call("GET", "/models")
    assert status == 200
    horizons = {(c["task"], c["horizon_minutes"]) for c in models["champions"]}
    assert {("classification", h) for h in models["horizons_minutes"]} <= horizons
    assert models["default_horizon_minutes"] == max(models["horizons_minutes"]) == 120
    status, health = server.call("GET", "/health", headers={"X-API-Key": ""})
    assert status == 200
    assert sorted(health["models"]) == sorted(c["model_id"] for c in models["champions"])


def test_known_flights_get_the_batch_score_of_the_same_model(server: Server) -> None:
    with _published(server.data) as connection:
        rows = connection.execute(
            """
            select p.model_id, p.horizon_minutes, p.score, r.score as delay, f.carrier_code, f.flight_number,
                f.origin_airport_code, f.dest_airport_code, f.tail_number, f.scheduled_departure_utc,
                f.scheduled_arrival_utc, f.flight_id
            from fct_flight_predictions as p
            join fct_flights as f using (flight_id)
            join fct_flight_predictions as r
                on r.flight_id = p.flight_id
                and r.task = 'regression'
                and r.horizon_minutes = p.horizon_minutes
                and r.model_id in (select model_id from ml.model_registry where is_champion)
            where p.task = 'classification'
                and p.model_id in (select model_id from ml.model_registry where is_champion)
            using sample 150 rows (reservoir, 7)
            """
        ).fetchall()
    flights = [
        {
            "carrier": carrier,
            "flight_number": number,
            "origin": origin,
            "dest": dest,
            "tailnum": tail,
            "scheduled_departure": f"{departure.isoformat()}Z",
            "scheduled_arrival": f"{arrival.isoformat()}Z",
            "horizon_minutes": horizon,
        }
        for _, horizon, _, _, carrier, number, origin, dest, tail, departure, arrival, _ in rows
    ]
    status, body = server.call("POST", "/predict/batch", {"flights": flights})
    assert status == 200, body
    for row, answer in zip(rows, body["predictions"], strict=True):
        model_id, horizon, score, delay, *_, flight_id = row
        assert answer["flight_id"] == flight_id
        assert answer["models"]["classification"] == model_id
        assert answer["horizon_minutes"] == horizon
        assert answer["probability_late"] == pytest.approx(score, abs=1e-9)
        assert answer["expected_arrival_delay_minutes"] == pytest.approx(delay, abs=1e-9)
    status, one = server.call("GET", f"/flights/{rows[0][-1]}/prediction?horizon_minutes={rows[0][1]}")
    assert status == 200
    assert one["probability_late"] == pytest.approx(rows[0][2], abs=1e-9)


def test_a_schedule_the_warehouse_does_not_know_is_scored_with_the_fallbacks(server: Server) -> None:
    unknown = {
        **UA1545,
        "carrier": "ZZ",
        "flight_number": 9999,
        "dest": "QQQ",
        "tailnum": "N00000",
        "explain": True,
    }
    status, body = server.call("POST", "/predict", unknown)
    assert status == 200, body
    assert body["flight_id"] is None
    assert 0 < body["probability_late"] < 1
    assert body["features"]["is_plane_unknown"] == 1.0
    assert body["features"]["route_flights_known"] == 0.0
    status, without_tail = server.call("POST", "/predict", {**UA1545, "tailnum": None, "flight_number": 1546})
    assert status == 200, without_tail
    # one new schedule twice in a batch would count twice in its hour: refused, naming the second
    status, twice = server.call("POST", "/predict/batch", {"flights": [unknown, UA1545, unknown]})
    assert status == 422, twice
    assert twice["detail"][0]["loc"] == ["body", "flights", 2]
    assert "flights[0]" in twice["detail"][0]["msg"]
    # a known flight twice is answered twice, alike; without its tail, as with it
    status, known = server.call(
        "POST", "/predict/batch", {"flights": [UA1545, UA1545, {**UA1545, "tailnum": None}]}
    )
    assert status == 200, known
    assert known["predictions"][0] == known["predictions"][1] == known["predictions"][2]
    status, changed = server.call("POST", "/predict/batch", {"flights": [UA1545, {**UA1545, "dest": "LAX"}]})
    assert status == 422, changed
    assert changed["detail"][0]["loc"] == ["body", "flights", 1, "dest"]
    assert "IAH, not LAX" in changed["detail"][0]["msg"]


BAD = [
    ({**UA1545, "carrier": "U"}, ["body", "carrier"]),
    ({**UA1545, "origin": "ewr"}, ["body", "origin"]),
    ({**UA1545, "flight_number": 10000}, ["body", "flight_number"]),
    ({**UA1545, "flight_number": "1545"}, ["body", "flight_number"]),
    ({**UA1545, "scheduled_departure": "2013-01-01T05:15:00"}, ["body", "scheduled_departure"]),
    ({**UA1545, "scheduled_departure": "yesterday"}, ["body", "scheduled_departure"]),
    ({**UA1545, "scheduled_arrival": "2013-01-01T04:00:00-05:00"}, ["body"]),
    ({**UA1545, "horizon_minutes": 45}, ["body", "horizon_minutes"]),
    # a schedule is in whole minutes and lasts less than a day
    ({**UA1545, "scheduled_departure": "2013-01-01T05:15:00.000001-05:00"}, ["body"]),
    ({**UA1545, "scheduled_arrival": "2013-01-03T08:19:00-06:00"}, ["body"]),
    (
        {
            **UA1545,
            "scheduled_departure": "2090-01-01T05:15:00Z",
            "scheduled_arrival": "2090-01-01T08:19:00Z",
        },
        ["body", "scheduled_departure"],
    ),
    ({**UA1545, "seats": 3}, ["body", "seats"]),
    ({**UA1545, "horizon_minutes": "120"}, ["body", "horizon_minutes"]),
    ({**UA1545, "horizon_minutes": True}, ["body", "horizon_minutes"]),
    ({**UA1545, "scheduled_departure": 1357035300}, ["body", "scheduled_departure"]),
    # at the ends of the calendar: beyond year 9999 or before year 1 in UTC
    ({**UA1545, "scheduled_departure": "9999-12-31T20:00:00-05:00"}, ["body", "scheduled_departure"]),
    ({**UA1545, "decision_at": "0001-01-01T00:00:00+01:00"}, ["body", "decision_at"]),
    ({k: v for k, v in UA1545.items() if k != "dest"}, ["body", "dest"]),
    # the known flight's key with another destination, arrival or aircraft: not answered as it
    ({**UA1545, "dest": "LAX"}, ["body", "dest"]),
    ({**UA1545, "scheduled_arrival": "2013-01-01T08:20:00-06:00"}, ["body", "scheduled_arrival"]),
    ({**UA1545, "tailnum": "N14229"}, ["body", "tailnum"]),
]


@pytest.mark.parametrize(("flight", "where"), BAD)
def test_bad_input_is_refused_naming_the_field(
    server: Server, flight: dict[str, Any], where: list[Any]
) -> None:
    status, body = server.call("POST", "/predict", flight)
    assert status == 422, body
    assert any(error["loc"][: len(where)] == where for error in body["detail"]), body


def test_too_many_flights_a_large_body_the_wrong_type_and_no_key_are_refused(server: Server) -> None:
    status, body = server.call("POST", "/predict/batch", {"flights": [UA1545] * 10_001})
    assert status == 422
    assert body["detail"][0]["loc"] == ["body", "flights"]
    assert server.call("POST", "/predict", raw=b"{" + b" " * (9 * 1024 * 1024) + b"}")[0] == 413
    assert (
        server.call("POST", "/predict", raw=b"carrier=UA", headers={"Content-Type": "text/plain"})[0] == 415
    )
    assert server.call("POST", "/predict", raw=b"{not json")[0] == 422
    assert server.call("POST", "/predict", UA1545, headers={"X-API-Key": "wrong"})[0] == 401
    assert server.call("GET", "/flights/no-such-flight/prediction")[0] == 404
    # a large body sent in chunks, without a length: refused as large, not as unreadable
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    chunks = (b"{" if i == 0 else b" " * 1024 * 1024 for i in range(10))
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    connection.request("POST", "/predict", chunks, headers, encode_chunked=True)
    assert connection.getresponse().status == 413
    connection.close()


def test_a_query_parameter_at_fault_is_named_in_the_query(server: Server) -> None:
    with duckdb.connect(str(server.data / "warehouse.duckdb"), read_only=True) as connection:
        (flight_id,) = connection.execute("select flight_id from fct_flights limit 1").fetchone() or ("",)
    status, body = server.call("GET", f"/flights/{flight_id}/prediction?horizon_minutes=45")
    assert status == 422, body
    assert body["detail"][0]["loc"] == ["query", "horizon_minutes"]


def test_bound_beyond_loopback_the_service_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lakehouse"), "serve", "--host", "0.0.0.0", "--port", "1"],
        env={**os.environ, "LAKEHOUSE_DATA_DIR": str(tmp_path), "LAKEHOUSE_API_KEY": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "LAKEHOUSE_API_KEY" in result.stdout


def test_every_answer_is_logged_and_loads_into_the_warehouse(server: Server, tmp_path: Path) -> None:
    assert server.call("POST", "/predict", UA1545)[0] == 200
    served = paths().served_predictions.name
    directory = server.data / "models" / served
    warehouse = tmp_path / "warehouse.duckdb"
    assert load_served_into(warehouse, directory) >= 1
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        models = {
            model
            for (model,) in connection.execute(
                "select distinct classification_model_id from ml.served_predictions "
                "where flight_id is not null"
            ).fetchall()
        }
    # the request named no horizon: the longest with a champion answered
    assert any(model.endswith("-classification-120") for model in models)
    # the versions that answered keep their batch scores in ml.predictions (`loaded_versions`)
    assert models <= served_versions(directory)
    assert any(model.endswith("-regression-120") for model in served_versions(directory))


def test_a_publish_while_requests_are_in_flight_fails_none_and_switches_models(server: Server) -> None:
    """The publish registers copies of the champions under new ids (a new champion, as a
    retrain would), switched in by one rename while a thread keeps asking."""
    p = dataclasses.replace(paths(), warehouse=server.data / "warehouse.duckdb", lake=server.data / "lake")
    statuses: list[int] = []
    seen: set[str] = set()
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            status, body = server.call("POST", "/predict", UA1545)
            statuses.append(status)
            if status == 200:
                seen.add(body["models"]["classification"])

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(1)

    def new_champions(warehouse: Path, _lake: Path) -> None:
        with duckdb.connect(str(warehouse)) as connection:
            connection.execute(
                """
                insert into ml.model_registry
                select * replace (model_id || '-again' as model_id, created_at + interval 1 day as created_at)
                from ml.model_registry where is_champion
                """
            )
            connection.execute("update ml.model_registry set is_champion = model_id like '%-again'")

    republish(p, new_champions)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not any(m.endswith("-again") for m in seen):
        time.sleep(0.5)
    stop.set()
    asker.join()
    assert statuses
    assert set(statuses) == {200}
    assert any(m.endswith("-again") for m in seen)


def test_the_openapi_holds_under_fuzzing(server: Server, tmp_path: Path) -> None:
    """No 5xx, every answer as documented (status, body, content type); data the schema allows
    but the API refuses on purpose (an arrival before the departure, a year far from the data)
    is left out of the checks."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"http://127.0.0.1:{server.port}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--header",
            f"X-API-Key: {KEY}",
            "--max-examples",
            "40",
            "--generation-deterministic",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its example cache
    )
    assert result.returncode == 0, result.stdout[-4000:]
