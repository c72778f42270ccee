"""The commands of the models: tune, train, predict, evaluate, backtest."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from lakehouse.cli.common import TASK_NAMES, TaskChoice, app, console, fail, progress_bar, published, tasks
from lakehouse.common.formatting import counted, format_cell, format_number, plural
from lakehouse.config import (
    MAX_HORIZON_MINUTES,
    MAX_SEED,
    TrainingConfig,
    TunedParamsError,
    paths,
    tuned_params_file,
)

if TYPE_CHECKING:
    import polars as pl

    from lakehouse.models.tasks import Task

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


class Engine(StrEnum):
    local = "local"
    dask = "dask"


class FeatureEngine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def _side_by_side(metrics: pl.DataFrame, task: str, split: str) -> Table:
    """A run's models side by side, at its main horizon (where it fitted them all)."""
    import polars as pl

    rows = metrics.filter(
        (pl.col("task") == task) & (pl.col("split") == split) & (pl.col("segment_kind") == "overall")
    )
    if "horizon_minutes" in rows.columns and rows.height:
        models = rows.group_by("horizon_minutes").agg(pl.col("model_name").n_unique().alias("models"))
        main = models.sort(["models", "horizon_minutes"], descending=True)["horizon_minutes"][0]
        rows = rows.filter(pl.col("horizon_minutes") == main)
    table = Table(
        "model", *SIDE_BY_SIDE[task], box=box.SIMPLE_HEAD, title=f"{task}, {split}", title_justify="left"
    )
    for model in rows["model_name"].unique(maintain_order=True):
        values = dict(rows.filter(pl.col("model_name") == model).select("metric", "value").iter_rows())
        table.add_row(
            model, *(format_number(values.get(m, float("nan")), trim=False) for m in SIDE_BY_SIDE[task])
        )
    return table


def _registry_into_published(p: Any) -> None:
    """The registry tables into a copy of the published warehouse, switched in whole."""
    from lakehouse.models.registry import load_registry_into
    from lakehouse.platform.publish import republish

    republish(p, lambda warehouse, _lake: load_registry_into(warehouse, p.model_registry))


def _check_writable_mapping(target: Path) -> None:
    """Before a search of minutes: the file it writes can be written, and a file there already
    (whose other tasks it keeps) is a YAML mapping."""
    from lakehouse.config import tuned_document

    if target.is_dir() or not target.parent.is_dir():
        fail(f"cannot write {target}: {'a folder' if target.is_dir() else 'its folder does not exist'}")
    if not os.access(target if target.exists() else target.parent, os.W_OK):
        fail(f"cannot write {target}: permission denied")
    if target.exists():
        try:
            tuned_document(target)
        except TunedParamsError as error:
            fail(str(error), "tuning keeps the file's other tasks: fix or remove it")


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
    from lakehouse.models.tuning_run import run_tuning

    target = (output or tuned_params_file()).resolve()
    _check_writable_mapping(target)
    p = published()
    config = TrainingConfig(trials=trials, seed=seed)
    with progress_bar() as progress:
        run = run_tuning(p.models, config, tasks(task), progress, p.warehouse, target)
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
            format_cell(result.selected_value, null="-", trim=False),
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
    engine: Annotated[
        Engine,
        typer.Option(help="local: this machine; dask: refit each champion's recipe on a Dask cluster."),
    ] = Engine.local,
    scheduler: Annotated[
        str | None,
        typer.Option(help="With --engine dask: the scheduler's address (default: a local cluster)."),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(help="With --engine dask: the feature lake (default data/features/)."),
    ] = None,
) -> None:
    """Train and evaluate the delay models on the published warehouse with the tuned parameters
    (`lakehouse tune`), write the report and register the models (a challenger replaces the
    champion only on an improvement the validation days support, or when the champion's training
    months were corrected since). With `--engine dask`, refit each champion's recipe through
    LightGBM's Dask API on the feature lake and compare it with the champion (nothing registered)."""
    import polars as pl

    from lakehouse.models.training_run import run_training

    if engine == Engine.local:
        given = [
            name
            for name, value in (("--scheduler", scheduler), ("--features", features))
            if value is not None
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            fail(
                f"{' and '.join(given)} {verb} only to a training on Dask",
                "add `--engine dask`, or leave it out",
            )
    p = published()
    if engine == Engine.dask:
        _train_on_dask(p, horizon, tasks(task), scheduler, features or p.feature_lake)
        return
    config = TrainingConfig.from_environment().deciding_at(horizon, seed)
    with progress_bar() as progress:
        run = run_training(p, config, tasks(task), progress, p.warehouse)
        progress("registry tables into the published warehouse")
        _registry_into_published(p)
    metrics = pl.read_parquet(p.model_registry / f"{run.run_id}.metrics.parquet")
    for name in tasks(task):
        for split in ("validation", "test"):
            console.print(_side_by_side(metrics, name, split))
    for entry in run.entries:
        verdict = "[green]promoted[/green]" if entry.is_promoted else "[yellow]kept the champion[/yellow]"
        where = f"{entry.task} at {entry.horizon_minutes} min"
        console.print(f"{where}: {verdict}: {escape(entry.decision_reason)}")
    console.print(f"report: {run.report}")
    console.print(f"trained in {run.seconds:.0f} s; models in {p.model_runs / run.run_id}")


def _train_on_dask(p: Any, horizon: int, chosen: list[Task], scheduler: str | None, lake: Path) -> None:
    import warnings

    from distributed import Client, LocalCluster

    from lakehouse.models.dask_training import COMPARISON_FILE, comparison_record, fit_on_dask
    from lakehouse.models.registry import current_champion

    # LightGBM's Dask estimator sets the threads per worker itself and says so for every fit
    warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
    champions = []
    for name in chosen:
        entry = current_champion(p.model_registry, name, horizon)
        if entry is None:
            fail(f"no {name} champion at {horizon} min", "run `make run` (or `lakehouse train`) first")
        champions.append(entry.resolved(p.models))
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(
                LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
            )
            address = cluster.scheduler_address
        else:
            address = scheduler
        try:
            client = stack.enter_context(Client(address, timeout="20s"))
        except OSError as error:
            fail(f"no Dask scheduler at {address}: {error}")
        console.print(f"Dask scheduler {address}: {len(client.scheduler_info()['workers'])} workers")
        table = Table(
            box=box.SIMPLE_HEAD,
            title="each champion's recipe refitted on Dask, tested on the months after its training",
        )
        for column in (
            "model",
            "rounds",
            "trained rows",
            "tested",
            "metric",
            "champion",
            "on Dask",
            "mean |Δ|",
            "max |Δ|",
            "s",
        ):
            table.add_column(column, justify="left" if column in ("model", "tested", "metric") else "right")
        folder = p.model_runs / f"dask-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        compared = []
        for entry in champions:
            try:
                fit = fit_on_dask(client, lake, entry)
            except FileNotFoundError as error:
                fail(str(error))
            folder.mkdir(parents=True, exist_ok=True)
            fit.booster.save_model(str(folder / f"{entry.model_id}.txt"))
            compared.append(comparison_record(fit))
            table.add_row(
                entry.model_id,
                f"{fit.rounds:,}",
                f"{fit.trained_rows:,}",
                ", ".join(fit.tested_months),
                fit.metric,
                format_number(fit.champion_value),
                format_number(fit.dask_value),
                format_number(fit.mean_abs_difference),
                format_number(fit.max_abs_difference),
                f"{fit.seconds:.1f}",
            )
    (folder / COMPARISON_FILE).write_text(json.dumps(compared, indent=2) + "\n")
    console.print(table)
    console.print(f"models (not registered) and {COMPARISON_FILE}: {folder}")


@app.command("export-features")
def export_features(
    to: Annotated[
        Path | None, typer.Option(help="Folder of the feature lake (default data/features/).")
    ] = None,
    engine: Annotated[
        FeatureEngine,
        typer.Option(
            help="duckdb: from the published warehouse; spark: from the tables `lakehouse build-spark` "
            "left in data/spark/, on a local Spark session."
        ),
    ] = FeatureEngine.duckdb,
    horizon: Annotated[
        list[int] | None,
        typer.Option(
            min=1,
            max=MAX_HORIZON_MINUTES,
            help="Only this horizon, in minutes (repeatable; default: every horizon trained).",
        ),
    ] = None,
) -> None:
    """Write the point-in-time features of each horizon as Parquet, a file per month
    (`<folder>/<h>min/<YYYY-MM>.parquet`): what a Dask cluster trains from."""
    from lakehouse.models.dask_training import write_feature_lake

    folder = (to or paths().feature_lake).resolve()
    try:  # before the features are built: a folder that cannot be written fails at once
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"cannot write the feature lake in {folder}: {error.strerror or error}")
    with _feature_builder(engine) as build:
        for horizon_minutes in horizon or TrainingConfig().horizons_minutes:
            with console.status(f"features at {horizon_minutes} min on {engine}"):
                features = build(horizon_minutes)
                try:
                    written = write_feature_lake(features, folder)
                except OSError as error:
                    fail(f"cannot write the feature lake in {folder}: {error.strerror or error}")
            shown = folder / f"{horizon_minutes}min"
            console.print(f"{horizon_minutes} min: {counted(len(written), 'file')} in {shown}")


@contextlib.contextmanager
def _feature_builder(engine: FeatureEngine) -> Iterator[Callable[[int], pl.DataFrame]]:
    """A horizon's features on the engine: from the published warehouse on DuckDB, or on one
    Spark session over the tables `lakehouse build-spark` left (stopped at the end)."""
    from lakehouse.models.features.build import build_features_on_spark, read_features
    from lakehouse.platform.spark import JavaMissingError, SparkFolders, spark_session

    p = paths()
    if engine is FeatureEngine.duckdb:
        warehouse = published().warehouse
        yield lambda horizon: read_features(warehouse, horizon)
        return
    folders = SparkFolders(p.spark)
    if not folders.table("main", "fct_flights").is_dir():
        fail(f"no Spark build in {folders.root}", "`lakehouse build-spark` builds the dbt project on Spark")
    try:
        with console.status("starting Spark"):
            session = spark_session(folders, p.dbt_project)
    except JavaMissingError as error:
        fail(str(error))
    try:
        yield lambda horizon: build_features_on_spark(session, horizon)
    finally:
        session.stop()


@app.command()
def predict() -> None:
    """Score every flight with each task's champion, write ml.predictions, rebuild and audit the
    prediction marts, and publish them (a copy of the published warehouse, switched in whole)."""
    from lakehouse.models.batch import ScoringError, predict_with_champions
    from lakehouse.models.registry import data_fingerprint
    from lakehouse.models.training_run import features_by_horizon
    from lakehouse.platform import pipeline
    from lakehouse.platform.dbt import DbtError
    from lakehouse.platform.publish import PublishError, republish
    from lakehouse.quality.gate import new_run

    p = published()
    started = time.perf_counter()
    run = pipeline.PipelineRun(p, new_run(str(p.warehouse)))
    run.features = features_by_horizon(p.warehouse, run.config, lambda message: None)
    try:
        scored = [
            s
            for frame in run.features.values()
            for s in predict_with_champions(p.model_registry, p.predictions, frame, data_fingerprint(frame))
        ]

        def update(warehouse: Path, lake: Path) -> None:
            pipeline.load_ml_tables_into(
                warehouse, p, list(run.features.values()), [s.model_id for s in scored]
            )
            console.print(pipeline.build_prediction_marts(run, warehouse, lake))

        republish(p, update)
    except (ScoringError, DbtError, PublishError, pipeline.PipelineError) as error:
        fail(f"scoring stopped: {error}")
    for s in scored:
        verb = "scored" if s.rescored else "kept (same model, same features)"
        console.print(f"{s.task}: {s.rows:,} flights {verb} by {s.model_id}")
    console.print(f"published in {time.perf_counter() - started:.1f} s: {p.warehouse}")


def _runs(registry: Path) -> list[str]:
    """The training runs of a registry, oldest first."""
    return sorted(f.name.removesuffix(".models.parquet") for f in registry.glob("*.models.parquet"))


def _metrics_of(registry: Path, run_id: str, runs: list[str]) -> pl.DataFrame:
    if run_id not in runs:
        fail(f"no training run {run_id!r}", "`lakehouse evaluate --list` lists the runs")
    from lakehouse.common.files import read_parquet
    from lakehouse.models.registry import DAMAGED_REGISTRY_FILE

    return read_parquet(registry / f"{run_id}.metrics.parquet", DAMAGED_REGISTRY_FILE)


def _list_runs(registry: Path, runs: list[str]) -> Table:
    """A line per training run: its models at the main horizon, their values and the decisions."""
    from lakehouse.models.registry import current_champion, entries

    main = TrainingConfig().horizon_minutes
    champions = {
        e.model_id
        for task in TASK_NAMES
        for h in TrainingConfig().horizons_minutes
        if (e := current_champion(registry, task, h)) is not None
    }
    table = Table(
        "run",
        "task",
        "horizons",
        f"validation at {main} min",
        f"test at {main} min",
        "promoted",
        "champions now",
        box=box.SIMPLE_HEAD,
        title=f"{len(runs)} training {plural(len(runs), 'run')}",
        title_justify="left",
    )
    by_run: dict[tuple[str, str], list[Any]] = {}
    for e in entries(registry):
        by_run.setdefault((e.run_id, e.task), []).append(e)
    for (run_id, task), mine in by_run.items():
        at_main = [e for e in mine if e.horizon_minutes == main]
        table.add_row(
            run_id,
            task,
            ", ".join(str(e.horizon_minutes) for e in sorted(mine, key=lambda e: -e.horizon_minutes)),
            *(
                (
                    f"{e.validation_metric} {format_number(e.validation_value, trim=False)}",
                    format_number(e.test_value, trim=False),
                )
                if (e := at_main[0] if at_main else None)
                else ("", "")
            ),
            f"{sum(e.is_promoted for e in mine)} of {len(mine)}",
            str(sum(e.model_id in champions for e in mine)),
        )
    return table


def _compare(metrics: dict[str, pl.DataFrame], first: str, second: str) -> list[Table]:
    """The final model of two runs side by side at the main horizon, per task and split."""
    import polars as pl

    from lakehouse.models.metrics import COUNT_METRICS
    from lakehouse.models.train import FINAL_MODEL

    main = TrainingConfig().horizon_minutes
    tables = []
    for task in TASK_NAMES:
        for split in ("validation", "test"):
            values = {}
            for run_id in (first, second):
                rows = metrics[run_id].filter(
                    (pl.col("task") == task)
                    & (pl.col("split") == split)
                    & (pl.col("segment_kind") == "overall")
                    & (pl.col("model_name") == FINAL_MODEL)
                    & (pl.col("horizon_minutes") == main)
                )
                values[run_id] = dict(rows.select("metric", "value").iter_rows())
            if not any(values.values()):
                continue
            table = Table(
                "metric",
                first,
                second,
                "difference",
                box=box.SIMPLE_HEAD,
                title=f"{task}, {split}: {FINAL_MODEL} at {main} min",
                title_justify="left",
            )
            for name in ["rows", *SIDE_BY_SIDE[task]]:
                a, b = values[first].get(name), values[second].get(name)
                if name in COUNT_METRICS:
                    a, b = (None if v is None else int(v) for v in (a, b))
                table.add_row(
                    name,
                    format_cell(a, null="-", grouping=True, trim=False),
                    format_cell(b, null="-", grouping=True, trim=False),
                    "-" if a is None or b is None else format_number(b - a, grouping=True, trim=False),
                )
            tables.append(table)
    return tables


@app.command()
def evaluate(
    run: Annotated[
        str | None, typer.Option("--run", help="The training run to show (default: the latest).")
    ] = None,
    list_runs: Annotated[bool, typer.Option("--list", help="List the training runs.")] = False,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(help="Two training runs side by side: their final models, and the difference."),
    ] = None,
) -> None:
    """Show the champions and the side-by-side table of a training run (the latest unless
    `--run`); `--list` lists the runs, `--compare A B` sets two runs side by side."""
    from lakehouse.models.registry import current_champion

    chosen_options = (("--run", run is not None), ("--list", list_runs), ("--compare", compare is not None))
    given = [name for name, chosen in chosen_options if chosen]
    if len(given) > 1:
        fail(f"give one of --run, --list and --compare, not {' and '.join(given)}")
    p = paths()
    runs = _runs(p.model_registry)
    if not runs:
        fail("no training run yet", "run `make run` or `lakehouse train` first")
    if list_runs:
        console.print(_list_runs(p.model_registry, runs))
        return
    if compare is not None:
        both = {run_id: _metrics_of(p.model_registry, run_id, runs) for run_id in compare}
        for table in _compare(both, *compare):
            console.print(table)
        return
    chosen = runs[-1] if run is None else run
    metrics = _metrics_of(p.model_registry, chosen, runs)
    console.print(f"training run {chosen}")
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
    from lakehouse.models.backtest import SHOWN, run_backtest, section
    from lakehouse.models.registry import entries
    from lakehouse.models.report import fill_backtest
    from lakehouse.models.tasks import SELECTION_METRIC

    p = published()
    config = TrainingConfig(backtest_months=months)
    chosen = tasks(task)
    with progress_bar() as progress:
        try:
            result = run_backtest(p.models, p.model_registry, config, chosen, progress, p.warehouse)
        except ValueError as error:
            fail(str(error))
        progress("registry tables into the published warehouse")
        _registry_into_published(p)
    for name in chosen:
        metric = SELECTION_METRIC[name]
        columns = ["month", "model", *SHOWN[name], f"{metric}_low", f"{metric}_high"]
        table = Table(*columns, box=box.SIMPLE_HEAD, title=f"{name}, rolling backtest", title_justify="left")
        for row in result.table(name):
            table.add_row(*(format_cell(row.get(c), trim=False) for c in columns))
        console.print(table)
    for entry in entries(p.model_registry):
        if entry.training_signature == result.signature and entry.data_fingerprint == result.fingerprint:
            fill_backtest(Path(entry.report_path), section(result))
    console.print(f"report: {result.report}")
    console.print(f"backtested in {result.seconds:.0f} s; in ml.model_metrics as run {result.backtest_id}")
