"""The `lakehouse` command line: one entry point, a subcommand per job.

The commands import what they use when they run, so that `--help` and `query` start without
loading LightGBM, scikit-learn or Great Expectations."""

from __future__ import annotations

from lakehouse.cli import data, live, models
from lakehouse.cli.common import app

__all__ = ["app", "data", "live", "models"]
