"""`lakehouse run` whose steps stand in for the real ones (tests/pipeline/fake_steps.py), the
second working until a signal stops it: the child process tests/pipeline/test_interruptions.py
sends SIGINT and SIGTERM to.

    python working_pipeline.py
"""

from __future__ import annotations

import fake_steps

from lakehouse.cli import app
from lakehouse.platform import pipeline

if __name__ == "__main__":
    pipeline.STEPS[:] = [
        ("dbt build", fake_steps.build),
        ("train", fake_steps.sleeping),
        ("publish", pipeline.publish),
    ]
    app(["run"])
