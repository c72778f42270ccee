"""A month of weather whose pressure arrives in inches of mercury (about 29.9 instead of about
1013 mb) is a broken source, not a month of outliers: the gate stops the run before anything is
trained or published, with a message naming the file and the column, and records the failure.
On a copy of the 5% sample's landing zone (its weather is whole); the run stops at the gate (no
training)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from conftest import SampleFiles, lakehouse_environment, run_quietly
from lakehouse.cli import app
from lakehouse.platform.pipeline import PipelineError

MARCH = "weather/2013/weather_2013-03.jsonl"
MILLIBARS_PER_INCH_OF_MERCURY = 33.8639


def pressure_in_inches_of_mercury(raw: Path) -> None:
    path = raw / MARCH
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        if isinstance(record["pressure"], float | int):
            record["pressure"] = round(record["pressure"] / MILLIBARS_PER_INCH_OF_MERCURY, 2)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


def test_a_month_of_pressure_in_inches_of_mercury_stops_publishing_naming_the_file_and_column(
    sample_files: SampleFiles, broken_input_folder: Path
) -> None:
    raw = shutil.copytree(sample_files.raw, broken_input_folder / "raw")
    pressure_in_inches_of_mercury(raw)
    data = broken_input_folder / "data"

    with pytest.raises(PipelineError) as stopped:
        run_quietly(data, raw, sample_files.expectations)

    message = str(stopped.value)
    assert "step 'quality gate' failed" in message
    assert "raw.weather.pressure: values within bounds per file" in message
    assert MARCH in message
    assert "(100.0%) values outside [900, 1,100], median 29.89" in message
    assert not (data / "current").exists()
    assert not (data / "models" / "registry").exists()
    history = pl.read_parquet(data / "quality" / "validation_results" / "*.parquet")
    failed = history.filter(
        (pl.col("suite") == "raw_profiles") & ~pl.col("success") & (pl.col("severity") == "critical")
    )
    assert sorted(failed.select("table_name", "column_name", "expectation").rows()) == [
        ("raw.weather", "pressure", "median per file within the accepted range"),
        ("raw.weather", "pressure", "values within bounds per file"),
    ]
    runs = pl.read_parquet(data / "quality" / "pipeline_runs" / "*.parquet")
    assert runs.select("outcome", "step").rows() == [("refused", "quality gate")]
    # `lakehouse validate` on the build the run left judges its raw files as the gate did
    with lakehouse_environment(data, raw, sample_files.expectations):
        validated = CliRunner().invoke(app, ["validate"], terminal_width=200)
    assert validated.exit_code == 1, validated.output
    assert "raw.weather.pressure: values within bounds per file" in validated.output
    assert MARCH in validated.output
