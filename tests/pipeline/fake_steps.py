"""Steps standing in for the real ones (no dbt, no training), for the tests of what the pipeline
does around its steps: the run lock, the build folders, the record of how a run ended, signals,
what the console says. Each writes or checks what the real step would, in the run's own build."""

from __future__ import annotations

import io
import time
from pathlib import Path

import duckdb
import polars as pl
from rich.console import Console

from lakehouse.models import registry
from lakehouse.models.batch import predictions_file
from lakehouse.models.training_run import TrainingRun
from lakehouse.platform import pipeline
from lakehouse.platform.dbt import DbtError
from lakehouse.quality.gate import gate_message
from lakehouse.quality.records import CheckResult

# (source_file, rows) of the quarantine a build holds, the most first
Quarantine = list[tuple[str, int]]


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=200)


def check(success: bool, suite: str = "fct_flights") -> CheckResult:
    return CheckResult(
        suite=suite,
        table_name=suite,
        expectation="expect_column_values_to_not_be_null",
        column_name="flight_id",
        severity="critical",
        success=success,
        why="a test stand-in",
    )


def write_build(run: pipeline.PipelineRun, quarantine: Quarantine | None = None) -> None:
    """A warehouse marked with the run's id (and rows in quarantine.rejected_rows), and a lake, in
    the build the run audits."""
    warehouse = Path(run.validation.target)
    lake = warehouse.with_name("lake")
    lake.mkdir(parents=True)
    (lake / "fct_flights.parquet").write_text(run.validation.run_id)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create table marker as select ? as run_id", [run.validation.run_id])
        connection.execute("create schema quarantine")
        connection.execute(
            "create table quarantine.rejected_rows (source_name varchar, source_file varchar, "
            "source_line integer, rejection_reason varchar)"
        )
        for file, rows in quarantine or []:
            connection.execute(
                "insert into quarantine.rejected_rows "
                "select 'flights', ?, range + 2, 'required field day is NA' from range(?)",
                [file, rows],
            )


def build(run: pipeline.PipelineRun) -> str:
    write_build(run)
    return "built"


def gate(run: pipeline.PipelineRun) -> str:
    """The audit passes, and is recorded as the real gate's is."""
    run.validation.results.append(check(True))
    pipeline.record(run)
    return "passed"


def refusing_gate(run: pipeline.PipelineRun) -> str:
    run.validation.results.append(check(False))
    pipeline.record(run)
    raise pipeline.PipelineError(gate_message(run.validation.results) or "")


def training(run: pipeline.PipelineRun) -> str:
    """Registers a run of one model, which writes its predictions, as the train and predict steps
    would."""
    # here: the child processes that import these steps run without the tests' conftest
    from conftest import registry_entry

    p = run.paths
    run_id = f"trained-{run.validation.run_id}"
    entry = registry_entry(run_id, "classification", p.model_runs / run_id, hours=1)
    registry.save_entries(p.model_registry, run_id, [entry], pl.DataFrame({"run_id": [run_id]}))
    p.predictions.mkdir(parents=True, exist_ok=True)
    predictions_file(p.predictions, entry.model_id).write_text("scores")
    run.training = TrainingRun(run_id, [], [entry], p.model_runs / run_id / "report", 1.0)
    return "trained"


def failing_dbt_test(run: pipeline.PipelineRun) -> str:
    """A dbt data test of the prediction marts fails: dbt's results join the run's, dbt raises."""
    run.validation.results.append(check(False, suite="dbt_tests"))
    raise DbtError("dbt build failed:\n  test not_null_model_performance_daily_roc_auc: Got 3 results")


def crashing_predict(run: pipeline.PipelineRun) -> str:
    raise RuntimeError("scoring broke: no champion for classification")


def sleeping(run: pipeline.PipelineRun) -> str:
    """Says it is working, then works until a signal stops it."""
    print("working", flush=True)
    time.sleep(120)
    return "done"
