"""A live feed: the events received since its start, checked one by one, journaled, applied to the
live store, and a scorer thread that pushes a score for every flight whose decision time the clock
passes.

A feed is named by its start and the published version it serves (`<from>Z-<version>`) and lives
in `data/live/<feed id>/`: `feed.json` (its start), `events.jsonl` (every accepted batch, one line
each, written before it is applied: a batch answered 200 is never lost) and `rejected.jsonl`
(each refused event and why). A service restarted on the same version resumes the feed
`data/live/current` names: it bootstraps at the start again and re-applies the journal, which
rebuilds the same state; the scorer scores again from the start and logs only what the served log
does not hold yet, so no score is lost or logged twice.

The feed's clock is the latest instant it knows everything up to: the latest `known_at` received,
or a later `clock` a batch declares (a quiet hour still moves time). An event known at or before
the clock arrives out of order and is refused; a redelivered one (same id, same content) is
ignored."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from pydantic import ValidationError

from lakehouse.common.instants import schedule_problem
from lakehouse.config import (
    FEED_CLOCK_SKEW_MINUTES,
    FEED_REFUSAL_KINDS,
    LABEL_KNOWN_AFTER_MINUTES,
    ORIGIN_TIME_ZONE,
    SCHEDULE_KNOWN_DAYS_AHEAD,
    SCHEDULE_REACH_DAYS,
)
from lakehouse.live.events import (
    EVENT,
    ArrivalEvent,
    DepartureEvent,
    Event,
    OverdueEvent,
    ScheduleEvent,
    WeatherEvent,
    canonical,
    iso,
    reported_instant,
    to_rows,
    utc,
)
from lakehouse.live.scorer import Pushed, PushScorer
from lakehouse.live.store import LiveStore
from lakehouse.serving.log import ServedLog, logged_pushes
from lakehouse.serving.state import Champion, ServingState

LABEL_KNOWN = timedelta(minutes=LABEL_KNOWN_AFTER_MINUTES)
CLOCK_SKEW = timedelta(minutes=FEED_CLOCK_SKEW_MINUTES)
SCHEDULE_REACH = timedelta(days=SCHEDULE_REACH_DAYS)


# a refusal's kind (one of FEED_REFUSAL_KINDS) and its message
Reason = tuple[str, str]


def feed_id_of(start: datetime, version: str) -> str:
    return f"{start:%Y%m%dT%H%M%S}Z-{version}"


@dataclass(frozen=True)
class Refusal:
    index: int
    event_id: str | None
    kind: str
    reason: str

    def __post_init__(self) -> None:
        if self.kind not in FEED_REFUSAL_KINDS:
            raise ValueError(f"refusal kind {self.kind!r} is not one of {FEED_REFUSAL_KINDS}")


@dataclass(frozen=True)
class Receipt:
    accepted: int
    ignored: int
    rejected: list[Refusal]
    clock: datetime


PUSH_COLUMNS: dict[str, Any] = {
    "flight_id": pl.String,
    "horizon_minutes": pl.Int32,
    "decision_at_utc": pl.Datetime("us"),
    "scheduled_departure_utc": pl.Datetime("us"),
    "carrier": pl.String,
    "flight_number": pl.Int32,
    "origin": pl.String,
    "dest": pl.String,
    "probability_late": pl.Float64,
    "is_late": pl.Boolean,
    "threshold": pl.Float64,
    "expected_arrival_delay_minutes": pl.Float64,
    "classification_model_id": pl.String,
    "drivers": pl.String,
    "feed_clock_utc": pl.Datetime("us"),
}


def _push_frame(pushed: list[Pushed]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "flight_id": p.flight_id,
                "horizon_minutes": p.horizon_minutes,
                "decision_at_utc": p.decision_at_utc,
                "scheduled_departure_utc": p.scheduled_departure_utc,
                "carrier": p.carrier,
                "flight_number": p.flight_number,
                "origin": p.origin,
                "dest": p.dest,
                "probability_late": p.probability_late,
                "is_late": p.is_late,
                "threshold": p.threshold,
                "expected_arrival_delay_minutes": p.expected_arrival_delay_minutes,
                "classification_model_id": p.classification,
                "drivers": json.dumps(
                    [[name, value, contribution] for name, value, contribution in p.drivers]
                ),
                "feed_clock_utc": p.clock,
            }
            for p in pushed
        ],
        schema=PUSH_COLUMNS,
    )


class Feed:
    """One feed's state, journal and scorer."""

    def __init__(
        self,
        folder: Path,
        start: datetime,
        state: ServingState,
        log: ServedLog,
    ) -> None:
        self.folder = folder
        self.start = start
        self.version = state.version
        self.feed_id = folder.name
        self.champions: dict[tuple[str, int], Champion] = dict(state.champions)
        self.log = log
        self.store = LiveStore.bootstrap(state.warehouse, start)
        self.store.connection.execute(
            "create table live_pushes ("
            + ", ".join(f"{name} {_sql_type(kind)}" for name, kind in PUSH_COLUMNS.items())
            + ")"
        )
        origins = self.store.query("select distinct origin_airport_code as origin from fct_flights")
        self.origins = frozenset(origins["origin"].to_list())
        self.clock = start
        self.accepted = 0
        self.ignored = 0
        self.rejected = 0
        self.pushed = 0
        self.scored_clock = start
        self.error: str | None = None
        self._digests: dict[str, str] = {}
        self._receive_lock = threading.Lock()
        self._changed = threading.Condition()
        self._stop = False
        self._logged = logged_pushes(log.directory, self.feed_id)
        self._scorer = PushScorer(self.store, self.champions, start)
        self._thread: threading.Thread | None = None

    # --- the journal ---------------------------------------------------------------------------------

    @property
    def journal(self) -> Path:
        return self.folder / "events.jsonl"

    @property
    def rejected_file(self) -> Path:
        return self.folder / "rejected.jsonl"

    def recover(self) -> int:
        """Re-apply the journal (a torn last line, cut by a crash, was never answered 200: the
        producer sends it again). Returns the batches re-applied."""
        if not self.journal.exists():
            return 0
        batches = 0
        for line in self.journal.read_text(encoding="utf-8").splitlines():
            try:
                batch = json.loads(line)
            except json.JSONDecodeError:
                continue
            declared = batch.get("clock")
            self._receive(batch["events"], None if declared is None else _naive(declared), journal=False)
            batches += 1
        return batches

    def _append(self, path: Path, lines: Iterable[str]) -> None:
        text = "".join(f"{line}\n" for line in lines)
        if not text:
            return
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    # --- receiving -------------------------------------------------------------------------------------

    def receive(self, events: list[Any], clock: datetime | None) -> Receipt:
        """Check, journal and apply one batch; every event is accepted, ignored or refused with
        its reason, whatever the others are. A declared `clock` after the service's own (beyond
        `FEED_CLOCK_SKEW_MINUTES`) is a ValueError: nothing of the batch is applied."""
        declared = None if clock is None else utc(clock)
        now = _now()
        if declared is not None and declared > now + CLOCK_SKEW:
            raise ValueError(
                f"the clock {iso(declared)} is after the service's ({iso(now)}): "
                "nothing is known up to it yet"
            )
        return self._receive(events, declared, journal=True)

    def _receive(self, raw: list[Any], declared: datetime | None, journal: bool) -> Receipt:
        with self._receive_lock:
            accepted, accepted_raw, ignored, refused = self._check(raw)
            new_clock = max([self.clock, *(utc(e.known_at) for e in accepted)])
            if declared is not None and declared > new_clock:
                new_clock = declared
            if journal and (accepted_raw or new_clock > self.clock):
                line = {"events": accepted_raw, "clock": iso(new_clock)}
                self._append(self.journal, [json.dumps(line, separators=(",", ":"), default=str)])
            if accepted:
                self.store.apply(to_rows(accepted))
            for event, text in zip(accepted, accepted_raw, strict=True):
                self._digests[event.id] = canonical(text)
            if journal and refused:
                now = datetime.now(UTC).isoformat()
                self._append(
                    self.rejected_file,
                    (
                        json.dumps(
                            {
                                "received_at": now,
                                "feed_id": self.feed_id,
                                "feed_clock_utc": iso(self.clock),
                                "position": r.index,
                                "event_id": r.event_id,
                                "reason_kind": r.kind,
                                "reason": r.reason,
                                "event": _shortened(raw[r.index]),
                            },
                            default=str,
                        )
                        for r in refused
                    ),
                )
            self.accepted += len(accepted)
            self.ignored += ignored
            self.rejected += len(refused)
            with self._changed:
                self.clock = new_clock
                self._changed.notify_all()
            return Receipt(len(accepted), ignored, refused, new_clock)

    def _check(self, raw: list[Any]) -> tuple[list[Event], list[dict[str, Any]], int, list[Refusal]]:
        """Each event's fate: accepted, ignored (delivered before) or refused (why)."""
        parsed: list[tuple[int, Event, dict[str, Any]]] = []
        refused: list[Refusal] = []
        ignored = 0
        seen: dict[str, str] = {}
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                refused.append(Refusal(index, None, "malformed", "malformed: an event is a JSON object"))
                continue
            given_id = item.get("id") if isinstance(item.get("id"), str) else None
            try:
                event = EVENT.validate_python(item)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "event"
                refused.append(Refusal(index, given_id, "malformed", f"malformed: {where}: {first['msg']}"))
                continue
            text = canonical(item)
            earlier = self._digests.get(event.id) or seen.get(event.id)
            if earlier is not None:
                if earlier == text:
                    ignored += 1
                else:
                    refused.append(
                        Refusal(
                            index,
                            event.id,
                            "conflicting redelivery",
                            "conflicts with the event of the same id received before",
                        )
                    )
                continue
            known = utc(event.known_at)
            if known <= self.clock:
                refused.append(
                    Refusal(
                        index,
                        event.id,
                        "out of order",
                        f"out of order: known at {iso(known)}, the feed's clock is {iso(self.clock)}",
                    )
                )
                continue
            now = _now()
            if known > now + CLOCK_SKEW:
                refused.append(
                    Refusal(
                        index,
                        event.id,
                        "contradicts what is known",
                        f"known at {iso(known)}, after the service's clock ({iso(now)}): not known yet",
                    )
                )
                continue
            happened = reported_instant(event)
            if happened is not None and happened > known:
                refused.append(
                    Refusal(
                        index,
                        event.id,
                        "contradicts what is known",
                        f"known at {iso(known)}, before what it reports ({iso(happened)})",
                    )
                )
                continue
            seen[event.id] = text
            parsed.append((index, event, item))
        checked = self._check_state([(i, e) for i, e, _ in parsed])
        accepted, accepted_raw = [], []
        for (index, event, item), reason in zip(parsed, checked, strict=True):
            if reason is None:
                accepted.append(event)
                accepted_raw.append(item)
            else:
                refused.append(Refusal(index, event.id, *reason))
        refused.sort(key=lambda r: r.index)
        return accepted, accepted_raw, ignored, refused

    def _check_state(self, events: list[tuple[int, Event]]) -> list[Reason | None]:
        """Against the store and the batch itself: each event's reason to be refused, or None."""
        flight_ids = sorted({e.flight_id for _, e in events if not isinstance(e, WeatherEvent)})
        known: dict[str, dict[str, Any]] = {}
        if flight_ids:
            frame = self.store.query(
                "select f.flight_id, f.scheduled_departure_utc, f.scheduled_arrival_utc, "
                "f.actual_departure_utc is not null as departed, f.arr_delay_minutes is not null as arrived "
                "from fct_flights as f join asked using (flight_id)",
                {"asked": pl.DataFrame({"flight_id": flight_ids}, schema={"flight_id": pl.String})},
            )
            known = {row["flight_id"]: row for row in frame.iter_rows(named=True)}
        hours = sorted({(e.airport, utc(e.observed_hour)) for _, e in events if isinstance(e, WeatherEvent)})
        observed: set[tuple[str, datetime]] = set()
        if hours:
            asked = pl.DataFrame(
                hours,
                schema={"airport_code": pl.String, "observed_hour_utc": pl.Datetime("us")},
                orient="row",
            )
            frame = self.store.query(
                "select w.airport_code, w.observed_hour_utc from stg_nycflights__weather as w "
                "join asked using (airport_code, observed_hour_utc)",
                {"asked": asked},
            )
            observed = set(frame.iter_rows())
        # a schedule comes first, then what fills its row, whatever their order in the batch
        rank: dict[type, int] = {
            ScheduleEvent: 0,
            WeatherEvent: 0,
            OverdueEvent: 1,
            DepartureEvent: 2,
            ArrivalEvent: 3,
        }
        reasons: dict[int, Reason | None] = {}
        for index, event in sorted(events, key=lambda pair: (rank[type(pair[1])], pair[0])):
            reasons[index] = self._reason(event, known, observed)
        return [reasons[index] for index, _ in events]

    def _reason(
        self, event: Event, known: dict[str, dict[str, Any]], observed: set[tuple[str, datetime]]
    ) -> Reason | None:
        if isinstance(event, WeatherEvent):
            key = (event.airport, utc(event.observed_hour))
            if event.airport not in self.origins:
                return (
                    "not served",
                    f"airport {event.airport} is not one the feed serves ({', '.join(sorted(self.origins))})",
                )
            if key in observed:
                return "contradicts what is known", f"{event.airport} at {iso(key[1])} is already observed"
            observed.add(key)
            return None
        if isinstance(event, ScheduleEvent):
            return self._schedule_reason(event, known)
        flight = known.get(event.flight_id)
        if flight is None:
            return "unknown flight", f"unknown flight {event.flight_id}: no schedule received for it"
        if isinstance(event, OverdueEvent):
            if flight["departed"]:
                return "contradicts what is known", f"flight {event.flight_id} has already departed"
            due = flight["scheduled_departure_utc"] + LABEL_KNOWN
            if utc(event.known_at) < due:
                return (
                    "contradicts what is known",
                    f"overdue too early: flight {event.flight_id} is not late before {iso(due)}",
                )
            return None
        if isinstance(event, DepartureEvent):
            if flight["departed"]:
                return "contradicts what is known", f"flight {event.flight_id} has already departed"
            late = _delay(flight["scheduled_departure_utc"], event.actual_departure, event.dep_delay_minutes)
            if late is not None:
                return "contradicts what is known", f"dep_delay_minutes {late}"
            flight["departed"] = True
            return None
        if not flight["departed"]:
            return "contradicts what is known", f"flight {event.flight_id} arrives before it departed"
        if flight["arrived"]:
            return "contradicts what is known", f"flight {event.flight_id} has already arrived"
        late = _delay(flight["scheduled_arrival_utc"], event.actual_arrival, event.arr_delay_minutes)
        if late is not None:
            return "contradicts what is known", f"arr_delay_minutes {late}"
        flight["arrived"] = True
        return None

    def _schedule_reason(self, event: ScheduleEvent, known: dict[str, dict[str, Any]]) -> Reason | None:
        if event.flight_id in known:
            return "contradicts what is known", f"flight {event.flight_id} is already scheduled"
        if event.origin not in self.origins:
            return (
                "not served",
                f"origin {event.origin} is not one the feed serves ({', '.join(sorted(self.origins))})",
            )
        departure = event.scheduled_departure
        local = departure.astimezone(ZoneInfo(ORIGIN_TIME_ZONE)).utcoffset()
        if departure.utcoffset() != local:
            given = _offset(departure.utcoffset())
            return (
                "malformed",
                f"scheduled_departure must carry the origin's local offset ({_offset(local)}), not {given}",
            )
        problem = schedule_problem(departure, event.scheduled_arrival)
        if problem is not None:
            return "malformed", problem
        if departure <= event.known_at:
            return (
                "contradicts what is known",
                f"scheduled to leave at {iso(utc(departure))}, "
                f"not after it is known ({iso(utc(event.known_at))})",
            )
        if departure - event.known_at > SCHEDULE_REACH:
            return (
                "malformed",
                f"scheduled to leave at {iso(utc(departure))}, more than {SCHEDULE_REACH_DAYS} days after "
                f"it is known ({iso(utc(event.known_at))})",
            )
        known[event.flight_id] = {
            "flight_id": event.flight_id,
            "scheduled_departure_utc": utc(departure),
            "scheduled_arrival_utc": utc(event.scheduled_arrival),
            "departed": False,
            "arrived": False,
        }
        return None

    # --- scoring ---------------------------------------------------------------------------------------

    def start_scoring(self) -> None:
        self._thread = threading.Thread(target=self._score_loop, name=f"feed-{self.feed_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stop = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._scorer.close()

    def _score_loop(self) -> None:
        while True:
            with self._changed:
                while not self._stop and self.clock <= self.scored_clock:
                    self._changed.wait()
                if self._stop:
                    return
                clock = self.clock
            try:
                self._score(clock)
            except Exception as error:  # a scoring failure is shown on /feed, not a dead thread
                self.error = f"scoring up to {iso(clock)} failed: {error}"
                return

    def _score(self, clock: datetime) -> None:
        started = datetime.now(UTC)
        pushed = self._scorer.score_until(clock)
        fresh = [p for p in pushed if p.key not in self._logged]
        if fresh:
            seconds = (datetime.now(UTC) - started).total_seconds()
            self.log.write(
                self.version, f"feed-{self.feed_id}", fresh, seconds, source="feed", feed_id=self.feed_id
            )
            self._logged.update(p.key for p in fresh)
        if pushed:
            with self.store.lock:
                cursor = self.store.connection.cursor()
                try:
                    cursor.register("pushed_rows", _push_frame(pushed))
                    cursor.execute("insert into live_pushes select * from pushed_rows")
                finally:
                    cursor.close()
        with self._changed:
            self.pushed += len(pushed)
            self.scored_clock = clock
            self._changed.notify_all()

    def wait_scored(self, timeout: float) -> bool:
        """Wait until everything the clock has passed is scored (True), or `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.scored_clock >= self.clock or self.error is not None or self._stop, timeout
            )

    def status(self) -> dict[str, Any]:
        return {
            "feed_id": self.feed_id,
            "version": self.version,
            "start": self.start.replace(tzinfo=UTC),
            "clock": self.clock.replace(tzinfo=UTC),
            "scored_until": self.scored_clock.replace(tzinfo=UTC),
            "events_accepted": self.accepted,
            "events_ignored": self.ignored,
            "events_rejected": self.rejected,
            "pushed": self.pushed,
            "horizons_minutes": self._scorer.horizons,
            "error": self.error,
        }


class FeedHolder:
    """The one feed of this process (a feed lives in one process: it holds the live state).
    `error`: why the feed named by `current` could not resume, until a feed starts."""

    def __init__(self, folder: Path, log: ServedLog) -> None:
        self.folder = folder
        self.log = log
        self.feed: Feed | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    @property
    def current_link(self) -> Path:
        return self.folder / "current"

    def start(self, start: datetime, state: ServingState) -> Feed:
        """The feed starting at `start` (aware) on `state`'s version (from the warehouse the state
        was read from): the running one if it is that feed, else resumed from its folder or new.
        The feed running before is stopped once the new one is ready (without waiting for its
        scoring to finish); if the new one fails, the old one goes on and a folder made for the new
        one is removed."""
        start = utc(start).replace(microsecond=0)
        if not state.first_date - timedelta(days=1) <= start.date() <= state.last_date:
            raise ValueError(
                f"{iso(start)} is outside the data ({state.first_date} to {state.last_date}): "
                "a feed starts where the published warehouse has events to replay"
            )
        longest = max(h for _, h in state.champions)
        if longest > SCHEDULE_KNOWN_DAYS_AHEAD * 24 * 60:
            raise ValueError(
                f"a champion decides {longest} minutes ahead, before the schedule is known "
                f"({SCHEDULE_KNOWN_DAYS_AHEAD} day ahead)"
            )
        feed_id = feed_id_of(start, state.version)
        with self._lock:
            if self.feed is not None and self.feed.feed_id == feed_id:
                return self.feed
            folder = self.folder / feed_id
            made = not folder.exists()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                description = folder / "feed.json"
                if not description.exists():
                    told = {"feed_id": feed_id, "from": iso(start), "version": state.version}
                    description.write_text(json.dumps(told, indent=2) + "\n")
                feed = Feed(folder, start, state, self.log)
                feed.recover()
            except BaseException:
                if made:
                    shutil.rmtree(folder, ignore_errors=True)
                raise
            if self.feed is not None:
                # its scoring may be midway: it stops on its own thread, the new feed goes on now
                threading.Thread(target=self.feed.stop, name="lakehouse-feed-stop", daemon=True).start()
            feed.start_scoring()
            link = self.current_link
            temporary = self.folder / f".current-{os.getpid()}"
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(feed_id)
            temporary.replace(link)
            self.feed, self.error = feed, None
            return feed

    def resume(self, state: ServingState) -> Feed | None:
        """Resume the feed `current` names if none runs and it is on `state`'s version (at start-up,
        or when that version loads later); a failure is kept in `error`, not raised."""
        link = self.current_link
        if self.feed is not None or not link.exists():
            return None
        try:
            description = json.loads((link.resolve() / "feed.json").read_text())
            if description["version"] != state.version:
                return None
            return self.start(datetime.fromisoformat(description["from"]), state)
        except Exception as error:  # a feed that cannot resume must not stop the service
            self.error = f"the live feed {link.resolve().name} could not resume: {error}"
            return None

    def stop(self) -> None:
        with self._lock:
            if self.feed is not None:
                self.feed.stop()
                self.feed = None


def _sql_type(kind: Any) -> str:
    return {
        pl.String: "varchar",
        pl.Int32: "integer",
        pl.Float64: "double",
        pl.Boolean: "boolean",
    }.get(kind, "timestamp")


def _naive(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def _offset(offset: timedelta | None) -> str:
    if offset is None:
        return "none"
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _now() -> datetime:
    """The service's clock, naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def _delay(scheduled: datetime, actual: datetime, minutes: int) -> str | None:
    """Why a reported delay contradicts the reported instant and the schedule (the warehouse's
    delay is the whole minutes between them), or None."""
    whole = utc(actual).replace(second=0, microsecond=0) - scheduled.replace(second=0, microsecond=0)
    between = int(whole.total_seconds() // 60)
    if between == minutes:
        return None
    return (
        f"{minutes} contradicts the schedule ({iso(scheduled)}) and the reported instant "
        f"({iso(utc(actual))}), {between} minutes apart"
    )


def _shortened(item: Any) -> Any:
    text = json.dumps(item, default=str)
    return item if len(text) <= 2000 else text[:2000]
