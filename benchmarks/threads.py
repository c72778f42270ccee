"""How LightGBM's threads fare beside other work: the classifier's early-stopped fit (tuned
parameters, the champions' horizon, the published warehouse's features) on two threads and on one,
alone and beside a process that keeps one core busy (as the test suite's other worker does).
Needs `make run` first. Not run by the tests: timings are noisy.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from lakehouse.config import TrainingConfig, paths, read_tuned
from lakehouse.models.boosting import fit_lightgbm, tuned_params
from lakehouse.models.features.build import read_features
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.split import task_splits
from lakehouse.models.train import make_preprocessor, tuned_features

REPEATS = 3


@contextmanager
def busy_core(busy: bool) -> Iterator[None]:
    """A process spinning on one core for the duration, if `busy`."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        yield
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def main() -> int:
    p = paths()
    if not p.warehouse.exists():
        print("needs a published warehouse: run `make run` first")
        return 1
    base = TrainingConfig()
    tuned = read_tuned("classification", FEATURES.all)
    splits = task_splits(read_features(p.warehouse, base.horizon_minutes), base, "classification")
    pre = make_preprocessor(splits["train"], tuned_features(tuned))
    print(f"\nclassifier fit on {splits['train'].height:,} rows, best of {REPEATS} (seconds)\n")
    print(f"  {'threads':>7}  {'alone':>7}  {'one core busy':>13}")
    for threads in (2, 1):
        params = tuned_params("classification", replace(base, num_threads=threads), tuned)
        seconds = []
        for busy in (False, True):
            with busy_core(busy):
                times = []
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    fit_lightgbm(pre, splits["train"], splits["validation"], "classification", params)
                    times.append(time.perf_counter() - started)
            seconds.append(min(times))
        print(f"  {threads:>7}  {seconds[0]:7.2f}  {seconds[1]:13.2f}")
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
