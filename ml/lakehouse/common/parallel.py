"""Independent pieces of work side by side on a few threads: LightGBM, polars, numpy and DuckDB
release the GIL while they compute, so threads use every core without a process's copy of the
data."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_pooled(function: Callable[[T], R], items: list[T], workers: int) -> list[R]:
    """`function` of every item, in the order given, by `workers` threads that each take the next
    item when they are free: the calling thread and daemon threads beside it. The results come
    back in the items' order. A signal raises here, where the run is, and nothing waits for the
    other threads (a daemon thread does not hold the process at exit). After an error no thread
    starts another item, and the error of the earliest item that failed is raised."""
    results: dict[int, R] = {}
    errors: dict[int, BaseException] = {}
    lock = threading.Lock()
    queue = iter(range(len(items)))

    def next_item() -> int | None:
        with lock:
            return None if errors else next(queue, None)

    def work(in_caller: bool) -> None:
        while (index := next_item()) is not None:
            try:
                results[index] = function(items[index])
            except BaseException as error:
                with lock:
                    errors[index] = error
                if in_caller:
                    raise

    others = max(0, min(workers, len(items)) - 1)
    threads = [threading.Thread(target=work, args=(False,), daemon=True) for _ in range(others)]
    for thread in threads:
        thread.start()
    work(in_caller=True)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[min(errors)]
    return [results[i] for i in range(len(items))]


def threads_per_worker(items: int, threads: int) -> tuple[int, int]:
    """How many items run at once and on how many threads each, from the threads allowed: an
    item per thread (a second fit or scan beside the first gains more than a second thread in it:
    `make bench-threads`)."""
    at_once = max(1, min(items, threads))
    return at_once, max(1, threads // at_once)
