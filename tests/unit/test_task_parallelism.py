"""Training's tasks side by side: how the threads are shared, and what the threads return."""

from __future__ import annotations

import threading
import time

import pytest

from lakehouse.models.training_run import run_at_once, task_parallelism


@pytest.mark.parametrize(
    ("tasks", "threads", "expected"),
    [(2, 2, (2, 1)), (2, 1, (1, 1)), (2, 4, (2, 2)), (1, 2, (1, 2)), (2, 3, (2, 1))],
)
def test_each_task_gets_an_equal_share_of_the_threads(
    tasks: int, threads: int, expected: tuple[int, int]
) -> None:
    assert task_parallelism(tasks, threads) == expected


def test_the_items_run_at_once_and_come_back_in_order() -> None:
    started = threading.Barrier(3, timeout=5)

    def wait_for_the_others(item: int) -> int:
        started.wait()  # each waits for the other two: they run at once or time out
        return item * 10

    assert run_at_once(wait_for_the_others, [1, 2, 3]) == [10, 20, 30]


def test_an_error_in_another_thread_is_raised_in_the_caller() -> None:
    def fail_on_two(item: int) -> int:
        if item == 2:
            raise ValueError("item 2 failed")
        return item

    with pytest.raises(ValueError, match="item 2 failed"):
        run_at_once(fail_on_two, [1, 2])


def test_an_error_in_the_callers_thread_does_not_wait_for_the_others() -> None:
    release = threading.Event()

    def slow_unless_first(item: int) -> int:
        if item == 1:
            raise KeyboardInterrupt
        release.wait(timeout=30)
        return item

    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_at_once(slow_unless_first, [1, 2])
    assert time.perf_counter() - started < 5
    release.set()
