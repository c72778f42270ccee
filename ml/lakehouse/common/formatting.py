"""How numbers and other values read in a table cell, on the console and in the HTML reports."""

from __future__ import annotations

import math


def format_number(value: float, *, decimals: int = 4, grouping: bool = False, trim: bool = True) -> str:
    """`value` with `decimals` decimals (trailing zeros dropped when `trim`), thousands grouped
    when `grouping`. A value too small to show that way keeps its significant digits (1e-07,
    not 0), and a negative zero reads 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if grouping else str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value:,.{decimals}f}" if grouping else f"{value:.{decimals}f}"
    if value != 0 and float(text.replace(",", "")) == 0:
        return f"{value:.{decimals}g}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.lstrip("-") if text.strip("-0.,") == "" else text


def format_cell(value: object, *, null: str = "", grouping: bool = False, trim: bool = True) -> str:
    """Any value of a result row as text: numbers by `format_number`, None as `null`."""
    if value is None:
        return null
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value, grouping=grouping, trim=trim)
    return str(value)


def plural(count: int, word: str, many: str | None = None) -> str:
    """`word` as it reads after `count`: "1 warning", "2 warnings" (`many` when not word + s)."""
    return word if count == 1 else (many or word + "s")


def counted(count: int, word: str, many: str | None = None) -> str:
    """`count` and `word` in agreement: "1 warning", "2 warnings", "1,200 checks"."""
    return f"{count:,} {plural(count, word, many)}"
