"""SIGTERM or SIGINT (Ctrl-C) during `lakehouse run`: the run says in which step it stopped,
records itself as interrupted (quality.pipeline_runs, the report), keeps its build for inspection,
exits as the signal would (128 + its number), and the published version stays as it was. On a
real run killed in the dbt build (dbt's child process with it), and on stand-in steps for SIGINT
and SIGTERM both."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from test_pipeline_recovery import published_state
from typer.testing import CliRunner

from conftest import Sample, lakehouse_environment
from lakehouse.cli import app
from lakehouse.config import paths

WORKING = Path(__file__).with_name("working_pipeline.py")
LAKEHOUSE = Path(sys.executable).with_name("lakehouse")


def _start(command: list[str]) -> subprocess.Popen[str]:
    # unbuffered: the test reads the child's lines as it prints them
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def _read_until(child: subprocess.Popen[str], start: str) -> list[str]:
    assert child.stdout is not None
    lines = []
    for line in child.stdout:
        lines.append(line)
        if line.startswith(start):
            return lines
    raise AssertionError(f"the child ended before printing {start!r}:\n{''.join(lines)}")


def _stop(child: subprocess.Popen[str], number: signal.Signals, read: list[str]) -> str:
    child.send_signal(number)
    rest, errors = child.communicate(timeout=120)
    output = "".join(read) + rest
    assert child.returncode == 128 + number, f"{child.returncode}\n{output}\n{errors}"
    assert "Traceback" not in errors, errors
    return output


def _record(data: Path, outcome: str) -> dict[str, object]:
    records = pl.read_parquet(data / "quality/pipeline_runs/*.parquet").filter(pl.col("outcome") == outcome)
    (record,) = records.to_dicts()
    return record


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=lambda number: number.name)
def test_a_signal_stops_the_run_in_its_step_and_records_it_as_interrupted(
    number: signal.Signals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(data))
    child = _start([sys.executable, str(WORKING)])
    output = _stop(child, number, _read_until(child, "working"))
    assert f"pipeline stopped: interrupted by {number.name} in step 'train'" in output
    assert "the published warehouse is unchanged" in output
    record = _record(data, "interrupted")
    assert (record["step"], record["error"]) == ("train", number.name)
    report = data / "quality/reports" / f"{record['run_id']}.html"
    assert f"INTERRUPTED: interrupted by {number.name} in step train" in report.read_text()
    # its build is kept for inspection, the lock released: another run goes ahead
    assert paths().latest_build.resolve().name == record["run_id"]
    assert not paths().warehouse.exists()
    assert CliRunner().invoke(app, ["run"]).exit_code == 1  # (on an empty landing zone)


def _dbt_processes(target: Path) -> list[str]:
    """The command lines of the dbt processes writing into `target`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if str(target).encode() in words:
            found.append(b" ".join(words).decode())
    return found


@pytest.mark.warehouse
def test_sigterm_in_the_dbt_build_of_a_real_run_leaves_the_published_version_and_says_where(
    sample: Sample, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample.data, data, symlinks=True)
    with lakehouse_environment(data, sample.raw, sample.expectations):
        p = paths()
        before = published_state(p)
        child = _start([str(LAKEHOUSE), "run"])
        read = _read_until(child, "✓ raw files")
        time.sleep(3)  # into the dbt build
        # meanwhile, a second run refuses at once, naming the first one
        second = CliRunner().invoke(app, ["run"])
        assert second.exit_code == 1
        assert f"another lakehouse run (PID {child.pid}) is using {data}" in second.output
        output = _stop(child, signal.SIGTERM, read)
        assert "✗ dbt build" in output
        assert "pipeline stopped: interrupted by SIGTERM in step 'dbt build'" in output
        record = _record(data, "interrupted")
        assert (record["step"], record["error"]) == ("dbt build", "SIGTERM")
        assert published_state(p) == before
        assert _dbt_processes(p.dbt_target) == []
