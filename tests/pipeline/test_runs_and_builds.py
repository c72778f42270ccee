"""One run at a time per data folder, each building in its own folder: a second run refuses at once
naming the first one's PID (or waits with --wait), a refused build stays for inspection as
`data/build/latest`, only the last few builds are kept, and a run publishes its own build only.
On hand-made builds (tests/pipeline/fake_steps.py): the real steps are not needed for this."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import fake_steps
import pytest
from typer.testing import CliRunner

from lakehouse import config
from lakehouse.cli import app
from lakehouse.config import paths
from lakehouse.platform import pipeline

# Holds the run lock of the data folder in LAKEHOUSE_DATA_DIR for as many seconds as argv[1].
HOLDER = """
import sys, time
from lakehouse.config import paths
from lakehouse.platform.builds import run_lock
with run_lock(paths()):
    print("holding", flush=True)
    time.sleep(float(sys.argv[1]))
"""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAKEHOUSE_RAW_DIR", str(tmp_path / "raw"))
    return tmp_path / "data"


def _hold_the_lock(seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(seconds)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "holding\n"
    return holder


def test_a_second_run_refuses_at_once_naming_the_first_runs_pid(data_dir: Path) -> None:
    holder = _hold_the_lock(60)
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(app, ["run"])
        assert time.perf_counter() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # handled, not raised
    assert result.output.strip().count("\n") == 0, result.output  # one line
    assert f"another lakehouse run (PID {holder.pid}) is using {data_dir}" in result.output
    assert "--wait" in result.output
    assert not (data_dir / "build").exists()
    assert not (data_dir / "quality").exists()


def test_with_wait_a_second_run_waits_for_the_first_then_runs(data_dir: Path) -> None:
    holder = _hold_the_lock(2)
    try:
        result = CliRunner().invoke(app, ["run", "--wait"])
    finally:
        holder.wait()
    assert f"another lakehouse run (PID {holder.pid})" in result.output
    assert "waiting for it to end" in result.output
    # then it ran: on this empty landing zone, it stops in its first step
    assert "the landing zone" in result.output
    assert "is empty" in result.output


def _marker(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return str(connection.execute("select run_id from marker").fetchall()[0][0])


def test_each_run_builds_in_its_own_folder_keeps_the_last_few_and_publishes_only_its_own(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = paths()
    refused: list[str] = []

    def build(run: pipeline.PipelineRun) -> str:
        refused.append(run.validation.run_id)
        return fake_steps.build(run)

    monkeypatch.setattr(pipeline, "STEPS", [("dbt build", build), ("quality gate", fake_steps.refusing_gate)])
    for _ in range(config.KEPT_BUILDS + 2):
        with pytest.raises(pipeline.PipelineError):
            pipeline.run_pipeline(fake_steps.quiet_console())
    kept = {f.name for f in p.builds.iterdir() if f.name != "latest"}
    assert kept == set(refused[-config.KEPT_BUILDS :])
    for run_id in kept:
        assert _marker(p.builds / run_id / "warehouse.duckdb") == run_id
    # `latest` is the last refused build: what `lakehouse query --build` and `validate` read
    assert p.latest_build.resolve() == (p.builds / refused[-1]).resolve()
    result = CliRunner().invoke(app, ["query", "--build", "select run_id from marker"])
    assert result.exit_code == 0, result.output
    assert refused[-1] in result.output

    monkeypatch.setattr(pipeline, "STEPS", [("dbt build", fake_steps.build), ("publish", pipeline.publish)])
    published = pipeline.run_pipeline(fake_steps.quiet_console())
    assert _marker(p.warehouse) == published.validation.run_id
    # the refused builds are as they were; the published one left data/build/, and `latest` with it
    assert {f.name for f in p.builds.iterdir()} == set(refused[-(config.KEPT_BUILDS - 1) :])
    for run_id in refused[-(config.KEPT_BUILDS - 1) :]:
        assert _marker(p.builds / run_id / "warehouse.duckdb") == run_id
    result = CliRunner().invoke(app, ["query", "--build", "select 1"])
    assert result.exit_code == 1
    assert "the last run published its build" in result.output


def test_dbt_sees_the_same_paths_on_every_run_each_reaching_its_own_build(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt's partial parsing starts over when the profile's warehouse path changes: every run
    hands dbt `data/build/active/...`, which names that run's own folder while it runs."""
    seen: list[tuple[str, str, Path]] = []

    def run_dbt(args: list[str], *, warehouse: Path, lake_dir: Path, **_: object) -> object:
        seen.append((str(warehouse), str(lake_dir), warehouse.resolve().parent))
        raise pipeline.DbtError("stand-in: dbt did not run")

    monkeypatch.setattr(pipeline, "run_dbt", run_dbt)
    monkeypatch.setattr(pipeline, "STEPS", [("dbt build", pipeline.build_warehouse)])
    runs = []
    for _ in range(2):
        with pytest.raises(pipeline.PipelineError):
            pipeline.run_pipeline(fake_steps.quiet_console())
        runs.append(seen[-1])
    p = paths()
    assert {(warehouse, lake) for warehouse, lake, _ in runs} == {
        (str(p.builds / "active" / "warehouse.duckdb"), str(p.builds / "active" / "lake"))
    }
    assert runs[0][2] != runs[1][2]
    assert all(folder.parent == p.builds.resolve() and folder.name != "active" for *_, folder in runs)
    assert not (p.builds / "active").is_symlink()


def test_a_signal_a_library_turns_into_its_own_error_is_an_interruption(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB answers a signal during a query with its own error ("Query interrupted"): the run
    is recorded as interrupted by the signal, and exits as killed by it, not as a crash."""

    def interrupted_query(run: pipeline.PipelineRun) -> str:
        try:
            signal.raise_signal(signal.SIGTERM)
        except KeyboardInterrupt:
            raise RuntimeError("Query interrupted") from None
        return "not reached"

    monkeypatch.setattr(pipeline, "STEPS", [("dbt build", fake_steps.build), ("predict", interrupted_query)])
    with pytest.raises(pipeline.PipelineInterruptedError) as stopped:
        pipeline.run_pipeline(fake_steps.quiet_console())
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    with duckdb.connect() as connection:
        outcome = connection.execute(
            f"select outcome, step, error from read_parquet('{paths().pipeline_runs}/*.parquet') "
            "order by recorded_at desc limit 1"
        ).fetchone()
    assert outcome == ("interrupted", "predict", "SIGTERM")


def test_a_damaged_history_file_stops_the_run_naming_it_and_the_build_is_kept(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = paths()
    steps = [("dbt build", fake_steps.build), ("quality gate", fake_steps.gate)]
    monkeypatch.setattr(pipeline, "STEPS", steps)
    first = pipeline.run_pipeline(fake_steps.quiet_console())
    (damaged,) = p.validation_history.glob(f"{first.validation.run_id}*.parquet")
    damaged.write_bytes(damaged.read_bytes()[:100])
    named = rf"quality history cannot be read: .*{damaged.name}.*move"
    with pytest.raises(pipeline.PipelineError, match=named) as stopped:
        pipeline.run_pipeline(fake_steps.quiet_console())
    assert not isinstance(stopped.value, pipeline.PipelineInterruptedError)
    # the stop went to its end: the build kept as `latest` for inspection
    assert p.latest_build.resolve().name != first.validation.run_id
    assert (p.latest_build / "warehouse.duckdb").exists()
    result = CliRunner().invoke(app, ["validate", "--warehouse", str(p.latest_build / "warehouse.duckdb")])
    assert result.exit_code == 1
    assert damaged.name in result.output
    assert "Traceback" not in result.output
