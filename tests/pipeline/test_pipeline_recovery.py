"""The pipeline as one run: a rerun with nothing changed reproduces every table and lake file, a
pipeline killed in the middle of any step leaves the published warehouse as it was, the next run
starts cleanly and publishes the same tables, and `lakehouse predict` republishes the predictions.
On the 5% sample of the flights (conftest's `sample`), so that the many runs stay cheap."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from conftest import Sample, lake_digests, lakehouse_environment, run_quietly, table_checksums
from lakehouse.cli import app
from lakehouse.config import Paths, paths
from lakehouse.platform.pipeline import STEPS, PipelineError, PipelineRun, check_raw
from lakehouse.quality.gate import ValidationRun

pytestmark = pytest.mark.warehouse

KILLER = Path(__file__).with_name("pipeline_killer.py")


def published_state(p: Paths) -> tuple[str, str, dict[str, str]]:
    """Which version is published, the bytes of its warehouse, and its lake."""
    warehouse = hashlib.sha256(p.warehouse.read_bytes()).hexdigest()
    return p.current.resolve().name, warehouse, lake_digests(p.lake)


def test_a_rerun_with_nothing_changed_reproduces_every_table_and_lake_file(
    sample: Sample,
) -> None:
    assert sample.first.training is not None
    second = sample.second
    assert second.training is None, "same features, same code: the champions are reused"
    assert "kept" in next(step.detail for step in second.steps if step.name == "predict")
    assert second.paths.current.resolve().name != sample.first_version
    checksums = table_checksums(second.paths.warehouse)
    assert {"ml.predictions", "main.fct_flight_predictions", "main.model_performance_daily"} <= set(checksums)
    assert checksums == sample.first_checksums
    assert lake_digests(second.paths.lake) == sample.first_lake


def _kill(sample: Sample, *arguments: str) -> subprocess.CompletedProcess[str]:
    with lakehouse_environment(sample.data, sample.raw, sample.expectations):
        return subprocess.run(
            [sys.executable, str(KILLER), *arguments],
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            start_new_session=True,
            timeout=600,
        )


# Publishing is a few renames, too quick to be killed halfway by a timer: it is killed after each
# of its renames in tests/pipeline/test_cli_and_publish.py.
KILLED_STEPS = [name for name, _ in STEPS if name != "publish"]


def test_a_run_killed_in_any_step_leaves_the_published_warehouse_whole(
    sample: Sample,
) -> None:
    first, second = sample.first, sample.second
    # halfway through each step as the second run timed it, the training step as the first did
    seconds = {step.name: step.seconds for step in second.steps}
    seconds["train"] = next(step.seconds for step in first.steps if step.name == "train")
    before = published_state(first.paths)
    for name in KILLED_STEPS:
        extra = ["--retrain"] if name == "train" else []
        result = _kill(sample, name, f"{seconds[name] / 2:.2f}", *extra)
        assert result.returncode == -signal.SIGKILL, f"{name}: not killed\n{result.stdout}\n{result.stderr}"
        assert f"✓ {name}" not in result.stdout, f"{name} finished before the kill: {result.stdout}"
        assert published_state(first.paths) == before, f"killed in {name}: the published files changed"
        # SIGKILL leaves no end: the record says where the run was
        records = pl.read_parquet(first.paths.pipeline_runs / "*.parquet").sort("run_started_at")
        assert records.select("outcome", "step").row(-1) == ("running", name)
    # The next run starts cleanly and publishes the same tables.
    final = run_quietly(sample.data, sample.raw, sample.expectations)
    assert final.training is None
    assert table_checksums(final.paths.warehouse) == sample.first_checksums


def test_lakehouse_predict_rescores_and_republishes_the_prediction_marts(
    sample: Sample,
) -> None:
    first = sample.first
    for predictions in first.paths.predictions.glob("*.parquet"):
        predictions.unlink()
    before = first.paths.current.resolve()
    with lakehouse_environment(sample.data, sample.raw, sample.expectations):
        result = CliRunner().invoke(app, ["predict"])
    assert result.exit_code == 0, result.output
    assert first.training is not None
    # every champion, of each task at each horizon, scored again
    assert result.output.count("flights scored by") == len(first.training.entries) >= 4
    assert first.paths.current.resolve() != before
    checksums = table_checksums(first.paths.warehouse)
    # the same scores, written at another time
    expected = dict(sample.first_checksums)
    for table in ("ml.predictions", "main.fct_flight_predictions"):
        assert checksums.pop(table)[0] == expected.pop(table)[0]
    assert checksums == expected


def test_a_file_the_published_build_read_gone_from_the_landing_zone_stops_the_run_unless_accepted(
    sample: Sample, tmp_path: Path
) -> None:
    raw = shutil.copytree(sample.raw, tmp_path / "raw")
    (raw / "weather/2013/weather_2013-12.jsonl").unlink()
    with lakehouse_environment(sample.data, raw, sample.expectations):
        p = paths()

        def first_step(accept_removed: bool) -> str:
            validation = ValidationRun("a-run", datetime.now(UTC), str(p.warehouse))
            return check_raw(PipelineRun(p, validation, accept_removed=accept_removed))

        with pytest.raises(PipelineError) as stopped:
            first_step(accept_removed=False)
        assert "raw.weather: no published file is gone" in str(stopped.value)
        assert "weather/2013/weather_2013-12.jsonl" in str(stopped.value)
        assert first_step(accept_removed=True).startswith("26 files")
