"""The quality report: one self-contained HTML page per validation run, and its console summary.

Our own page rather than GX data docs: those load their CSS and JS from CDNs and render unstyled
offline. This page is built with the report kit (`lakehouse.common.html`): inline CSS, no script
and no external reference, so it reads the same on a laptop without network as in CI."""

from __future__ import annotations

from html import escape
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape as escape_markup
from rich.table import Table

from lakehouse.common.formatting import counted
from lakehouse.common.html import page
from lakehouse.quality.gate import RunOutcome, ValidationRun, summarize
from lakehouse.quality.history import PastRun
from lakehouse.quality.records import CheckResult

_BLOCKED = '<span class="tag critical">blocked</span>'
_PASSED = '<span class="tag ok">passed</span>'


def _verdict(run: ValidationRun, outcome: RunOutcome | None) -> str:
    """The run's verdict: how the pipeline run ended when it is one, else what the checks say."""
    if outcome is None:
        if run.critical_failures:
            text = "BLOCKED: critical expectations failed, nothing was published"
            return f'<div class="verdict blocked">{text}</div>'
        return '<div class="verdict passed">PASSED: no critical failure</div>'
    label, css = {
        "published": ("PASSED", "passed"),
        "running": ("NOT FINISHED", "running"),
        "refused": ("BLOCKED", "blocked"),
        "interrupted": ("INTERRUPTED", "blocked"),
        "crashed": ("CRASHED", "blocked"),
    }[outcome.outcome]
    return f'<div class="verdict {css}">{label}: {escape(outcome.describe())}</div>'


def _past_verdict(past: PastRun) -> str:
    if past.outcome is None:
        return _BLOCKED if past.critical_failed else _PASSED
    o = past.outcome
    css = {"published": "ok", "running": "warning"}.get(o.outcome, "critical")
    where = f" in {escape(o.step)}" if o.step else ""
    return f'<span class="tag {css}">{o.outcome}{where}</span>'


def _status(result: CheckResult) -> str:
    if result.success:
        return '<span class="tag ok">passed</span>'
    return f'<span class="tag {result.severity}">{result.severity} failed</span>'


def _checks_table(results: list[CheckResult]) -> str:
    rows = []
    for r in results:
        rows.append(
            "<tr>"
            f"<td>{_status(r)}</td>"
            f"<td class='mono'>{escape(r.table_name + ('.' + r.column_name if r.column_name else ''))}</td>"
            f"<td>{escape(r.expectation)}<div class='why'>{escape(r.why)}</div></td>"
            f"<td class='mono'>{escape(r.expected or '')}</td>"
            f"<td class='mono'>{escape(r.observed_value or '')}</td>"
            f"<td class='num'>{'' if r.unexpected_count is None else f'{r.unexpected_count:,}'}</td>"
            f"<td class='mono'>{escape((r.unexpected_sample or '')[:600])}</td>"
            "</tr>"
        )
    return (
        "<table class='wide'><tr><th>Status</th><th>Table.column</th><th>Expectation and why</th>"
        "<th>Expected</th><th>Observed</th><th class='num'>Unexpected</th><th>Sample</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render_report(run: ValidationRun, history: list[PastRun], outcome: RunOutcome | None = None) -> str:
    """The page of a validation run; `outcome`: how the pipeline run that ran it stands or ended."""
    critical, warnings = run.critical_failures, run.warnings
    verdict = _verdict(run, outcome)
    cards = "".join(
        f'<div class="card">{label}<b>{value}</b></div>'
        for label, value in [
            ("checks", len(run.results)),
            ("passed", sum(r.success for r in run.results)),
            ("critical failed", len(critical)),
            ("warnings failed", len(warnings)),
        ]
    )
    failed_section = (
        f"<h2>Failures ({len(critical)} critical, {counted(len(warnings), 'warning')})</h2>"
        + _checks_table(critical + warnings)
        if critical or warnings
        else ""
    )
    suites = []
    for summary in summarize(run.results):
        group = [r for r in run.results if r.suite == summary.suite]
        flags = []
        if summary.critical_failed:
            flags.append(f'<span class="tag critical">{summary.critical_failed} critical</span>')
        if summary.warnings_failed:
            flags.append(f'<span class="tag warning">{counted(summary.warnings_failed, "warning")}</span>')
        suites.append(
            f"<details{' open' if summary.critical_failed else ''}><summary>{escape(summary.suite)} "
            f"<span class='mono'>({escape(summary.table_name)})</span>: "
            f"{summary.passed}/{summary.checks} passed "
            f"{' '.join(flags)}</summary>{_checks_table(group)}</details>"
        )
    past = "".join(
        f"<tr><td class='mono'>{escape(p.run_id)}</td><td>{p.started_at:%Y-%m-%d %H:%M:%S} UTC</td>"
        f"<td class='mono'>{escape(p.target)}</td><td class='num'>{p.checks}</td>"
        f"<td class='num'>{p.warnings_failed}</td><td class='num'>{p.critical_failed}</td>"
        f"<td>{_past_verdict(p)}</td></tr>"
        for p in history
    )
    body = f"""<h1>Quality gate report</h1>
<div class="meta">Run <span class="mono">{escape(run.run_id)}</span>,
started {run.started_at:%Y-%m-%d %H:%M:%S} UTC,
audited <span class="mono">{escape(run.target)}</span></div>
{verdict}
<div class="cards">{cards}</div>
{failed_section}
<h2>Suites</h2>
<p class="meta">raw_files: the landing zone, checked before dbt runs. dbt_tests and dbt_build: dbt's own tests
and builds. Every other suite is a Great Expectations suite from <span class="mono">expectations/</span>.</p>
{"".join(suites)}
<h2>Recent runs</h2>
<p class="meta">From <span class="mono">quality.validation_results</span> and
<span class="mono">quality.pipeline_runs</span> (one Parquet file per run in
<span class="mono">data/quality/validation_results/</span> and
<span class="mono">data/quality/pipeline_runs/</span>); the verdict of a pipeline run is how it ended,
that of <span class="mono">lakehouse validate</span> what its checks say.</p>
<table class="wide"><tr><th>Run</th><th>Started</th><th>Audited</th><th class="num">Checks</th>
<th class="num">Warnings failed</th><th class="num">Critical failed</th><th>Verdict</th></tr>{past}</table>"""
    return page(f"Quality gate {run.run_id}", body)


def write_report(
    run: ValidationRun, history: list[PastRun], reports: Path, outcome: RunOutcome | None = None
) -> Path:
    """Write the run's page and refresh `latest.html`; returns the run's page."""
    reports.mkdir(parents=True, exist_ok=True)
    page = render_report(run, history, outcome)
    path = reports / f"{run.run_id}.html"
    path.write_text(page)
    (reports / "latest.html").write_text(page)
    return path


def summary_table(run: ValidationRun) -> Table:
    """The console view of a run: one line per suite, then every failed check."""
    table = Table(box=box.SIMPLE_HEAD, title=f"quality gate, run {run.run_id}", title_justify="left")
    for column in ("suite", "table", "checks", "passed", "warnings failed", "critical failed"):
        table.add_column(
            column, justify="right" if column in {"checks", "passed"} or "failed" in column else "left"
        )
    for s in summarize(run.results):
        table.add_row(
            s.suite,
            s.table_name,
            str(s.checks),
            str(s.passed),
            f"[yellow]{s.warnings_failed}[/yellow]" if s.warnings_failed else "0",
            f"[red]{s.critical_failed}[/red]" if s.critical_failed else "0",
        )
    return table


def print_summary(console: Console, run: ValidationRun, report: Path | None) -> None:
    """The run's table, every failed check on its own line, and where the report is."""
    console.print(summary_table(run))
    for r in run.critical_failures:
        console.print(f"  [red]critical[/red] {escape_markup(r.message())}")
    for r in run.warnings:
        console.print(f"  [yellow]warning[/yellow]  {escape_markup(r.message())}")
    if report is not None:
        console.print(f"  quality report: {report}")
