"""The pipeline as one run: a rerun with nothing changed reproduces every table and lake file, a
pipeline killed in the middle of any step leaves the published warehouse as it was, the next run
starts cleanly and publishes the same tables, and `lakehouse score` republishes the predictions.

These run on a 5% sample of the flights (every month, all other sources whole; the suite's
monthly volume bounds lowered to match), so that the many runs stay cheap."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from conftest import lakehouse_environment, run_quietly
from lakehouse.cli import app
from lakehouse.config import Paths, paths
from lakehouse.pipeline import STEPS, PipelineRun

pytestmark = pytest.mark.warehouse

KILLER = Path(__file__).with_name("pipeline_killer.py")
# Grows by one run per run, by design (the quality history).
HISTORY_TABLES = {"quality.validation_results"}


def table_checksums(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of every row, per table and view."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables order by 1"
        ).fetchall()
        return {
            name: connection.execute(f"select count(*), sum(hash(t)::hugeint) from {name} as t").fetchone()  # type: ignore[misc]
            for (name,) in tables
            if name not in HISTORY_TABLES
        }


def lake_digests(lake: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(lake.glob("*.parquet"))}


def published_state(p: Paths) -> tuple[str, str, dict[str, str]]:
    """Which version is published, the bytes of its warehouse, and its lake."""
    warehouse = hashlib.sha256(p.warehouse.read_bytes()).hexdigest()
    return p.current.resolve().name, warehouse, lake_digests(p.lake)


@dataclass(frozen=True)
class Sample:
    raw: Path
    data: Path
    first: PipelineRun
    # what the first run published (its files are replaced by the second run's)
    first_version: str
    first_checksums: dict[str, tuple[int, int]]
    first_lake: dict[str, str]
    second: PipelineRun


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sample]:
    """Raw files with every 20th flight, a first pipeline run on them (it trains) and a second
    (it reuses the champions)."""
    root = tmp_path_factory.mktemp("sample")
    raw = root / "raw"
    shutil.copytree(paths().raw, raw)
    for path in sorted(raw.glob("flights/*/*.csv.gz")):
        with gzip.open(path, "rt") as handle:
            header, *rows = handle.read().splitlines()
        path.write_bytes(gzip.compress(("\n".join([header, *rows[::20]]) + "\n").encode(), mtime=0))
    expectations = root / "expectations"
    shutil.copytree(paths().expectations, expectations)
    volume = expectations / "stg_nycflights__flights.yml"
    volume.write_text(volume.read_text().replace("not between 20000 and 35000", "not between 1000 and 1750"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEHOUSE_EXPECTATIONS_DIR", str(expectations))
        first = run_quietly(root / "data", raw)
        yield Sample(
            raw=raw,
            data=root / "data",
            first=first,
            first_version=first.paths.current.resolve().name,
            first_checksums=table_checksums(first.paths.warehouse),
            first_lake=lake_digests(first.paths.lake),
            second=run_quietly(root / "data", raw),
        )


def test_a_rerun_with_nothing_changed_reproduces_every_table_and_lake_file(
    sample: Sample,
) -> None:
    assert sample.first.training is not None
    second = sample.second
    assert second.training is None, "same features, same code: the champions are reused"
    assert "kept" in next(step.detail for step in second.steps if step.name == "score")
    assert second.paths.current.resolve().name != sample.first_version
    checksums = table_checksums(second.paths.warehouse)
    assert {"ml.predictions", "main.fct_flight_predictions", "main.model_performance_daily"} <= set(checksums)
    assert checksums == sample.first_checksums
    assert lake_digests(second.paths.lake) == sample.first_lake


def _kill(data: Path, raw: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    with lakehouse_environment(data, raw):
        return subprocess.run(
            [sys.executable, str(KILLER), *arguments],
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            start_new_session=True,
            timeout=600,
        )


# Publishing is a few renames, too quick to be killed halfway by a timer: it is killed after each
# of its renames in tests/code/test_cli_and_pipeline.py.
KILLED_STEPS = [name for name, _ in STEPS if name != "publish"]


def test_a_run_killed_in_any_step_leaves_the_published_warehouse_whole(
    sample: Sample,
) -> None:
    raw, data, first, second = sample.raw, sample.data, sample.first, sample.second
    # halfway through each step as the second run timed it, the training step as the first did
    seconds = {step.name: step.seconds for step in second.steps}
    seconds["train"] = next(step.seconds for step in first.steps if step.name == "train")
    before = published_state(first.paths)
    for name in KILLED_STEPS:
        extra = ["--retrain"] if name == "train" else []
        result = _kill(data, raw, name, f"{seconds[name] / 2:.2f}", *extra)
        assert result.returncode == -signal.SIGKILL, f"{name}: not killed\n{result.stdout}\n{result.stderr}"
        assert f"✓ {name}" not in result.stdout, f"{name} finished before the kill: {result.stdout}"
        assert published_state(first.paths) == before, f"killed in {name}: the published files changed"
    # The next run starts cleanly and publishes the same tables.
    final = run_quietly(data, raw)
    assert final.training is None
    assert table_checksums(final.paths.warehouse) == sample.first_checksums


def test_lakehouse_score_rescores_and_republishes_the_prediction_marts(
    sample: Sample,
) -> None:
    first = sample.first
    for predictions in first.paths.predictions.glob("*.parquet"):
        predictions.unlink()
    before = first.paths.current.resolve()
    with lakehouse_environment(sample.data, sample.raw):
        result = CliRunner().invoke(app, ["score"])
    assert result.exit_code == 0, result.output
    assert result.output.count("flights scored by") == 2
    assert first.paths.current.resolve() != before
    checksums = table_checksums(first.paths.warehouse)
    # the same scores, written at another time
    expected = dict(sample.first_checksums)
    for table in ("ml.predictions", "main.fct_flight_predictions"):
        assert checksums.pop(table)[0] == expected.pop(table)[0]
    assert checksums == expected
