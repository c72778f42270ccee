"""The `lakehouse` command line: one entry point, a subcommand per job."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from lakehouse import landing, pipeline
from lakehouse.config import paths

app = typer.Typer(help="Local-first lakehouse on nycflights13.", no_args_is_help=True)
console = Console(soft_wrap=True)


@app.command()
def land() -> None:
    """Rebuild data/raw/ from the nycflights13 package, byte for byte."""
    written = landing.land(paths().raw)
    console.print(f"landed {len(written)} files in {paths().raw}")


@app.command()
def run() -> None:
    """Run the pipeline: check the landing zone, build the warehouse, publish it."""
    started = time.perf_counter()
    try:
        pipeline.run_pipeline(console)
    except pipeline.PipelineError as error:
        console.print(f"[red]pipeline stopped:[/red] {error}")
        raise typer.Exit(code=1) from error
    console.print(f"pipeline done in {time.perf_counter() - started:.1f} s; warehouse: {paths().warehouse}")
