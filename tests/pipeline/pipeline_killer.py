"""`lakehouse run`, killed SECONDS into one step (SIGKILL to its whole process group, dbt
included): the crash tests/pipeline/test_pipeline_recovery.py recovers from. Killed in `train`,
it dies before registering at the latest: a run killed after registering has added champions
trained on audited data, which the next run may reuse, as it would have.

    python pipeline_killer.py STEP SECONDS [--retrain]
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

from rich.console import Console

from lakehouse.models import registry
from lakehouse.platform import pipeline


def kill() -> None:
    os.killpg(os.getpgid(0), signal.SIGKILL)


def after_seconds(step: Callable[[pipeline.PipelineRun], str], seconds: float) -> Callable[..., str]:
    def armed(run: pipeline.PipelineRun) -> str:
        threading.Timer(seconds, kill).start()
        step(run)
        # done before the timer (a step faster than the run that timed it): die at its very end,
        # before anything reports or follows it
        kill()
        return ""

    return armed


def main() -> None:
    name, seconds = sys.argv[1], float(sys.argv[2])
    if name == "train":
        registry.save_entries = lambda *_, **__: kill()  # type: ignore[assignment]
    pipeline.STEPS[:] = [
        (step_name, after_seconds(step, seconds) if step_name == name else step)
        for step_name, step in pipeline.STEPS
    ]
    pipeline.run_pipeline(Console(), retrain="--retrain" in sys.argv)


if __name__ == "__main__":
    main()
