"""The HTML kit of the reports: one stylesheet, the page around a body, tables of rows.

Pages are self-contained (inline CSS, no script, no external reference), so a report reads the
same on a laptop without network as in CI."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from lakehouse.common.formatting import format_cell

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
  max-width: 1200px; padding: 0 1rem; color: #1a202c; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
h3 { font-size: 1rem; }
.meta, .note, .why { color: #4a5568; } .note { max-width: 60rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
table.wide { width: 100%; }
th, td { border-bottom: 1px solid #e2e8f0; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f7fafc; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px;
  word-break: break-word; }
img { max-width: 100%; border: 1px solid #e2e8f0; margin: .3rem 0; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: .8rem; }
.verdict { display: inline-block; padding: .35rem .8rem; border-radius: 4px; font-weight: 700;
  color: #fff; margin: .75rem 0; }
.passed { background: #2f855a; } .blocked { background: #c53030; } .running { background: #718096; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.card { border: 1px solid #e2e8f0; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
.tag { border-radius: 3px; padding: 0 .4rem; font-size: 12px; font-weight: 600; white-space: nowrap; }
.ok { background: #c6f6d5; color: #22543d; } .warning { background: #fefcbf; color: #744210; }
.critical { background: #fed7d7; color: #822727; }
details { border: 1px solid #e2e8f0; border-radius: 6px; margin: .5rem 0; padding: .3rem .8rem; }
summary { cursor: pointer; font-weight: 600; }
"""


def page(title: str, body: str, refresh_seconds: int | None = None, css: str = "") -> str:
    """A whole HTML document: `title` (text) and `body` (HTML) with the stylesheet inline (and
    `css` after it); with `refresh_seconds`, the browser reloads it that often."""
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">' if refresh_seconds else ""
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">{refresh}'
        f"<title>{escape(title)}</title>"
        f"<style>{CSS}{css}</style></head><body>\n{body}\n</body></html>\n"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as a table, one column per name; numbers right-aligned, grouped by thousands."""
    numeric = {c for c in columns if rows and all(_is_number(r.get(c)) for r in rows if r.get(c) is not None)}
    head = "".join(f"<th{' class=num' if c in numeric else ''}>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if c in numeric else ''}>{escape(format_cell(row.get(c), grouping=True))}</td>"
            for c in columns
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def titled_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str], note: str = "") -> str:
    """A table under its heading, with an optional note."""
    return (
        f"<h3>{escape(title)}</h3>"
        + (f"<p class='note'>{escape(note)}</p>" if note else "")
        + table(rows, columns)
    )
