"""The Great Expectations suites in `expectations/` and how they are run against a DuckDB file.

A suite is a YAML file per table: each entry is a GX expectation (its `type` and arguments as GX
names them) plus a `severity` and a `why`. `where: {column: value}` limits an expectation to
matching rows. GX runs through its SQL datasource, so every expectation is a query DuckDB answers
(nothing is loaded into Python): the same suites run on a 100x warehouse in bounded memory.

GX's SQL datasource over duckdb-engine loses every query result (GX issues 11579 and 10738: it
reads a result after SQLAlchemy rolled back the connection, and DuckDB drops pending results on
rollback). Giving each query its own DuckDB cursor avoids it; tests/data/test_quality_gate.py pins
this path to the GX and duckdb-engine versions in uv.lock."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import duckdb_engine
import yaml

from lakehouse.config import SAMPLE_SIZE
from lakehouse.quality.records import SEVERITIES, CheckResult, Severity, to_json

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

# Keys of a suite entry that are ours, not GX's.
_OWN_KEYS = {"type", "severity", "why", "where", "expected"}
# Arguments that say where an expectation looks, not what it expects.
_DOMAIN_KEYS = {"column", "row_condition", "result_format", "unexpected_rows_query"}


class SuiteError(ValueError):
    """A suite file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Expectation:
    type: str
    kwargs: dict[str, Any]
    severity: Severity
    why: str
    where: dict[str, Any] = field(default_factory=dict)
    expected: str | None = None

    @property
    def column(self) -> str | None:
        column = self.kwargs.get("column")
        return str(column) if column else None

    def expected_text(self) -> str:
        if self.expected:
            return self.expected
        expected = {k: v for k, v in self.kwargs.items() if k not in _DOMAIN_KEYS}
        if self.where:
            expected["where"] = self.where
        return to_json(expected)


@dataclass(frozen=True)
class Suite:
    name: str
    table: str
    description: str
    expectations: list[Expectation]
    # Columns that locate a row (e.g. source_file, source_line): failures sample them.
    row_id: list[str] = field(default_factory=list)

    @property
    def schema_and_table(self) -> tuple[str, str]:
        schema, _, table = self.table.rpartition(".")
        return schema or "main", table


def load_suite(path: Path) -> Suite:
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or "table" not in document or "expectations" not in document:
        raise SuiteError(f"{path}: a suite needs `table` and `expectations`")
    expectations = []
    for number, entry in enumerate(document["expectations"], start=1):
        where = f"{path}, expectation {number} ({entry.get('type', '?')})"
        if entry.get("severity") not in SEVERITIES:
            raise SuiteError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        if not str(entry.get("why", "")).strip():
            raise SuiteError(f"{where}: say why the expectation exists (`why`)")
        expectations.append(
            Expectation(
                type=entry["type"],
                kwargs={k: v for k, v in entry.items() if k not in _OWN_KEYS},
                severity=entry["severity"],
                why=" ".join(str(entry["why"]).split()),
                where=entry.get("where") or {},
                expected=entry.get("expected"),
            )
        )
    return Suite(
        name=path.stem,
        table=document["table"],
        description=" ".join(str(document.get("description", "")).split()),
        expectations=expectations,
        row_id=list(document.get("row_id") or []),
    )


def load_suites(directory: Path) -> list[Suite]:
    return [load_suite(path) for path in sorted(directory.glob("*.yml"))]


class _CursorPerQuery(duckdb_engine.ConnectionWrapper):
    """A duckdb-engine connection whose every SQLAlchemy cursor is its own DuckDB cursor, so a
    result survives the rollback that ends GX's query (see the module docstring)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, search_path: str) -> None:
        super().__init__(connection)
        self.duckdb_connection = connection
        self.search_path = search_path

    def cursor(self) -> duckdb_engine.CursorWrapper:
        cursor = self.duckdb_connection.cursor()
        # GX leaves the schema out of its queries (and deprecates passing one): name it here.
        cursor.execute(f"set search_path = '{self.search_path}'")
        return duckdb_engine.CursorWrapper(cursor, self)


def _gx_expectation(expectation: Expectation, index: int) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.metadata_types import FailureSeverity
    from great_expectations.expectations.row_conditions import Column

    kwargs = dict(expectation.kwargs)
    condition = None
    for column, value in expectation.where.items():
        term = Column(column) == value
        condition = term if condition is None else condition & term
    if condition is not None:
        kwargs["row_condition"] = condition.dict()
    configuration = ExpectationConfiguration(
        type=expectation.type,
        kwargs=kwargs,
        meta={"index": index},
        severity=FailureSeverity(expectation.severity),
    )
    return configuration.to_domain_obj()


def _observed(result: dict[str, Any]) -> str | None:
    if "observed_value" in result:
        return to_json(result["observed_value"])
    if result.get("element_count") is not None:
        return (
            f"{result.get('unexpected_percent') or 0:.4g}% unexpected "
            f"({result.get('unexpected_count') or 0:,} of {result['element_count']:,} rows checked)"
        )
    return None


def _exception_message(info: Any) -> str | None:
    """GX reports errors either flat or per metric; return the first message, if any."""
    if not info:
        return None
    if "exception_message" in info:
        return str(info["exception_message"]) if info.get("raised_exception") else None
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return None


def _check_result(
    suite: Suite, expectation: Expectation, outcome: ExpectationValidationResult
) -> CheckResult:
    result = outcome.result or {}
    error = _exception_message(outcome.exception_info)
    sample: list[Any] = list(
        result.get("partial_unexpected_index_list") or result.get("partial_unexpected_list") or []
    )
    unexpected = result.get("unexpected_count")
    observed = _observed(result)
    # A query expectation reports the rows its query returned, and how many.
    rows = (result.get("details") or {}).get("unexpected_rows")
    if rows is not None:
        sample = [dict(row) for row in rows]
        unexpected = int(result.get("observed_value") or 0)
        observed = f"{unexpected} offending row(s)"
    return CheckResult(
        suite=suite.name,
        table_name=suite.table,
        expectation=expectation.type,
        column_name=expectation.column,
        severity=expectation.severity,
        success=bool(outcome.success) and error is None,
        expected=expectation.expected_text(),
        observed_value=f"error: {error}" if error else observed,
        unexpected_count=unexpected,
        unexpected_sample=to_json(sample[:SAMPLE_SIZE]) if sample else None,
        why=expectation.why,
    )


def _index(outcome: ExpectationValidationResult) -> int:
    """Which of the suite's entries a GX result answers (GX does not keep their order)."""
    assert outcome.expectation_config is not None
    return int(outcome.expectation_config.meta["index"])


def _missing_table(suite: Suite) -> list[CheckResult]:
    return [
        CheckResult(
            suite=suite.name,
            table_name=suite.table,
            expectation="table exists",
            column_name=None,
            severity="critical",
            success=False,
            observed_value="the table is not in the warehouse",
            why="A suite's table must exist: it is missing when the model was not built.",
        )
    ]


def run_suites(warehouse: Path, suites: list[Suite]) -> list[CheckResult]:
    """Validate each suite's table in `warehouse` (opened read-only) with Great Expectations."""
    with warnings.catch_warnings():
        # GX imports pyspark (installed for the Spark target) for a Spark datasource this gate does
        # not use, and pyspark warns that it does not yet fully support pandas 3
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # One thread: DuckDB then returns rows in storage order, so the samples of unexpected rows
    # (GX takes the first n without ORDER BY) are the same on every run over the same data.
    connection = duckdb.connect(str(warehouse), read_only=True, config={"threads": 1})
    try:
        existing = {
            (schema, name)
            for schema, name in connection.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        results: list[CheckResult] = []
        for suite in suites:
            schema, table = suite.schema_and_table
            if (schema, table) not in existing:
                results.extend(_missing_table(suite))
                continue
            # The suite's schema first, then main: how GX's unqualified queries find the table.
            search_path = f"{schema},main"
            # `kwargs` reaches SQLAlchemy's create_engine; GX's stubs leave it out.
            datasource = context.data_sources.add_sql(
                name=suite.name,
                connection_string=f"duckdb:///{warehouse}",
                kwargs={"creator": lambda path=search_path: _CursorPerQuery(connection.cursor(), path)},
            )
            asset = datasource.add_table_asset(name=suite.name, table_name=table)
            batch = asset.add_batch_definition_whole_table("whole table").get_batch()
            # Query expectations return their offending rows (COMPLETE); column expectations keep
            # a sample of values (SUMMARY) rather than every unexpected value of a large table.
            for is_query in (False, True):
                chosen = [
                    (i, e)
                    for i, e in enumerate(suite.expectations)
                    if (e.type == "unexpected_rows_expectation") == is_query
                ]
                if not chosen:
                    continue
                gx_suite = gx.ExpectationSuite(name=f"{suite.name}-{is_query}")
                for index, expectation in chosen:
                    gx_suite.add_expectation(_gx_expectation(expectation, index))
                validation = batch.validate(
                    gx_suite,
                    result_format={
                        "result_format": "COMPLETE" if is_query else "SUMMARY",
                        "partial_unexpected_count": SAMPLE_SIZE,
                        **({"unexpected_index_column_names": suite.row_id} if suite.row_id else {}),
                    },
                )
                by_index = {_index(o): o for o in validation.results}
                results.extend(_check_result(suite, e, by_index[i]) for i, e in chosen)
        return results
    finally:
        connection.close()
