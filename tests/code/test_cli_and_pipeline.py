from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from lakehouse import pipeline
from lakehouse.cli import app
from lakehouse.config import paths
from lakehouse.quality import new_run


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_query_prints_rows_from_the_published_warehouse(data_dir: Path) -> None:
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as connection:
        connection.execute("create table t as select * from (values ('UA', 3), ('AA', 1)) v(carrier, n)")
    result = CliRunner().invoke(app, ["query", "select carrier, n from t order by n desc"])
    assert result.exit_code == 0, result.output
    assert result.output.index("UA") < result.output.index("AA")


def test_query_names_the_missing_warehouse(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["query", "select 1"])
    assert result.exit_code == 1
    assert "run `make run` first" in result.output


def test_query_reports_sql_errors_without_a_traceback(data_dir: Path) -> None:
    duckdb.connect(str(data_dir / "warehouse.duckdb")).close()
    result = CliRunner().invoke(app, ["query", "select missing_column"])
    assert result.exit_code == 1
    assert "query failed" in result.output
    assert "missing_column" in result.output


def test_publish_swaps_in_the_build_and_drops_stale_lake_files(data_dir: Path) -> None:
    p = paths()
    p.build_lake.mkdir(parents=True)
    p.lake.mkdir(parents=True)
    with duckdb.connect(str(p.build_warehouse)) as connection:
        connection.execute("create table marker as select 'new' as version")
    (p.build_lake / "fct_flights.parquet").write_bytes(b"new")
    (p.lake / "fct_flights.parquet").write_bytes(b"old")
    (p.lake / "dropped_mart.parquet").write_bytes(b"old")
    (p.lake / ".gitignore").write_text("*\n")
    # A reader holding the old warehouse open does not block the swap and keeps its snapshot.
    with duckdb.connect(str(p.warehouse)) as connection:
        connection.execute("create table marker as select 'old' as version")
    reader = duckdb.connect(str(p.warehouse), read_only=True)
    try:
        pipeline.publish(pipeline.PipelineRun(p, new_run("test")))
        assert reader.execute("select version from marker").fetchall() == [("old",)]
    finally:
        reader.close()
    with duckdb.connect(str(p.warehouse), read_only=True) as connection:
        assert connection.execute("select version from marker").fetchall() == [("new",)]
    assert sorted(f.name for f in p.lake.iterdir()) == [".gitignore", "fct_flights.parquet"]
    assert (p.lake / "fct_flights.parquet").read_bytes() == b"new"
    assert not p.build_warehouse.exists()


def test_check_raw_names_what_is_missing(data_dir: Path) -> None:
    with pytest.raises(pipeline.PipelineError, match="make raw"):
        pipeline.check_raw(pipeline.PipelineRun(paths(), new_run("test")))


def test_republish_changes_a_copy_and_swaps_it_in_without_disturbing_readers(data_dir: Path) -> None:
    p = paths()
    with duckdb.connect(str(p.warehouse)) as connection:
        connection.execute("create table marker as select 'old' as version")
    reader = duckdb.connect(str(p.warehouse), read_only=True)
    try:

        def update(copy: Path) -> None:
            with duckdb.connect(str(copy)) as connection:
                connection.execute("update marker set version = 'new'")

        pipeline.republish(p, update)
        assert reader.execute("select version from marker").fetchall() == [("old",)]
    finally:
        reader.close()
    with duckdb.connect(str(p.warehouse), read_only=True) as connection:
        assert connection.execute("select version from marker").fetchall() == [("new",)]
    assert sorted(f.name for f in p.warehouse.parent.iterdir() if f.name.endswith(".next")) == []


def test_republish_needs_a_published_warehouse(data_dir: Path) -> None:
    with pytest.raises(pipeline.PipelineError, match="make run"):
        pipeline.republish(paths(), lambda copy: None)
