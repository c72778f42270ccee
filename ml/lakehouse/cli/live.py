"""`lakehouse replay`: the bundled year as a live feed to a running service."""

from __future__ import annotations

import math
import os
import time
import urllib.parse
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape

from lakehouse.cli.common import app, console, fail, published
from lakehouse.config import API_KEY_VARIABLE, ORIGIN_TIME_ZONE, REPLAY_BATCH_EVENTS, SERVE_HOST, SERVE_PORT


def _instant(text: str, option: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO 8601 instant", "e.g. 2013-12-10T06:00:00-05:00")
    if instant.tzinfo is None:
        fail(f"{option} {text!r} has no offset", "add one, e.g. -05:00 for New York in winter, or Z")
    return instant


@app.command()
def replay(
    start: Annotated[
        str, typer.Option("--from", help="The instant the feed starts at (ISO 8601 with an offset).")
    ] = "2013-12-10T06:00:00-05:00",
    until: Annotated[str | None, typer.Option(help="The last instant to replay (default: the end).")] = None,
    speed: Annotated[
        float,
        typer.Option(help="Times real time, from 1 (600: ten minutes a second); 0: as fast as possible."),
    ] = 600,
    url: Annotated[str, typer.Option(help="The running service.")] = f"http://{SERVE_HOST}:{SERVE_PORT}",
    batch_events: Annotated[
        int, typer.Option(min=1, max=10_000, help="Events per batch at --speed 0.")
    ] = REPLAY_BATCH_EVENTS,
) -> None:
    """Replay the published warehouse's events (schedules, departures, arrivals, flights overdue,
    weather), each at the instant it became known, to a running `lakehouse serve`, which scores
    every flight as the feed's clock passes its decision time. The board is at URL/board."""
    from zoneinfo import ZoneInfo

    from lakehouse.live.replay import Client, Progress, ReplayError
    from lakehouse.live.replay import replay as run_replay

    first = _instant(start, "--from")
    last = None if until is None else _instant(until, "--until")
    if last is not None and last <= first:
        fail(f"--until {until} is not after --from {start}")
    if speed != 0 and not 1 <= speed < math.inf:
        fail(f"--speed {speed:g} is neither 0 nor a finite speed from 1", "1: real time; 0: unpaced")
    address = urllib.parse.urlsplit(url)
    if address.scheme not in {"http", "https"} or not address.netloc:
        fail(f"--url {url} is not an http(s) URL", f"e.g. http://{SERVE_HOST}:{SERVE_PORT}")
    p = published()
    zone = ZoneInfo(ORIGIN_TIME_ZONE)
    shown = {"at": 0.0}

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if now - shown["at"] < 2 and progress.batches > 1:
            return
        shown["at"] = now
        assert progress.clock is not None
        clock = progress.clock.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
        console.print(
            f"  {clock:%Y-%m-%d %H:%M %Z}  {progress.sent:,} events sent: {progress.accepted:,} accepted, "
            f"{progress.ignored:,} ignored, {progress.rejected:,} rejected"
        )

    console.print(f"replaying from {first.isoformat()} to {url} at speed {speed:g} (board: {url}/board)")
    started = time.perf_counter()
    try:
        progress = run_replay(
            Client(
                url, os.environ.get(API_KEY_VARIABLE), waiting=lambda message: console.print(escape(message))
            ),
            p.warehouse,
            first,
            last,
            speed,
            batch_events,
            on_batch=report,
        )
    except ReplayError as error:
        fail(str(error))
    status = progress.status or {}
    console.print(
        f"✓ replayed {progress.sent:,} events in {progress.batches:,} batches in "
        f"{time.perf_counter() - started:.1f} s: {progress.accepted:,} accepted, "
        f"{progress.ignored:,} ignored, {progress.rejected:,} rejected; feed {status.get('feed_id')} "
        f"at {status.get('clock')}, {status.get('pushed', 0):,} scores pushed"
    )
