"""The landing-zone checks and the reading of dbt's results, on small fixtures."""

import gzip
import json
from pathlib import Path

from lakehouse.quality.dbt_results import dbt_checks
from lakehouse.quality.raw_files import RawSource, inspect_raw_files, raw_file_checks, stray_files
from lakehouse.quality.records import CheckResult

SOURCES = [RawSource("flights", "flights/*/flights_*.csv.gz", ["year", "month", "dep_delay"])]


def _write(raw: Path, name: str, text: str) -> None:
    path = raw / "flights/2013" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def _failed(raw: Path) -> dict[str, CheckResult]:
    checks = raw_file_checks(SOURCES, inspect_raw_files(raw, SOURCES), stray_files(raw, SOURCES))
    return {r.expectation: r for r in checks if not r.success}


def test_files_with_the_declared_fields_pass(tmp_path: Path) -> None:
    _write(tmp_path, "flights_2013-01.csv.gz", "year,month,dep_delay\n2013,1,4\n")
    _write(tmp_path, "flights_2013-02.csv.gz", "dep_delay,month,year\n4,2,2013\n")  # order is free
    assert _failed(tmp_path) == {}


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    # DuckDB reads past a UTF-8 byte order mark, as spreadsheets write one
    _write(tmp_path, "flights_2013-01.csv.gz", "\ufeffyear,month,dep_delay\n2013,1,4\n")
    (tmp_path / "weather").mkdir()
    (tmp_path / "weather/w.jsonl").write_bytes('\ufeff{"origin": "EWR", "temp": 3}\n'.encode())
    assert _failed(tmp_path) == {}
    weather = RawSource("weather", "weather/*.jsonl", ["origin", "temp"])
    assert inspect_raw_files(tmp_path, [weather])["weather"][0].fields == ["origin", "temp"]


def test_a_missing_or_renamed_column_names_the_file_and_the_columns(tmp_path: Path) -> None:
    _write(tmp_path, "flights_2013-01.csv.gz", "year,month,dep_delay\n2013,1,4\n")
    _write(tmp_path, "flights_2013-02.csv.gz", "year,month,departure_delay\n2013,2,4\n")
    failed = _failed(tmp_path)["file fields match the declared fields"]
    assert failed.severity == "critical"
    assert failed.column_name == "dep_delay, departure_delay"
    assert "flights/2013/flights_2013-02.csv.gz" in failed.message()
    assert json.loads(failed.observed_value or "") == {
        "flights/2013/flights_2013-02.csv.gz": {"missing": ["dep_delay"], "unexpected": ["departure_delay"]}
    }


def test_a_column_named_twice_is_refused_naming_it(tmp_path: Path) -> None:
    _write(tmp_path, "flights_2013-01.csv.gz", "year,month,dep_delay,dep_delay\n2013,1,4,999\n")
    failed = _failed(tmp_path)["file fields match the declared fields"]
    assert json.loads(failed.observed_value or "") == {
        "flights/2013/flights_2013-01.csv.gz": {"missing": [], "unexpected": [], "repeated": ["dep_delay"]}
    }


def test_a_file_under_a_sources_folder_that_the_build_would_not_read_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "flights_2013-01.csv.gz", "year,month,dep_delay\n2013,1,4\n")
    (tmp_path / "flights/2013/flights_2013-02.csv").write_text("year,month,dep_delay\n2013,2,4\n")
    (tmp_path / "flights/2013/.DS_Store").write_text("")
    (tmp_path / "README.md").write_text("the landing zone")
    assert SOURCES[0].folder == "flights"
    failed = _failed(tmp_path)
    assert set(failed) == {"every file is read"}
    assert json.loads(failed["every file is read"].observed_value or "") == {
        "flights/2013/flights_2013-02.csv": "not read: the build reads flights/*/flights_*.csv.gz"
    }


def test_a_published_file_gone_from_the_landing_zone_is_named(tmp_path: Path) -> None:
    _write(tmp_path, "flights_2013-02.csv.gz", "year,month,dep_delay\n2013,2,4\n")
    published = {"flights": ["flights/2013/flights_2013-01.csv.gz", "flights/2013/flights_2013-02.csv.gz"]}
    checks = raw_file_checks(SOURCES, inspect_raw_files(tmp_path, SOURCES), None, published)
    (failed,) = [r for r in checks if not r.success]
    assert failed.expectation == "no published file is gone"
    assert failed.severity == "critical"
    assert json.loads(failed.observed_value or "") == {
        "flights/2013/flights_2013-01.csv.gz": "published, now missing from the landing zone"
    }
    # nothing published yet, or a removal on purpose: nothing to compare with
    assert all(r.success for r in raw_file_checks(SOURCES, inspect_raw_files(tmp_path, SOURCES)))


def test_an_empty_file_a_byte_copy_and_no_files_are_caught(tmp_path: Path) -> None:
    assert set(_failed(tmp_path)) == {"files exist"}
    _write(tmp_path, "flights_2013-01.csv.gz", "year,month,dep_delay\n2013,1,4\n")
    _write(tmp_path, "flights_2013-01 (1).csv.gz", "year,month,dep_delay\n2013,1,4\n")
    _write(tmp_path, "flights_2013-02.csv.gz", "year,month,dep_delay\n")
    _write(tmp_path, "flights_2013-03.csv.gz", "")
    failed = _failed(tmp_path)
    # a file without even a header fails this check alone, not the fields' too
    assert set(failed) == {"files have data rows", "no file is a copy of another"}
    assert json.loads(failed["files have data rows"].observed_value or "") == {
        "flights/2013/flights_2013-02.csv.gz": "no data rows",
        "flights/2013/flights_2013-03.csv.gz": "empty",
    }
    assert (
        "same bytes as flights/2013/flights_2013-01 (1).csv.gz"
        in failed["no file is a copy of another"].message()
    )


def test_a_gzip_file_is_read_as_duckdb_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "flights/2013/flights_2013-01.csv.gz"
    _write(tmp_path, "flights_2013-01.csv.gz", "year,month,dep_delay\n2013,1,4\n")
    whole = path.read_bytes()
    # gzip members one after the other are one file to both
    path.write_bytes(gzip.compress(b"year,month,dep_delay\n") + gzip.compress(b"2013,1,4\n"))
    assert _failed(tmp_path) == {}
    # zero padding after the data: gzip's tools skip it, DuckDB stops on it
    path.write_bytes(whole + bytes(512))
    failed = _failed(tmp_path)["files can be read"]
    assert json.loads(failed.observed_value or "") == {
        "flights/2013/flights_2013-01.csv.gz": f"not gzip to its end: 512 zero bytes after the compressed "
        f"data, from byte {len(whole) + 1}"
    }


def test_jsonl_fields_are_every_key_used(tmp_path: Path) -> None:
    source = RawSource("weather", "weather/*.jsonl", ["origin", "temp"])
    (tmp_path / "weather").mkdir()
    (tmp_path / "weather/w.jsonl").write_text('{"origin": "EWR"}\nnot json\n{"origin": "JFK", "temp": 3}\n')
    found = inspect_raw_files(tmp_path, [source])
    assert found["weather"][0].fields == ["origin", "temp"]
    assert found["weather"][0].data_rows == 3


def test_an_undeclared_jsonl_key_is_named_with_the_line_it_is_first_used_on(tmp_path: Path) -> None:
    source = RawSource("weather", "weather/*.jsonl", ["origin", "temp"])
    (tmp_path / "weather").mkdir()
    records = ['{"origin": "EWR", "temp": 3}'] * 11 + ['{"origin": "EWR", "temp": 3, "tmep": 4}'] * 2
    (tmp_path / "weather/w.jsonl").write_text("\n".join(records) + "\n")
    checks = raw_file_checks([source], inspect_raw_files(tmp_path, [source]))
    (failed,) = [r for r in checks if not r.success]
    assert failed.column_name == "tmep"
    assert json.loads(failed.observed_value or "") == {
        "weather/w.jsonl": {"missing": [], "unexpected": ["tmep"], "first_used_on_line": {"tmep": 12}}
    }


def test_a_csv_row_over_several_lines_names_where_it_starts(tmp_path: Path) -> None:
    # a quote left open takes in every line after it, up to the next quote
    _write(
        tmp_path,
        "flights_2013-01.csv.gz",
        'year,month,dep_delay\n2013,1,4\n2013,"1,4\n2013,1,4\n2013,1,"4"\n',
    )
    failed = _failed(tmp_path)["files can be read"]
    assert json.loads(failed.observed_value or "") == {
        "flights/2013/flights_2013-01.csv.gz": "not a table: the row on line 3 runs on to line 5 "
        "(a quote opened on that line and not closed on it?)"
    }
    # in the header too
    _write(tmp_path, "flights_2013-01.csv.gz", 'year,"month,dep_delay\n2013,1,4\n2013,1,4\n')
    failed = _failed(tmp_path)["files can be read"]
    assert "the row on line 1 runs on to line 3" in (failed.observed_value or "")


def test_dbt_results_become_checks_with_table_column_and_severity() -> None:
    manifest = {
        "nodes": {
            "test.p.not_null_t_c": {
                "resource_type": "test",
                "name": "not_null_t_c",
                "column_name": "c",
                "attached_node": "model.p.t",
                "test_metadata": {"name": "not_null", "kwargs": {"column_name": "c", "model": "x"}},
                "config": {"severity": "ERROR"},
            },
            "test.p.range_t": {
                "resource_type": "test",
                "name": "range_t",
                "attached_node": "model.p.t",
                "test_metadata": {"name": "accepted_range", "kwargs": {"min_value": 0, "model": "x"}},
                "config": {"severity": "warn"},
            },
            "model.p.u": {"resource_type": "model", "name": "u"},
        }
    }
    run_results = {
        "results": [
            {"unique_id": "test.p.not_null_t_c", "status": "fail", "failures": 3, "message": "Got 3 results"},
            {"unique_id": "test.p.range_t", "status": "pass", "failures": 0, "message": None},
            {"unique_id": "model.p.u", "status": "error", "message": "Binder Error: column x"},
            {"unique_id": "model.p.v", "status": "skipped"},
        ]
    }
    checks = dbt_checks(run_results, manifest)
    assert [(c.table_name, c.expectation, c.column_name, c.severity, c.success) for c in checks] == [
        ("t", "not_null", "c", "critical", False),
        ("t", "accepted_range", None, "warning", True),
        ("u", "model builds", None, "critical", False),
    ]
    assert checks[0].unexpected_count == 3
    assert checks[1].expected == '{"min_value": 0}'
    assert "Binder Error" in checks[2].message()
