"""Every quality check of a run, whatever ran it, as one kind of record.

Three auditors feed the quality gate: the landing-zone check (raw files, before dbt:
`raw_files`), dbt's own data tests and contracts (during the build: `dbt_results`), and the Great
Expectations suites (after it: `suites`). Their results become `CheckResult`s, are stored together
in `quality.validation_results` and decide together whether a build may be published (`gate`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["critical", "warning"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")


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
