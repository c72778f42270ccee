"""`lakehouse run`, killed partway through one step (SIGKILL to its whole process group, dbt
included): the crash tests/data/test_pipeline_recovery.py recovers from.

    python pipeline_killer.py STEP after SECONDS [--retrain]   kill SECONDS into STEP
    python pipeline_killer.py publish rename N                 kill right after publish's N-th rename
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console

from lakehouse import pipeline


def kill() -> None:
    os.killpg(os.getpgid(0), signal.SIGKILL)


def after_seconds(step: Callable[[pipeline.PipelineRun], str], seconds: float) -> Callable[..., str]:
    def armed(run: pipeline.PipelineRun) -> str:
        threading.Timer(seconds, kill).start()
        return step(run)

    return armed


def after_renames(step: Callable[[pipeline.PipelineRun], str], renames: int) -> Callable[..., str]:
    replace = os.replace

    def counting(*args: Any, **kwargs: Any) -> None:
        nonlocal renames
        replace(*args, **kwargs)
        renames -= 1
        if renames == 0:
            kill()

    def armed(run: pipeline.PipelineRun) -> str:
        os.replace = counting
        return step(run)

    return armed


def main() -> None:
    name, how, amount = sys.argv[1], sys.argv[2], float(sys.argv[3])
    arm = after_seconds if how == "after" else after_renames
    pipeline.STEPS[:] = [
        (step_name, arm(step, amount) if step_name == name else step)  # type: ignore[arg-type]
        for step_name, step in pipeline.STEPS
    ]
    pipeline.run_pipeline(Console(), retrain="--retrain" in sys.argv)


if __name__ == "__main__":
    main()
