"""How fast the live feed keeps up (`make bench-live`): a real server on loopback on a copy of the
published data folder, a day of events replayed as fast as it takes them, and in the same run a
fixed rate of `/predict` requests from a second process, alone and during the replay.

It prints the sustained event rate (events received until every decision they passed is scored,
over the wall time that took), the rate a real day needs (its events over 24 hours), their ratio
(how many times real time the service keeps up with), and the `/predict` p99 alone and meanwhile.
Needs `make run` first. Not run by the tests: timings are noisy."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.serving import KNOWN, _free_port, _scenario, _start
from lakehouse.config import paths
from lakehouse.live.replay import Client, read_events, replay


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="start", default="2013-12-10T06:00:00-05:00", help="The day's start.")
    parser.add_argument("--hours", type=float, default=24.0, help="Feed time replayed.")
    parser.add_argument("--rate", type=float, default=50.0, help="/predict requests per second meanwhile.")
    args = parser.parse_args(argv)
    p = paths()
    if not p.current.exists():
        print("needs a published warehouse and trained champions: run `make run` first")
        return 1
    start = datetime.fromisoformat(args.start)
    until = start + timedelta(hours=args.hours)
    folder = Path(tempfile.mkdtemp(prefix="lakehouse-bench-live-"))
    data = folder / "data"
    shutil.copytree(
        p.warehouse.parent,
        data,
        symlinks=True,
        ignore=shutil.ignore_patterns("build", "*.lock", "live", "served"),
    )
    env = {**os.environ, "LAKEHOUSE_DATA_DIR": str(data), "LAKEHOUSE_MODELS_DIR": str(p.models)}
    env.pop("LAKEHOUSE_API_KEY", None)
    port = _free_port()
    server = _start([str(Path(sys.executable).parent / "lakehouse"), "serve", "--port", str(port)], port, env)
    try:
        events = len(read_events(data / "warehouse.duckdb", start, until))
        request = {**KNOWN, "horizon_minutes": 120}
        alone = _scenario(port, "/predict", request, args.rate, 10, 4, folder)
        during: dict[str, Any] = {}

        def load() -> None:
            during.update(_scenario(port, "/predict", request, args.rate, 10, 4, folder))

        loader = threading.Thread(target=load)
        began = time.perf_counter()
        loader.start()
        progress = replay(Client(f"http://127.0.0.1:{port}"), data / "warehouse.duckdb", start, until, 0)
        caught_up = time.perf_counter() - began
        loader.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    status = progress.status or {}
    real_rate = events / (args.hours * 3600)
    sustained = events / caught_up
    print(
        f"replayed {args.hours:g} h of feed from {args.start}: {events:,} events, "
        f"{status.get('pushed', 0):,} scores pushed"
    )
    print(f"  {'sustained event rate (received and scored)':48s} {sustained:10.1f} events/s")
    print(f"  {'a real day needs':48s} {real_rate:10.3f} events/s")
    print(f"  {'ratio: times real time the feed keeps up with':48s} {sustained / real_rate:10.0f} x")
    print(
        f"  {'/predict p99 alone':48s} {alone['p99']:10.1f} ms  "
        f"({alone['throughput']:.0f} req/s, {alone['errors']} errors)"
    )
    print(
        f"  {'/predict p99 during the replay':48s} {during.get('p99', float('nan')):10.1f} ms  "
        f"({during.get('throughput', 0):.0f} req/s, {during.get('errors', 0)} errors)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
