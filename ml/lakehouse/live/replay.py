"""`lakehouse replay`: the published warehouse's events as a feed, delivered to a running service.

The events known after `--from` (and at or before `--until`) are sent by POST /events in time
order: paced, one batch per `REPLAY_STEP_SECONDS` of feed time at `speed` times real time (each
batch declares the end of its step as the clock, so quiet hours move time too); unpaced
(`speed` 0), batches of about `REPLAY_BATCH_EVENTS` cut between instants. Delivery is at least
once: a batch that gets no answer (the service restarting, say) is sent again until it is
answered, for up to `REPLAY_RETRY_SECONDS` (`REPLAY_FIRST_ANSWER_SECONDS` while every connection
is refused: nothing may be listening there); a service that lost its feed (409) gets the feed
started again, and resumes it from its journal. The service ignores what it already has."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from lakehouse.config import (
    MAX_FEED_EVENTS,
    REPLAY_BATCH_EVENTS,
    REPLAY_FIRST_ANSWER_SECONDS,
    REPLAY_RETRY_SECONDS,
    REPLAY_STEP_SECONDS,
)
from lakehouse.live.events import event_rows, feed_order, iso, utc


class ReplayError(RuntimeError):
    """The service refused the feed or could not be reached in time."""


def read_events(warehouse: Path, start: datetime, until: datetime | None) -> list[dict[str, Any]]:
    """The events known after `start` and at or before `until` (aware; None: the end), in order."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set enable_progress_bar = false")
        frames = event_rows(connection, utc(start), None if until is None else utc(until))
    return feed_order(frames)


def paced_batches(
    events: list[dict[str, Any]], start: datetime, until: datetime, step_seconds: int
) -> Iterator[tuple[list[dict[str, Any]], datetime]]:
    """Per step of feed time from `start` (naive UTC) to `until`: its events and its end."""
    position = 0
    end = start
    while end < until:
        end = min(end + timedelta(seconds=step_seconds), until)
        limit = iso(end) or ""
        batch = []
        while position < len(events) and events[position]["known_at"] <= limit:
            batch.append(events[position])
            position += 1
        yield batch, end


def unpaced_batches(
    events: list[dict[str, Any]], until: datetime, batch_events: int
) -> Iterator[tuple[list[dict[str, Any]], datetime]]:
    """Batches of about `batch_events`, never splitting an instant (up to `MAX_FEED_EVENTS`),
    each declaring its last instant; the last one declares `until`."""
    position = 0
    while position < len(events):
        end = min(position + batch_events, len(events))
        while (
            end < len(events)
            and end - position < MAX_FEED_EVENTS
            and events[end]["known_at"] == events[end - 1]["known_at"]
        ):
            end += 1
        batch = events[position:end]
        position = end
        last = until if position == len(events) else utc(datetime.fromisoformat(batch[-1]["known_at"]))
        yield batch, last
    if not events:
        yield [], until


@dataclass
class Client:
    """JSON over HTTP to the service, retried while it does not answer: for `retry_seconds` once
    something listens at the address (it answered, or took a connection), `first_answer_seconds`
    while every connection is refused (nothing listens there)."""

    url: str
    api_key: str | None = None
    retry_seconds: float = REPLAY_RETRY_SECONDS
    # told once why the service does not answer, when the client starts to wait for it
    waiting: Callable[[str], None] | None = None
    first_answer_seconds: float = REPLAY_FIRST_ANSWER_SECONDS
    answered: bool = False

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        started = time.monotonic()
        wait = 0.2
        while True:
            request = urllib.request.Request(
                self.url.rstrip("/") + path, data=data, method=method, headers=headers
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    self.answered = True
                    return response.status, json.loads(response.read() or b"null")
            except urllib.error.HTTPError as error:
                self.answered = True
                if error.code < 500 and error.code != 503:
                    return error.code, _body(error)
                failure = f"HTTP {error.code}: {_body(error)}"
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                reason = getattr(error, "reason", error)
                # a connection taken, then reset or timed out: a service is there (restarting, busy)
                self.answered = self.answered or not isinstance(reason, ConnectionRefusedError)
                failure = str(reason)
            patience = self.retry_seconds if self.answered else self.first_answer_seconds
            if time.monotonic() > started + patience:
                never = "" if self.answered else "; is `lakehouse serve` running at that address?"
                raise ReplayError(
                    f"{method} {self.url}{path}: no answer for {patience:.0f} s ({failure}){never}"
                )
            if wait == 0.2 and self.waiting is not None:
                self.waiting(f"{self.url} does not answer ({failure}): retrying for {patience:.0f} s")
            time.sleep(wait)
            wait = min(wait * 2, 5.0)


def _body(error: urllib.error.HTTPError) -> Any:
    try:
        return json.loads(error.read() or b"null")
    except (json.JSONDecodeError, OSError):
        return None


@dataclass
class Progress:
    sent: int = 0
    batches: int = 0
    accepted: int = 0
    ignored: int = 0
    rejected: int = 0
    clock: datetime | None = None
    status: dict[str, Any] | None = None


def start_feed(client: Client, start: datetime) -> dict[str, Any]:
    code, body = client.call("POST", "/feed/start", {"from": start.isoformat()})
    if code != 200:
        raise ReplayError(f"the service refused to start the feed (HTTP {code}): {_detail(body)}")
    status: dict[str, Any] = body
    return status


def send(client: Client, start: datetime, events: list[dict[str, Any]], clock: datetime) -> dict[str, Any]:
    """One batch, delivered at least once (the feed started again if the service lost it)."""
    body = {"events": events, "clock": iso(clock)}
    for _ in range(3):
        code, answer = client.call("POST", "/events", body)
        if code == 200:
            receipt: dict[str, Any] = answer
            return receipt
        if code != 409:
            raise ReplayError(f"the service refused a batch (HTTP {code}): {_detail(answer)}")
        start_feed(client, start)
    raise ReplayError("the service lost its feed three times in a row")


def replay(
    client: Client,
    warehouse: Path,
    start: datetime,
    until: datetime | None,
    speed: float,
    batch_events: int = REPLAY_BATCH_EVENTS,
    on_batch: Callable[[Progress], None] | None = None,
) -> Progress:
    """Start the feed at `start` (aware), or resume it where the service's clock is, and deliver
    the events up to `until`; returns the totals once the service has scored what the clock
    passed."""
    status = start_feed(client, start)
    # a feed resumed past its start already has what is known up to its clock
    resumed = max(utc(start), utc(datetime.fromisoformat(status["clock"])))
    events = read_events(warehouse, resumed.replace(tzinfo=UTC), until)
    known = [utc(datetime.fromisoformat(e["known_at"])) for e in events]
    end = utc(until) if until is not None else max(known, default=resumed)
    progress = Progress()
    batches = (
        paced_batches(events, resumed, end, REPLAY_STEP_SECONDS)
        if speed > 0
        else unpaced_batches(events, end, batch_events)
    )
    began = time.monotonic()
    for batch, clock in batches:
        if speed > 0:
            due = began + (clock - resumed).total_seconds() / speed
            time.sleep(max(0.0, due - time.monotonic()))
        receipt = send(client, start, batch, clock)
        progress.sent += len(batch)
        progress.batches += 1
        progress.accepted += receipt["accepted"]
        progress.ignored += receipt["ignored"]
        progress.rejected += len(receipt["rejected"])
        progress.clock = clock
        if on_batch is not None:
            on_batch(progress)
    progress.status = wait_scored(client)
    return progress


def wait_scored(client: Client, timeout: float = 600.0) -> dict[str, Any]:
    """The feed's status once its scoring has caught up with its clock."""
    deadline = time.monotonic() + timeout
    while True:
        code, status = client.call("GET", "/feed")
        if code != 200:
            raise ReplayError(f"GET /feed answered HTTP {code}: {_detail(status)}")
        if status.get("error"):
            raise ReplayError(f"the feed's scoring failed: {status['error']}")
        if status["scored_until"] >= status["clock"] or time.monotonic() > deadline:
            result: dict[str, Any] = status
            return result
        time.sleep(0.3)


def _detail(body: Any) -> str:
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):
            return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
        return str(detail)
    return str(body)


def now_utc() -> datetime:
    return datetime.now(UTC)
