"""Work side by side on a pool of threads: how the threads are shared, in what order the items
are taken, and what comes back."""

from __future__ import annotations

import threading
import time

import pytest

from lakehouse.common.parallel import run_pooled, threads_per_worker
from lakehouse.config import TrainingConfig
from lakehouse.models.train import training_fits


@pytest.mark.parametrize(
    ("items", "threads", "expected"),
    [(2, 2, (2, 1)), (2, 1, (1, 1)), (2, 4, (2, 2)), (1, 2, (1, 2)), (2, 3, (2, 1)), (10, 2, (2, 1))],
)
def test_each_item_gets_an_equal_share_of_the_threads(
    items: int, threads: int, expected: tuple[int, int]
) -> None:
    assert threads_per_worker(items, threads) == expected


def test_the_workers_run_at_once_and_the_results_come_back_in_order() -> None:
    started = threading.Barrier(3, timeout=5)

    def wait_for_the_others(item: int) -> int:
        started.wait()  # each waits for the other two: they run at once or time out
        return item * 10

    assert run_pooled(wait_for_the_others, [1, 2, 3], workers=3) == [10, 20, 30]


def test_a_free_worker_takes_the_next_item_in_order() -> None:
    # item 0 is long; the other worker takes 1, 2 and 3 one after the other while it runs
    taken: list[int] = []
    lock = threading.Lock()
    done_with_the_rest = threading.Event()

    def work(item: int) -> int:
        with lock:
            taken.append(item)
        if item == 0:
            assert done_with_the_rest.wait(timeout=5)
        elif item == 3:
            done_with_the_rest.set()
        return item

    assert run_pooled(work, [0, 1, 2, 3], workers=2) == [0, 1, 2, 3]
    assert taken == [0, 1, 2, 3]


def test_no_more_threads_than_workers_run_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def work(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return item

    assert run_pooled(work, list(range(8)), workers=2) == list(range(8))
    assert most == 2


def test_an_error_in_another_thread_is_raised_in_the_caller_and_stops_the_rest() -> None:
    taken: list[int] = []

    def fail_on_two(item: int) -> int:
        taken.append(item)
        if item == 2:
            raise ValueError("item 2 failed")
        return item

    with pytest.raises(ValueError, match="item 2 failed"):
        run_pooled(fail_on_two, [1, 2, 3, 4, 5], workers=1)
    assert taken == [1, 2]


def test_an_error_in_the_callers_thread_does_not_wait_for_the_others() -> None:
    release = threading.Event()

    def slow_unless_first(item: int) -> int:
        if item == 1:
            raise KeyboardInterrupt
        release.wait(timeout=30)
        return item

    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_pooled(slow_unless_first, [1, 2], workers=2)
    assert time.perf_counter() - started < 5
    release.set()


def test_nothing_to_do_returns_nothing() -> None:
    assert run_pooled(lambda item: item, [], workers=2) == []


def test_a_run_fits_the_tuned_models_first_and_each_part_once() -> None:
    config = TrainingConfig(horizon_minutes=120, other_horizons_minutes=(60, 30))
    fits = training_fits(["classification", "regression"], config)
    assert [str(f) for f in fits[:2]] == [
        "classification at 120 min: LightGBM, tuned",
        "regression at 120 min: LightGBM, tuned",
    ]
    assert [f.part for f in fits] == ["final"] * 6 + ["schedule"] * 2 + ["baselines"] * 6
    assert len(set(fits)) == len(fits)
    assert {f.horizon_minutes for f in fits if f.part == "schedule"} == {120}
