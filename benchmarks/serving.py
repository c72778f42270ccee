"""How fast the scoring API answers (`make bench-serving`): a real server on loopback, load from a
second process at a fixed rate, and in the same run a bare endpoint that only calls the booster
on a fixed row (the floor the framework and LightGBM set).

Scenarios: a known flight at 200 requests/s, the bare endpoint at the same rate, a new schedule
(features computed on demand) at 20 requests/s, and batches of 1,000 known flights one after the
other. Latency is measured from the instant each request was due, so a server that falls behind
shows it (no coordinated omission). Needs `make run` first. Not run by the tests: timings are
noisy.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lakehouse.config import REPO_ROOT, paths

KNOWN = {
    "carrier": "UA",
    "flight_number": 1545,
    "origin": "EWR",
    "dest": "IAH",
    "scheduled_departure": "2013-01-01T05:15:00-05:00",
    "scheduled_arrival": "2013-01-01T08:19:00-06:00",
    "tailnum": "N14228",
}
NEW = {
    **KNOWN,
    "flight_number": 9999,
    "scheduled_departure": "2013-06-01T17:15:00-04:00",
    "scheduled_arrival": "2013-06-01T19:19:00-05:00",
    "tailnum": None,
}
TARGETS = {"known p99 ms": 10.0, "known / bare p99": 2.0, "new p99 ms": 50.0, "batch of 1,000 p50 ms": 100.0}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _connection(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    # without it, Nagle and delayed ACKs add ~40 ms to a request whose headers and body go apart
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def load(port: int, path: str, body: bytes, rate: float, seconds: float, threads: int) -> dict[str, Any]:
    """Requests due every 1/rate s for `seconds`, sent by `threads` persistent connections;
    each latency counted from the instant the request was due."""
    due: queue.Queue[float | None] = queue.Queue()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal errors
        connection = _connection(port)
        while (scheduled := due.get()) is not None:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                connection = _connection(port)
            with lock:
                latencies.append(time.perf_counter() - scheduled)
                errors += not ok

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    start = time.perf_counter() + 0.2
    count = int(rate * seconds)
    for i in range(count):
        due.put(start + i / rate)
    for _ in pool:
        due.put(None)
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    latencies.sort()

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput": len(latencies) / elapsed,
        "p50": percentile(0.50),
        "p95": percentile(0.95),
        "p99": percentile(0.99),
    }


def _start(command: Sequence[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            connection = _connection(port)
            connection.request("GET", "/health")
            if json.loads(connection.getresponse().read() or b"{}").get("ready", True):
                return process
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
        time.sleep(0.5)
    process.terminate()
    raise SystemExit("the server did not become ready")


def _in_child(args: argparse.Namespace) -> None:
    """The load generator's own process: prints its figures as JSON."""
    body = Path(args.body).read_bytes()
    print(json.dumps(load(args.port, args.path, body, args.rate, args.seconds, args.threads)))


def _scenario(
    port: int, path: str, body: Any, rate: float, seconds: float, threads: int, folder: Path
) -> dict[str, Any]:
    payload = folder / f"body-{time.monotonic_ns()}.json"
    payload.write_text(json.dumps(body))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.serving",
            "--child-load",
            "--port",
            str(port),
            "--path",
            path,
            "--body",
            str(payload),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--threads",
            str(threads),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serving", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="Length of each fixed-rate scenario.")
    parser.add_argument("--workers", type=int, default=1, help="The service's worker processes.")
    parser.add_argument("--child-load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--body", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_load:
        _in_child(args)
        return 0
    p = paths()
    if not p.current.exists():
        print("needs a published warehouse and trained champions: run `make run` first")
        return 1
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"lakehouse-bench-serving-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LAKEHOUSE_MODELS_DIR": str(p.models)}
    served, bare = _free_port(), _free_port()
    lakehouse = str(Path(sys.executable).parent / "lakehouse")
    service = _start([lakehouse, "serve", "--port", str(served), "--workers", str(args.workers)], served, env)
    floor = _start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.bare_endpoint:app",
            "--port",
            str(bare),
            "--log-level",
            "warning",
            "--workers",
            str(args.workers),
        ],
        bare,
        env,
    )
    # every worker loads the state on its own: a ready answer comes from one of them
    time.sleep(15 * (args.workers - 1))
    try:
        rows = {
            "known flight, 200/s": _scenario(served, "/predict", KNOWN, 200, args.seconds, 8, folder),
            "bare endpoint, 200/s": _scenario(bare, "/predict", {}, 200, args.seconds, 8, folder),
            "new schedule, 20/s": _scenario(served, "/predict", NEW, 20, args.seconds, 4, folder),
            "batch of 1,000 known, 1/s": _scenario(
                served, "/predict/batch", {"flights": [KNOWN] * 1000}, 1, max(args.seconds, 10), 1, folder
            ),
        }
    finally:
        service.terminate()
        floor.terminate()
    print(f"\nscoring API on loopback, {args.workers} worker(s); latency from each request's due instant\n")
    columns = ("requests", "errors", "throughput", "p50", "p95", "p99")
    print(
        f"  {'scenario':<28}"
        + "".join(f"{c:>11}" for c in ("requests", "errors", "per s", "p50 ms", "p95 ms", "p99 ms"))
    )
    for name, r in rows.items():
        print(
            f"  {name:<28}"
            + "".join(f"{r[c]:>11.1f}" if isinstance(r[c], float) else f"{r[c]:>11}" for c in columns)
        )
    known, floor_p99 = rows["known flight, 200/s"], rows["bare endpoint, 200/s"]["p99"]
    measured = {
        "known p99 ms": known["p99"],
        "known / bare p99": known["p99"] / floor_p99,
        "new p99 ms": rows["new schedule, 20/s"]["p99"],
        "batch of 1,000 p50 ms": rows["batch of 1,000 known, 1/s"]["p50"],
    }
    print()
    for name, value in measured.items():
        verdict = "PASS" if value <= TARGETS[name] else "FAIL"
        print(f"  {name:<24} {value:8.2f}   target <= {TARGETS[name]:g}   {verdict}")
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
