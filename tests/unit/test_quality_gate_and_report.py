"""The gate's verdict, its history and its report, on hand-made results."""

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from PIL import Image

from conftest import chromium_screenshot
from lakehouse.quality.gate import gate_message, new_run
from lakehouse.quality.history import load_history_into, recent_runs, save_run
from lakehouse.quality.records import CheckResult
from lakehouse.quality.report import render_report


def _result(severity: str, success: bool, column: str = "dep_delay") -> CheckResult:
    return CheckResult(
        suite="fct_flights",
        table_name="fct_flights",
        expectation="expect_column_values_to_be_between",
        column_name=column,
        severity=severity,  # type: ignore[arg-type]
        success=success,
        expected='{"max_value": 600}',
        observed_value="5% unexpected",
        unexpected_count=12,
        unexpected_sample='[{"dep_delay": 9000, "source_file": "flights/2013/f.csv.gz", "source_line": 7}]',
        why="<delays> & units",
    )


def test_only_critical_failures_stop_the_gate_and_the_message_says_where_and_what() -> None:
    assert gate_message([_result("warning", False), _result("critical", True)]) is None
    message = gate_message([_result("critical", False, "arr_delay"), _result("warning", False)])
    assert message is not None
    assert message.splitlines()[0] == "1 critical expectation(s) failed:"
    assert "fct_flights.arr_delay: expect_column_values_to_be_between" in message
    assert 'expected {"max_value": 600}' in message
    assert "observed 5% unexpected" in message
    assert "flights/2013/f.csv.gz" in message


def test_runs_accumulate_in_the_history_and_load_into_a_warehouse(tmp_path: Path) -> None:
    history = tmp_path / "history"
    first = new_run("build", datetime(2026, 1, 1, tzinfo=UTC))
    first.results = [_result("critical", False)]
    second = new_run("build", datetime(2026, 1, 2, tzinfo=UTC))
    second.results = [_result("critical", True), _result("warning", False)]
    save_run(first, history)
    save_run(second, history)
    assert not list(history.glob("*.partial"))
    warehouse = tmp_path / "warehouse.duckdb"
    load_history_into(warehouse, history, tmp_path / "pipeline_runs")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select run_id, severity, success, unexpected_count from quality.validation_results"
        ).fetchall()
    assert rows == [
        (first.run_id, "critical", False, 12),
        (second.run_id, "critical", True, 12),
        (second.run_id, "warning", False, 12),
    ]
    assert [
        (r.run_id, r.critical_failed, r.warnings_failed)
        for r in recent_runs(history, tmp_path / "pipeline_runs")
    ] == [
        (second.run_id, 0, 1),
        (first.run_id, 1, 0),
    ]


def test_the_report_is_self_contained_and_escapes_what_it_shows(tmp_path: Path) -> None:
    run = new_run("build")
    run.results = [_result("critical", False), _result("warning", True)]
    page = render_report(run, [])
    assert "BLOCKED" in page
    assert "&lt;delays&gt; &amp; units" in page
    assert "<delays>" not in page
    # Nothing to fetch: no script, no stylesheet link, no URL.
    assert not re.search(r"<script|<link|https?://|src=", page)


def test_the_report_renders_styled_in_headless_chromium(tmp_path: Path) -> None:
    """Offline, the page must still look like a report: the red verdict badge is drawn."""
    run = new_run("build")
    run.results = [_result("critical", False)]
    page = tmp_path / "report.html"
    page.write_text(render_report(run, []))
    screenshot = tmp_path / "report.png"
    chromium_screenshot(page, screenshot, 1000, 500)
    colors = Image.open(screenshot).convert("RGB").getcolors(maxcolors=1_000_000) or []
    badge_pixels = sum(count for count, rgb in colors if rgb == (0xC5, 0x30, 0x30))
    assert badge_pixels > 1000
