"""Values written into DuckDB's SQL text, where a parameter cannot go (a table function's file
list, COPY's target, ATTACH)."""

from __future__ import annotations

from collections.abc import Iterable


def sql_text(value: object) -> str:
    """`value` as a DuckDB string literal: a quote in it (a folder named o'hare) is doubled, so it
    stays part of the text."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values: Iterable[object]) -> str:
    """A DuckDB list literal of string literals (`sql_text`)."""
    return "[" + ", ".join(sql_text(value) for value in values) + "]"
