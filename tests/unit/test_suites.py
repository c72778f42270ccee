"""Suite files and the Great Expectations path over DuckDB, on a small warehouse.

These pin the GX SQL path: with GX's stock duckdb-engine connection every expectation fails with
"list index out of range" (see lakehouse.suites); here each must come back with its values."""

from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from lakehouse.config import paths
from lakehouse.quality.suites import SuiteError, load_suite, run_suites


@pytest.fixture
def small_warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema audit")
        connection.execute(
            "create table main.flights as select * from (values "
            "('UA', 10, false, 'f.csv', 2), ('AA', null, true, 'f.csv', 3), "
            "('ZZ', 900, false, 'f.csv', 4), ('UA', 5, false, 'g.csv', 2)"
            ") v(carrier, dep_delay, is_cancelled, source_file, source_line)"
        )
        connection.execute("create table audit.counts as select 3 as n")
    return path


def _suite(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flights.yml"
    path.write_text(text)
    return path


SUITE = """
table: flights
row_id: [source_file, source_line]
expectations:
  - type: expect_column_values_to_be_in_set
    column: carrier
    value_set: [UA, AA]
    severity: critical
    why: known carriers
  - type: expect_column_values_to_not_be_null
    column: dep_delay
    where: {is_cancelled: false}
    severity: critical
    why: departed flights have a delay
  - type: expect_column_values_to_be_between
    column: dep_delay
    min_value: 0
    max_value: 600
    severity: warning
    why: long delays are rare
  - type: unexpected_rows_expectation
    severity: critical
    expected: as many flights as audit.counts says
    why: reconciliation across schemas
    unexpected_rows_query: |
      select count(*) as flights, (select n from audit.counts) as expected
      from {batch}
      having count(*) <> (select n from audit.counts)
"""


def test_each_expectation_comes_back_with_observed_values_and_located_samples(
    small_warehouse: Path, tmp_path: Path
) -> None:
    results = run_suites(small_warehouse, [load_suite(_suite(tmp_path, SUITE))])
    by_type = {r.expectation: r for r in results}
    carrier = by_type["expect_column_values_to_be_in_set"]
    assert (carrier.success, carrier.unexpected_count, carrier.severity) == (False, 1, "critical")
    assert carrier.unexpected_sample == '[{"carrier": "ZZ", "source_file": "f.csv", "source_line": 4}]'
    assert "flights.carrier: expect_column_values_to_be_in_set" in carrier.message()
    # The row condition keeps the cancelled flight (no delay) out of the check.
    assert by_type["expect_column_values_to_not_be_null"].success
    assert "0 of 3 rows checked" in (by_type["expect_column_values_to_not_be_null"].observed_value or "")
    delay = by_type["expect_column_values_to_be_between"]
    assert (delay.success, delay.severity, delay.unexpected_count) == (False, "warning", 1)
    reconciliation = by_type["unexpected_rows_expectation"]
    assert (reconciliation.success, reconciliation.unexpected_count) == (False, 1)
    assert reconciliation.unexpected_sample == '[{"expected": 3, "flights": 4}]'
    assert reconciliation.expected == "as many flights as audit.counts says"


def test_a_missing_table_or_column_fails_instead_of_passing(small_warehouse: Path, tmp_path: Path) -> None:
    missing_table = _suite(tmp_path, SUITE.replace("table: flights", "table: audit.nowhere"))
    assert [(r.expectation, r.success) for r in run_suites(small_warehouse, [load_suite(missing_table)])] == [
        ("table exists", False)
    ]
    missing_column = _suite(tmp_path, SUITE.replace("column: carrier", "column: carrier_code"))
    (result,) = [
        r
        for r in run_suites(small_warehouse, [load_suite(missing_column)])
        if r.column_name == "carrier_code"
    ]
    assert not result.success
    assert "carrier_code" in (result.observed_value or "")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("severity: warning", "severity: minor"), "severity must be one of critical, warning"),
        (("    why: long delays are rare\n", ""), "expectation 3 .* say why"),
    ],
)
def test_a_malformed_suite_names_the_file_and_the_entry(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(SuiteError, match=message):
        load_suite(_suite(tmp_path, SUITE.replace(*change)))


def test_every_suite_in_the_repository_loads() -> None:
    from lakehouse.config import paths
    from lakehouse.quality.suites import load_suites

    suites = load_suites(paths().expectations)
    assert len(suites) >= 15
    assert all(e.why for s in suites for e in s.expectations)


def _scored_warehouse(path: Path, scored: dict[str, list[str]]) -> Path:
    """fct_flights f1-f3; an older and a newer promoted classifier at 120 minutes (the newer the
    champion); `scored`: the flights each model scored in ml.predictions."""
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table main.fct_flights as select unnest(['f1', 'f2', 'f3']) as flight_id")
        connection.execute("create schema ml")
        connection.execute(
            "create table ml.model_registry as select * from (values "
            "('old', 'classification', 120, timestamptz '2026-01-01 00:00:00+00', true, false), "
            "('new', 'classification', 120, timestamptz '2026-02-01 00:00:00+00', true, true)"
            ") v(model_id, task, horizon_minutes, created_at, is_promoted, is_champion)"
        )
        rows = [(flight, model) for model, flights in scored.items() for flight in flights]
        connection.execute("create table ml.predictions (flight_id varchar, model_id varchar)")
        connection.executemany("insert into ml.predictions values (?, ?)", rows)
    return path


def test_the_champion_scores_every_flight_and_an_earlier_version_keeps_the_flights_it_scored(
    tmp_path: Path,
) -> None:
    suite = load_suite(paths().prediction_expectations / "predictions.yml")
    (rule,) = [e for e in suite.expectations if (e.expected or "").startswith("every flight of fct_flights")]
    complete = replace(suite, expectations=[rule])

    def passes(name: str, scored: dict[str, list[str]]) -> bool:
        (result,) = run_suites(_scored_warehouse(tmp_path / f"{name}.duckdb", scored), [complete])
        return result.success

    # a flight added since the earlier version scored: only the champion must have it
    assert passes("added", {"new": ["f1", "f2", "f3"], "old": ["f1", "f2"]})
    assert not passes("champion_short", {"new": ["f1", "f2"], "old": ["f1", "f2", "f3"]})
    assert not passes("unknown", {"new": ["f1", "f2", "f3"], "old": ["f1", "f2", "f9"]})
