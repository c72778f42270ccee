"""The live feed's pure parts: how a replay cuts the stream into batches, and what an event must
carry."""

from __future__ import annotations

import socket
import struct
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from lakehouse.common.instants import schedule_problem
from lakehouse.live.events import EVENT, to_rows
from lakehouse.live.replay import Client, ReplayError, paced_batches, unpaced_batches


def _events(instants: list[str]) -> list[dict[str, str]]:
    return [{"known_at": f"2013-12-10T{at}Z", "id": str(i)} for i, at in enumerate(instants)]


def test_unpaced_batches_never_split_an_instant_and_the_last_declares_the_end() -> None:
    events = _events(["10:00:00", "10:00:00", "10:00:00", "10:01:00", "10:02:00", "10:02:00"])
    until = datetime(2013, 12, 10, 12)
    batches = list(unpaced_batches(events, until, batch_events=2))
    assert [[e["id"] for e in batch] for batch, _ in batches] == [["0", "1", "2"], ["3", "4", "5"]]
    assert [clock for _, clock in batches] == [datetime(2013, 12, 10, 10), until]


def test_paced_batches_cover_every_event_once_step_by_step() -> None:
    events = _events(["10:00:30", "10:01:00", "10:03:10"])
    batches = list(paced_batches(events, datetime(2013, 12, 10, 10), datetime(2013, 12, 10, 10, 4), 60))
    assert [[e["id"] for e in batch] for batch, _ in batches] == [["0", "1"], [], [], ["2"]]
    assert [clock.minute for _, clock in batches] == [1, 2, 3, 4]


def test_an_event_is_checked_field_by_field_and_becomes_store_rows() -> None:
    departure = {
        "kind": "departure",
        "id": "departure/f1",
        "known_at": "2013-12-10T11:20:00Z",
        "flight_id": "f1",
        "actual_departure": "2013-12-10T06:20:00-05:00",
        "dep_delay_minutes": 20,
    }
    rows = to_rows([EVENT.validate_python(departure)])
    assert rows["departure"].row(0) == ("f1", datetime(2013, 12, 10, 11, 20), 20)
    assert all(frame.is_empty() for kind, frame in rows.items() if kind != "departure")
    for broken in (
        {**departure, "kind": "landing"},
        {**departure, "actual_departure": "2013-12-10T06:20:00"},  # no offset
        {**departure, "dep_delay_minutes": "late"},
        {**departure, "extra": 1},
        {**departure, "known_at": "9999-12-31T23:00:00-05:00"},  # past year 9999 in UTC
        {**departure, "actual_departure": "1850-01-01T06:20:00-05:00"},
        {**departure, "flight_id": "f\u0000"},
    ):
        with pytest.raises(ValidationError):
            EVENT.validate_python(broken)
    weather = {
        "kind": "weather",
        "id": "weather/EWR/2013-12-10T10",
        "known_at": "2013-12-10T11:00:00Z",
        "airport": "EWR",
        "observed_hour": "2013-12-10T10:00:00Z",
        "temperature_f": 30.0,
    }
    assert to_rows([EVENT.validate_python(weather)])["weather"].height == 1
    for broken, field in (
        ({**weather, "observed_hour": "2013-12-10T09:59:59Z"}, "observed_hour"),
        ({**weather, "temperature_f": 1e300}, "temperature_f"),
        ({**weather, "wind_speed_mph": -50}, "wind_speed_mph"),
        ({**weather, "visibility_mi": float("nan")}, "visibility_mi"),
    ):
        with pytest.raises(ValidationError, match=field):
            EVENT.validate_python(broken)


NEW_YORK = timezone(timedelta(hours=-5))
LEAVES = datetime(2013, 12, 10, 6, 5, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("departure", "arrival", "problem"),
    [
        (LEAVES, LEAVES + timedelta(hours=3), None),
        (LEAVES, LEAVES + timedelta(hours=24), None),
        (LEAVES.replace(second=30), LEAVES + timedelta(hours=3), "scheduled_departure: a schedule is"),
        (LEAVES, LEAVES + timedelta(hours=3, microseconds=1), "scheduled_arrival: a schedule is in whole"),
        (LEAVES, LEAVES, "scheduled_arrival must be after"),
        (LEAVES, LEAVES + timedelta(hours=24, minutes=1), "scheduled_arrival is more than 24 hours after"),
        # the same instant in another offset is the same schedule
        (LEAVES, (LEAVES + timedelta(hours=3)).astimezone(UTC), None),
    ],
)
def test_a_schedule_is_in_whole_minutes_and_arrives_within_a_day(
    departure: datetime, arrival: datetime, problem: str | None
) -> None:
    found = schedule_problem(departure, arrival)
    assert (found is None) == (problem is None)
    assert problem is None or (found is not None and found.startswith(problem))


def test_a_replay_to_an_address_nothing_listens_on_gives_up_soon_saying_so() -> None:
    """Before any answer the client waits `first_answer_seconds` (a service just started), not the
    long retry a restarting service gets; and it names what to check."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # nothing listens on `port` now
    client = Client(f"http://127.0.0.1:{port}", retry_seconds=60, first_answer_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(ReplayError, match=r"no answer for 0 s .*is `lakehouse serve` running"):
        client.call("GET", "/feed")
    assert time.monotonic() - started < 10
    assert not client.answered


def test_a_replay_to_a_service_that_takes_connections_and_drops_them_keeps_trying() -> None:
    """Something listens (a service killed and restarting, say): the long retry, not the short
    wait for an address where nothing listens."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        stop = threading.Event()

        def drop() -> None:
            listening.settimeout(0.1)
            while not stop.is_set():
                try:
                    taken, _ = listening.accept()
                except TimeoutError:
                    continue
                taken.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                taken.close()  # reset

        dropping = threading.Thread(target=drop)
        dropping.start()
        try:
            client = Client(f"http://127.0.0.1:{port}", retry_seconds=1.5, first_answer_seconds=0.1)
            started = time.monotonic()
            with pytest.raises(ReplayError, match=r"no answer for 2 s") as refused:
                client.call("GET", "/feed")
        finally:
            stop.set()
            dropping.join()
    assert time.monotonic() - started >= 1.5
    assert "lakehouse serve" not in str(refused.value)


def test_a_feed_starts_from_the_field_named_from_only() -> None:
    from lakehouse.serving.schema import FeedStart

    assert FeedStart.model_validate({"from": "2013-12-10T06:00:00-05:00"}).start.hour == 6
    with pytest.raises(ValidationError, match="from"):
        FeedStart.model_validate({"start": "2013-12-10T06:00:00-05:00"})
