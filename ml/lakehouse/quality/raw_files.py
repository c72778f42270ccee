"""The landing zone's files, checked before dbt reads them: every declared source has files,
each with exactly the declared fields and some rows, and none is a byte copy of another."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.config import SAMPLE_SIZE, dbt_vars
from lakehouse.platform.landing import count_data_rows
from lakehouse.quality.records import CheckResult, to_json


@dataclass(frozen=True)
class RawSource:
    """A raw source as declared once, in the `raw_sources` var of dbt_project.yml."""

    name: str
    files: str
    fields: list[str]


def declared_sources() -> list[RawSource]:
    return [
        RawSource(name, spec["files"], list(spec["fields"]))
        for name, spec in dbt_vars()["raw_sources"].items()
    ]


@dataclass(frozen=True)
class RawFile:
    """What a raw file holds, measured without any SQL engine (quality.raw_files)."""

    source: str
    file: str
    size_bytes: int
    sha256: str
    data_rows: int
    fields: list[str]


def _fields_in(path: Path) -> list[str]:
    """A CSV's header names, or every key used by a JSON Lines file (unparseable lines are the
    base model's business: it quarantines them with their line number)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        if ".csv" in path.suffixes:
            header = handle.readline().rstrip("\r\n")
            return header.split(",") if header else []
        keys: dict[str, None] = {}
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                keys.update(dict.fromkeys(record))
        return list(keys)


def inspect_raw_files(raw: Path, sources: list[RawSource]) -> dict[str, list[RawFile]]:
    """Every file of every declared source: size, checksum, rows and fields."""
    found: dict[str, list[RawFile]] = {}
    for source in sources:
        found[source.name] = [
            RawFile(
                source=source.name,
                file=str(path.relative_to(raw)),
                size_bytes=path.stat().st_size,
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                data_rows=count_data_rows(path),
                fields=_fields_in(path),
            )
            for path in sorted(raw.glob(source.files))
        ]
    return found


def _raw_check(
    source: RawSource,
    files: list[RawFile],
    expectation: str,
    expected: str,
    why: str,
    offending: dict[str, Any],
    column: str | None = None,
) -> CheckResult:
    return CheckResult(
        suite="raw_files",
        table_name=f"raw.{source.name}",
        expectation=expectation,
        column_name=column,
        severity="critical",
        success=not offending,
        expected=expected,
        observed_value=to_json(offending) if offending else f"{len(files)} files",
        unexpected_count=len(offending),
        unexpected_sample=to_json(sorted(offending)[:SAMPLE_SIZE]),
        why=why,
    )


def raw_file_checks(sources: list[RawSource], found: dict[str, list[RawFile]]) -> list[CheckResult]:
    """Critical checks that must hold before dbt reads the files: each source has files, each file
    has exactly the declared fields and some rows, and no file is a byte copy of another."""
    results: list[CheckResult] = []
    for source in sources:
        files = found[source.name]
        declared = set(source.fields)
        mismatched = {
            f.file: {
                "missing": [c for c in source.fields if c not in f.fields],
                "unexpected": [c for c in f.fields if c not in declared],
            }
            for f in files
            if set(f.fields) != declared
        }
        first_with_bytes: dict[str, str] = {}
        copies: dict[str, str] = {}
        for f in files:
            if f.sha256 in first_with_bytes:
                copies[f.file] = f"same bytes as {first_with_bytes[f.sha256]}"
            first_with_bytes.setdefault(f.sha256, f.file)
        results += [
            _raw_check(
                source,
                files,
                "files exist",
                f"at least one file matching {source.files}",
                f"Files matching {source.files} must exist in the landing zone.",
                {} if files else {source.files: "no file matches"},
            ),
            _raw_check(
                source,
                files,
                "file fields match the declared fields",
                f"exactly the fields declared in dbt_project.yml (vars.raw_sources.{source.name})",
                "dbt reads columns by name: a missing or renamed column cannot be read, and an "
                "undeclared one would be ignored silently.",
                mismatched,
                column=", ".join(sorted({c for m in mismatched.values() for k in m.values() for c in k}))
                or None,
            ),
            _raw_check(
                source,
                files,
                "files have data rows",
                "at least one data row per file",
                "An empty file means a lost extract, not a month without flights.",
                {f.file: "no data rows" for f in files if f.data_rows == 0},
            ),
            _raw_check(
                source,
                files,
                "no file is a copy of another",
                "distinct SHA-256 per file",
                "A file delivered twice would count its rows twice.",
                copies,
            ),
        ]
    return results
