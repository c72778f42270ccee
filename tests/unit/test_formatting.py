"""How numbers and counts read on the console and in the reports, and text put into SQL."""

import duckdb
import pytest

from lakehouse.common.formatting import counted, format_cell, format_number
from lakehouse.common.sql import sql_list, sql_text
from lakehouse.platform.dbt import DbtSummary
from lakehouse.quality.gate import new_run
from lakehouse.quality.records import CheckResult
from lakehouse.quality.report import render_report


@pytest.mark.parametrize(
    ("value", "trim", "text"),
    [
        (1e-7, True, "1e-07"),
        (1e-11, False, "1e-11"),
        (-0.00001, False, "-1e-05"),
        (-0.0, False, "0.0000"),
        (-0.00000, True, "0"),
        (0.76761, False, "0.7676"),
        (54, False, "54"),
        (12.5, True, "12.5"),
    ],
)
def test_numbers_keep_their_significant_digits_and_no_negative_zero(
    value: float, trim: bool, text: str
) -> None:
    assert format_number(value, trim=trim) == text


def test_counts_read_as_whole_numbers_in_agreement_with_their_word() -> None:
    assert format_cell(1200, grouping=True, trim=False) == "1,200"
    assert counted(1, "warning") == "1 warning"
    assert counted(0, "warning") == "0 warnings"
    assert counted(1200, "check") == "1,200 checks"
    assert DbtSummary({"model": 1, "seed": 2}, ["w"]).describe() == "1 model, 2 seeds ok, 1 warning"
    assert DbtSummary({}, []).describe() == "nothing ran: the selection matched no node"


def test_the_quality_report_says_1_warning() -> None:
    run = new_run("build")
    run.results = [
        CheckResult(
            suite="fct_flights",
            table_name="fct_flights",
            expectation="expect_column_values_to_be_between",
            column_name="dep_delay",
            severity="warning",
            success=False,
            expected="{}",
            observed_value="1 unexpected",
            unexpected_count=1,
            unexpected_sample="[]",
            why="",
        )
    ]
    page = render_report(run, [])
    assert "1 warning<" in page
    assert "1 warnings" not in page


@pytest.mark.parametrize("text", ["/data/o'hare/x.parquet", "''", "plain", "a\\b 'c' \"d\""])
def test_text_put_into_duckdbs_sql_reads_back_as_itself(text: str) -> None:
    assert duckdb.sql(f"select {sql_text(text)}").fetchall() == [(text,)]
    assert duckdb.sql(f"select {sql_list([text, 'x'])}").fetchall() == [([text, "x"],)]
