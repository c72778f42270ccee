"""A run that publishes quarantined rows says so: how many, from which files (the first few, with
their counts), and where to look (the table and a query that shows them); a run without any says
nothing more. Through `lakehouse run` on hand-made builds (tests/pipeline/fake_steps.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

import fake_steps
import pytest
from typer.testing import CliRunner

from lakehouse import config
from lakehouse.cli import app
from lakehouse.platform import pipeline

QUARANTINE = [(f"flights/2013/flights_2013-{month:02d}.csv.gz", 10 - month) for month in range(1, 8)]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _publishing(monkeypatch: pytest.MonkeyPatch, quarantine: fake_steps.Quarantine) -> None:
    def build(run: pipeline.PipelineRun) -> str:
        fake_steps.write_build(run, quarantine)
        return "built"

    monkeypatch.setattr(
        pipeline,
        "STEPS",
        [("dbt build", build), ("quality gate", fake_steps.gate), ("publish", pipeline.publish)],
    )


def test_a_run_publishing_quarantined_rows_says_how_many_from_which_files_and_where(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _publishing(monkeypatch, QUARANTINE)
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    total = sum(rows for _, rows in QUARANTINE)
    files = ", ".join(f"{file} ({rows})" for file, rows in QUARANTINE[: config.QUARANTINE_FILES_SHOWN])
    (said,) = [line for line in result.output.splitlines() if line.startswith("quarantined:")]
    assert said == f"quarantined: {total} rows of 7 raw file(s) kept out of the marts: {files} and 2 more"
    (where,) = [line for line in result.output.splitlines() if "quarantine.rejected_rows:" in line]
    # the command it gives shows the rows
    command = shlex.split(where.split(": ", 1)[1])
    assert command[:2] == [".venv/bin/lakehouse", "query"]
    shown = CliRunner().invoke(app, [*command[1:], "--limit", "100"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("required field day is NA") == total


def test_a_run_without_quarantined_rows_says_nothing_of_them(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _publishing(monkeypatch, [])
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert "quarantined:" not in result.output
    assert "rejected_rows" not in result.output
