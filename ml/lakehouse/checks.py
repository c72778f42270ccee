"""Every quality check of a run, whatever ran it, as one kind of record.

Three auditors feed the quality gate: the landing-zone check (raw file headers, before dbt), dbt's
own data tests and contracts (during the build), and the Great Expectations suites (after it).
Their results become `CheckResult`s, are stored together in `quality.validation_results` and
decide together whether a build may be published."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from lakehouse.landing import count_data_rows

Severity = Literal["critical", "warning"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")
# How many unexpected values or rows a result keeps as a sample.
SAMPLE_SIZE = 10


def to_json(value: object) -> str:
    return json.dumps(value, default=str, sort_keys=True)


@dataclass(frozen=True)
class CheckResult:
    """One expectation's verdict in one run (a row of quality.validation_results)."""

    suite: str
    table_name: str
    expectation: str
    column_name: str | None
    severity: Severity
    success: bool
    expected: str | None = None
    observed_value: str | None = None
    unexpected_count: int | None = None
    unexpected_sample: str | None = None
    why: str = ""

    def message(self) -> str:
        """One line a person can act on: where, what was expected, what was seen."""
        where = self.table_name + (f".{self.column_name}" if self.column_name else "")
        parts = [f"{where}: {self.expectation}"]
        if self.expected:
            parts.append(f"expected {self.expected}")
        if self.observed_value is not None:
            parts.append(f"observed {self.observed_value}")
        if self.unexpected_count:
            parts.append(f"{self.unexpected_count:,} unexpected")
        if self.unexpected_sample and self.unexpected_sample != "[]":
            parts.append(f"e.g. {self.unexpected_sample[:300]}")
        return "; ".join(parts)

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def failures(results: Iterable[CheckResult], severity: Severity) -> list[CheckResult]:
    return [r for r in results if not r.success and r.severity == severity]


# --- the landing zone -----------------------------------------------------------------------


@dataclass(frozen=True)
class RawSource:
    """A raw source as declared once, in the `raw_sources` var of dbt_project.yml."""

    name: str
    files: str
    fields: list[str]


def declared_sources(dbt_project: Path) -> list[RawSource]:
    project = yaml.safe_load((dbt_project / "dbt_project.yml").read_text())
    return [
        RawSource(name, spec["files"], list(spec["fields"]))
        for name, spec in project["vars"]["raw_sources"].items()
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


# --- dbt ------------------------------------------------------------------------------------


def dbt_checks(run_results: dict[str, Any], manifest: dict[str, Any]) -> list[CheckResult]:
    """dbt's data tests (and any model that failed to build, contracts included) as results."""
    nodes = manifest.get("nodes", {})
    results: list[CheckResult] = []
    for run in run_results.get("results", []):
        node = nodes.get(run["unique_id"], {})
        kind = node.get("resource_type", run["unique_id"].split(".")[0])
        status = run["status"]
        if status == "skipped" or kind not in {"test", "model", "seed"}:
            continue
        if kind == "test":
            metadata = node.get("test_metadata") or {}
            attached = node.get("attached_node") or ""
            severity: Severity = (
                "warning" if str(node.get("config", {}).get("severity")).lower() == "warn" else "critical"
            )
            results.append(
                CheckResult(
                    suite="dbt_tests",
                    table_name=attached.split(".")[-1] or node.get("name", run["unique_id"]),
                    expectation=metadata.get("name") or node.get("name", run["unique_id"]),
                    column_name=node.get("column_name"),
                    severity=severity,
                    success=status == "pass",
                    expected=to_json(
                        {
                            k: v
                            for k, v in (metadata.get("kwargs") or {}).items()
                            if k not in {"model", "column_name"}
                        }
                    ),
                    observed_value=None if status == "pass" else str(run.get("message") or status),
                    unexpected_count=run.get("failures"),
                    why=(node.get("description") or "dbt data test"),
                )
            )
        elif status == "error":
            results.append(
                CheckResult(
                    suite="dbt_build",
                    table_name=node.get("name", run["unique_id"].split(".")[-1]),
                    expectation=f"{kind} builds",
                    column_name=None,
                    severity="critical",
                    success=False,
                    observed_value=str(run.get("message") or status),
                    why="A model that does not build leaves its table and everything after it stale.",
                )
            )
    return results
