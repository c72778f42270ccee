"""The quality gate's verdict: a validation run's results, whether they let a build be published,
their counts per suite, and how a pipeline run ended."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from lakehouse.config import MESSAGE_FAILURES
from lakehouse.quality.records import CheckResult, failures

# A run id: its start (UTC, to the second) and a random suffix, so that ids sort by start.
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


@dataclass
class ValidationRun:
    run_id: str
    started_at: datetime
    target: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def critical_failures(self) -> list[CheckResult]:
        return failures(self.results, "critical")

    @property
    def warnings(self) -> list[CheckResult]:
        return failures(self.results, "warning")


def new_run_id(started: datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def new_run(target: str, now: datetime | None = None) -> ValidationRun:
    started = now or datetime.now(UTC)
    return ValidationRun(new_run_id(started), started, target)


def gate_message(results: list[CheckResult]) -> str | None:
    """None when publishing may go on; otherwise what failed, one line per critical failure."""
    critical = failures(results, "critical")
    if not critical:
        return None
    lines = [f"{len(critical)} critical expectation(s) failed:"]
    lines += [f"  - {r.message()}" for r in critical[:MESSAGE_FAILURES]]
    if len(critical) > MESSAGE_FAILURES:
        lines.append(f"  ... and {len(critical) - MESSAGE_FAILURES} more (see the report)")
    return "\n".join(lines)


@dataclass(frozen=True)
class SuiteSummary:
    suite: str
    table_name: str
    checks: int
    passed: int
    warnings_failed: int
    critical_failed: int


def summarize(results: list[CheckResult]) -> list[SuiteSummary]:
    """Counts per suite, in the order the suites ran."""
    order: dict[str, list[CheckResult]] = {}
    for result in results:
        order.setdefault(result.suite, []).append(result)
    summaries = []
    for suite, group in order.items():
        tables = sorted({r.table_name for r in group})
        summaries.append(
            SuiteSummary(
                suite=suite,
                table_name=tables[0] if len(tables) == 1 else f"{len(tables)} tables",
                checks=len(group),
                passed=sum(r.success for r in group),
                warnings_failed=len(failures(group, "warning")),
                critical_failed=len(failures(group, "critical")),
            )
        )
    return summaries


Outcome = Literal["running", "published", "refused", "interrupted", "crashed"]


@dataclass(frozen=True)
class RunOutcome:
    """Where a pipeline run stands, or how it ended: `step` is the step it is in or stopped in,
    `error` the cause (the gate's message, the exception, the signal), `version` what it
    published."""

    outcome: Outcome
    step: str | None = None
    error: str | None = None
    version: str | None = None

    def describe(self) -> str:
        if self.outcome == "published":
            return f"passed and published (version {self.version})"
        if self.outcome == "running":
            return f"no end recorded: running in step {self.step}, or killed there"
        if self.outcome == "refused":
            return f"refused in step {self.step}: a critical check failed, nothing was published"
        if self.outcome == "interrupted":
            return f"interrupted by {self.error} in step {self.step}: nothing was published"
        return f"crashed in step {self.step}: {self.error}; nothing was published"


def ending(step: str, error: BaseException, results: list[CheckResult]) -> RunOutcome:
    """How a run that stopped in `step` with `error` ended: interrupted by a signal (Ctrl-C is
    SIGINT), refused when a critical check failed, crashed otherwise."""
    if isinstance(error, KeyboardInterrupt):
        return RunOutcome("interrupted", step, str(error) or "SIGINT")
    if failures(results, "critical"):
        return RunOutcome("refused", step, str(error))
    return RunOutcome("crashed", step, f"{type(error).__name__}: {error}")
