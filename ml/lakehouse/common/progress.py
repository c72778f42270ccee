"""How a long job reports what it is doing: a callable taking one line of text."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(message: str) -> None:
    """A progress that reports nowhere."""
