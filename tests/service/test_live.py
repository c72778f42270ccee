"""The live feed through a real server and the real `lakehouse replay`: parity of every pushed
score with the batch score of the same flight and model, exactly one score per flight and
horizon, bad events in a batch, redelivery, /predict as of the feed's clock, a feed that cannot
start, the server killed mid-replay, a burst of 10,000 events, and the board in headless Chromium.

The tests run in order on one feed (one module-scoped server), each going on from the clock the
previous one left."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import duckdb
import polars as pl
import pytest

from conftest import headless_chromium
from lakehouse.live.events import event_rows, feed_order
from lakehouse.platform.pipeline import PipelineRun
from tests.service.server import (
    KEY,
    LAKEHOUSE,
    Server,
    copy_published,
    free_port,
    server_environment,
    start_server,
)

pytestmark = pytest.mark.warehouse

START = datetime(2013, 12, 10, 11, 0, tzinfo=UTC)  # 06:00 in New York
NEW_YORK_WINTER = timezone(timedelta(hours=-5))


@pytest.fixture(scope="module")
def live(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = copy_published(pipeline_run, tmp_path_factory.mktemp("live"))
    running = start_server(data, free_port())
    yield running
    running.stop()


def _replay(server: Server, until: datetime, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            LAKEHOUSE,
            "replay",
            "--from",
            START.isoformat(),
            "--until",
            until.isoformat(),
            "--url",
            server.url,
            *options,
        ],
        env=server_environment(server.data),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def _warehouse(server: Server) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str((server.data / "warehouse.duckdb").resolve()), read_only=True)


def _pushed(server: Server) -> pl.DataFrame:
    rows = []
    for path in sorted((server.data / "models" / "served").glob("served-*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("source") == "feed":
                rows.append(row)
    return pl.DataFrame(rows)


def _check_exactly_once_and_parity(server: Server, until: datetime) -> int:
    """Every flight decided after START and by `until` at each champion horizon was pushed once,
    with the batch scores of the same models."""
    pushed = _pushed(server)
    assert pushed.select("flight_id", "horizon_minutes").is_duplicated().sum() == 0
    with _warehouse(server) as connection:
        connection.register("pushed", pushed)
        horizons = [
            h for (h,) in connection.execute("select distinct horizon_minutes from pushed").fetchall()
        ]
        for horizon in horizons:
            expected = {
                fid
                for (fid,) in connection.execute(
                    "select flight_id from fct_flights where scheduled_departure_utc - to_minutes(?) > ? "
                    "and scheduled_departure_utc - to_minutes(?) <= ?",
                    [horizon, START.replace(tzinfo=None), horizon, until.replace(tzinfo=None)],
                ).fetchall()
            }
            got = set(pushed.filter(pl.col("horizon_minutes") == horizon)["flight_id"].to_list())
            assert got == expected, (horizon, len(got), len(expected))
        differences = connection.execute(
            """
            select
                count(*),
                count(c.score),
                count(r.score),
                max(abs(p.probability_late - c.score)),
                max(abs(p.expected_arrival_delay_minutes - r.score))
            from pushed as p
            left join ml.predictions as c
                on c.flight_id = p.flight_id and c.model_id = p.classification_model_id
            left join ml.predictions as r
                on r.flight_id = p.flight_id and r.model_id = p.regression_model_id
            """
        ).fetchone()
    assert differences is not None
    total, classified, regressed, worst_p, worst_delay = differences
    assert total == classified == regressed > 0
    assert worst_p <= 1e-9
    assert worst_delay <= 1e-9
    return int(total)


def test_a_replayed_morning_pushes_every_decision_once_with_the_batch_scores(live: Server) -> None:
    until = START + timedelta(hours=3)
    output = _finish(_replay(live, until, "--speed", "0", "--batch-events", "60"))
    assert "0 rejected" in output
    assert "scores pushed" in output
    status, feed = live.call("GET", "/feed")
    assert status == 200
    assert feed["clock"] == "2013-12-10T14:00:00Z"
    assert feed["scored_until"] == feed["clock"]
    assert feed["events_rejected"] == 0
    assert _check_exactly_once_and_parity(live, until) == feed["pushed"]


def _events_after(server: Server, since: datetime, hours: float) -> list[dict[str, Any]]:
    with _warehouse(server) as connection:
        frames = event_rows(
            connection, since.replace(tzinfo=None), (since + timedelta(hours=hours)).replace(tzinfo=None)
        )
    return feed_order(frames)


def test_bad_events_are_refused_with_their_reason_and_lose_no_other(live: Server) -> None:
    _, feed = live.call("GET", "/feed")
    clock = datetime.fromisoformat(feed["clock"])
    journal = (live.data / "live" / feed["feed_id"] / "events.jsonl").read_text().splitlines()
    delivered = next(batch["events"][0] for batch in map(json.loads, reversed(journal)) if batch["events"])
    fresh = _events_after(live, clock, 0.5)
    # every event of the first instant after the clock: nothing of it is left for the replays after
    good = [e for e in fresh if e["known_at"] == fresh[0]["known_at"]]
    stale = {**fresh[len(good)], "known_at": "2013-12-10T12:00:00Z"}
    unknown = {
        **next(e for e in fresh if e["kind"] == "departure"),
        "id": "departure/nope",
        "flight_id": "nope",
    }
    conflicting = {**delivered, "known_at": feed["clock"]}
    batch = [
        "not an object",
        {"kind": "departure", "id": "x"},
        *good,
        stale,
        unknown,
        delivered,
        conflicting,
        good[0],
    ]
    where = {id(event): position for position, event in enumerate(batch)}
    status, receipt = live.call("POST", "/events", {"events": batch})
    assert status == 200, receipt
    assert receipt["accepted"] == len(good)
    assert receipt["ignored"] == 2
    reasons = {r["position"]: r["reason"] for r in receipt["rejected"]}
    kinds = {r["position"]: r["kind"] for r in receipt["rejected"]}
    refused = [0, 1, where[id(stale)], where[id(unknown)], where[id(conflicting)]]
    assert sorted(reasons) == refused
    assert [kinds[i] for i in refused] == [
        "malformed",
        "malformed",
        "out of order",
        "unknown flight",
        "conflicting redelivery",
    ]
    assert reasons[1].startswith("malformed: ")
    assert reasons[where[id(stale)]].startswith("out of order")
    assert reasons[where[id(unknown)]].startswith("unknown flight nope")
    assert "same id" in reasons[where[id(conflicting)]]
    rejected = live.data / "live" / feed["feed_id"] / "rejected.jsonl"
    recorded = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [(r["reason_kind"], r["reason"]) for r in recorded[-5:]] == [
        (kinds[i], reasons[i]) for i in refused
    ]
    # the same batch again: what was accepted is now ignored, the rest refused as before
    status, again = live.call("POST", "/events", {"events": batch})
    assert status == 200
    assert again["accepted"] == 0
    assert again["ignored"] == len(good) + 2
    assert [r["position"] for r in again["rejected"]] == refused


def test_events_that_contradict_themselves_or_the_clock_change_nothing(live: Server) -> None:
    _, before = live.call("GET", "/feed")
    fresh = _events_after(live, datetime.fromisoformat(before["clock"]), 1)
    departing = {e["flight_id"] for e in fresh if e["kind"] == "departure"}
    departure = next(e for e in fresh if e["kind"] == "departure")
    arrival = next(e for e in fresh if e["kind"] == "arrival" and e["flight_id"] not in departing)
    known_at = datetime.fromisoformat(departure["known_at"])
    schedule = {
        "kind": "schedule",
        "id": "schedule/probe-1",
        "known_at": departure["known_at"],
        "flight_id": "probe-1",
        "carrier": "UA",
        "flight_number": 1,
        "origin": "EWR",
        "dest": "IAH",
        "scheduled_departure": (known_at - timedelta(minutes=30)).astimezone(NEW_YORK_WINTER).isoformat(),
        "scheduled_arrival": (known_at + timedelta(hours=3)).isoformat(),
    }
    batch = [
        {**departure, "dep_delay_minutes": departure["dep_delay_minutes"] + 600},
        {**arrival, "arr_delay_minutes": arrival["arr_delay_minutes"] - 30},
        schedule,
        {**departure, "id": "departure/from-the-future", "known_at": "2031-12-10T18:00:00Z"},
        {**departure, "known_at": "9999-12-31T23:00:00-05:00"},
        {
            **schedule,
            "id": "schedule/probe-2",
            "flight_id": "probe-2",
            "scheduled_departure": "2099-01-10T10:00:00-05:00",
            "scheduled_arrival": "2099-01-10T13:00:00-05:00",
        },
        {
            **schedule,
            "id": "schedule/probe-3",
            "flight_id": "probe-3",
            "scheduled_departure": "2013-12-11T10:00:00.5-05:00",
        },
        {
            **schedule,
            "id": "schedule/probe-4",
            "flight_id": "probe-4",
            "scheduled_arrival": "2013-12-13T10:00:00Z",
        },
        {**schedule, "id": "schedule/probe-5", "flight_id": "probe-5", "flight_number": "1"},
    ]
    status, receipt = live.call("POST", "/events", {"events": batch})
    assert status == 200, receipt
    assert receipt["accepted"] == 0
    reasons = [(r["position"], r["kind"], r["reason"]) for r in receipt["rejected"]]
    assert [(position, kind) for position, kind, _ in reasons] == [
        (0, "contradicts what is known"),
        (1, "contradicts what is known"),
        (2, "contradicts what is known"),
        (3, "contradicts what is known"),
        (4, "malformed"),
        (5, "malformed"),
        (6, "malformed"),
        (7, "malformed"),
        (8, "malformed"),
    ]
    assert "dep_delay_minutes" in reasons[0][2]
    assert "arr_delay_minutes" in reasons[1][2]
    assert "not after it is known" in reasons[2][2]
    assert "not known yet" in reasons[3][2]
    assert "known_at" in reasons[4][2]
    assert "more than 366 days after it is known" in reasons[5][2]
    assert "scheduled_departure: a schedule is in whole minutes" in reasons[6][2]
    assert "more than 24 hours after scheduled_departure" in reasons[7][2]
    assert "flight_number" in reasons[8][2]
    # a clock in the future: the whole batch refused, naming the field
    status, body = live.call("POST", "/events", {"events": [], "clock": "2031-12-10T18:00:00Z"})
    assert status == 422, body
    assert body["detail"][0]["loc"] == ["body", "clock"]
    _, after = live.call("GET", "/feed")
    assert (after["clock"], after["events_accepted"]) == (before["clock"], before["events_accepted"])


def test_predict_answers_as_of_the_feed_clock_and_refuses_the_future(live: Server) -> None:
    _, feed = live.call("GET", "/feed")
    clock = datetime.fromisoformat(feed["clock"])
    shortest, longest = min(feed["horizons_minutes"]), max(feed["horizons_minutes"])
    with _warehouse(live) as connection:
        soon, later = (
            connection.execute(
                "select carrier_code, flight_number, origin_airport_code, dest_airport_code, "
                "scheduled_departure_utc, scheduled_arrival_utc, flight_id from fct_flights "
                "where scheduled_departure_utc > ? order by scheduled_departure_utc limit 1",
                [(clock + timedelta(minutes=minutes)).replace(tzinfo=None)],
            ).fetchone()
            for minutes in (shortest + 1, longest + 60)
        )

    def request(row: Any, **extra: Any) -> dict[str, Any]:
        return {
            "carrier": row[0],
            "flight_number": row[1],
            "origin": row[2],
            "dest": row[3],
            "scheduled_departure": row[4].replace(tzinfo=UTC).isoformat(),
            "scheduled_arrival": row[5].replace(tzinfo=UTC).isoformat(),
            **extra,
        }

    status, answer = live.call("POST", "/predict", request(soon))
    assert status == 200, answer
    assert answer["horizon_minutes"] > shortest  # the shortest horizon's decision is still ahead
    assert datetime.fromisoformat(answer["decision_at_utc"]) <= clock
    status, refused = live.call("POST", "/predict", request(later))
    assert status == 422
    assert "not known yet" in refused["detail"][0]["msg"]
    future = (clock + timedelta(hours=1)).isoformat()
    status, refused = live.call("POST", "/predict", request(soon, decision_at=future))
    assert status == 422
    assert refused["detail"][0]["loc"][-1] == "decision_at"
    # by id, without a horizon: as of the clock too
    status, by_id = live.call("GET", f"/flights/{soon[6]}/prediction")
    assert status == 200, by_id
    assert (by_id["horizon_minutes"], by_id["probability_late"]) == (
        answer["horizon_minutes"],
        answer["probability_late"],
    )
    status, refused = live.call("GET", f"/flights/{later[6]}/prediction")
    assert status == 422
    assert refused["detail"][0]["loc"] == ["query", "horizon_minutes"]
    assert "not known yet" in refused["detail"][0]["msg"]


def test_a_feed_that_cannot_start_leaves_the_running_one_going(live: Server) -> None:
    """The served version's warehouse unreadable (here: moved away): a new feed is refused with
    503, the running feed goes on, and no folder is left for the refused one."""
    _, running = live.call("GET", "/feed")
    feeds = sorted(path.name for path in (live.data / "live").iterdir())
    warehouse = (live.data / "warehouse.duckdb").resolve()
    moved = warehouse.with_name("moved.duckdb")
    warehouse.rename(moved)
    try:
        status, refused = live.call("POST", "/feed/start", {"from": "2013-12-01T11:00:00Z"})
    finally:
        moved.rename(warehouse)
    assert status == 503, refused
    assert "could not start" in refused["detail"]
    assert running["feed_id"] in refused["detail"]
    status, still = live.call("GET", "/feed")
    assert status == 200
    assert (still["feed_id"], still["clock"]) == (running["feed_id"], running["clock"])
    assert sorted(path.name for path in (live.data / "live").iterdir()) == feeds


def test_a_server_killed_mid_replay_resumes_without_a_lost_or_doubled_score(live: Server) -> None:
    until = START + timedelta(hours=6)
    replay = _replay(live, until, "--speed", "0", "--batch-events", "20")
    time.sleep(4)
    live.process.send_signal(signal.SIGKILL)
    live.process.wait(timeout=30)
    restarted = start_server(live.data, live.port)
    live.process = restarted.process
    output = _finish(replay)
    assert "0 rejected" in output, output
    _, feed = live.call("GET", "/feed")
    assert feed["clock"] == until.isoformat().replace("+00:00", "Z")
    _check_exactly_once_and_parity(live, until)


def _chromium_dom(url: str) -> str:
    return headless_chromium("--dump-dom", url, timeout=60)


def test_the_board_shows_the_clock_moving_and_known_late_flights_in_chromium(live: Server) -> None:
    import re

    board = f"{live.url}/board?key={KEY}"
    before = _chromium_dom(board)
    clock = re.search(r'id="clock">([^<]+)<', before)
    assert clock is not None
    replay = _replay(live, START + timedelta(hours=8), "--speed", "1800")
    seen = {clock.group(1)}
    while replay.poll() is None:
        now = re.search(r'id="clock">([^<]+)<', _chromium_dom(board))
        assert now is not None
        seen.add(now.group(1))
    _finish(replay)
    after = _chromium_dom(board)
    assert len(seen) >= 2  # the clock moved while the page was watched
    assert "Next departures" in after
    # a flight decided recently whose outcome is known late shows its probability beside it
    late_rows = re.findall(
        r"<tr><td>[^<]+</td><td>[^<]+</td><td>[A-Z]{3}</td><td class=\"num[^\"]*\">(\d+)%</td>"
        r"<td class=\"num\">\d+ min</td><td><span class=\"late\">late",
        after,
    )
    assert late_rows, after[:3000]
    assert re.search(r"ROC AUC", after)


def test_a_burst_of_ten_thousand_events_is_taken_in_one_batch(live: Server) -> None:
    _, feed = live.call("GET", "/feed")
    clock = datetime.fromisoformat(feed["clock"])
    events = _events_after(live, clock, 96)[:10_000]
    assert len(events) == 10_000
    status, receipt = live.call("POST", "/events", {"events": events})
    assert status == 200, receipt
    assert receipt["accepted"] == 10_000
    assert receipt["rejected"] == []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        _, feed = live.call("GET", "/feed")
        if feed["scored_until"] == feed["clock"]:
            break
        time.sleep(1)
    assert feed["error"] is None
    assert feed["scored_until"] == feed["clock"]
    _check_exactly_once_and_parity(live, datetime.fromisoformat(feed["clock"]))
    status, _too_many = live.call("POST", "/events", {"events": events + events[:1]})
    assert status == 422
