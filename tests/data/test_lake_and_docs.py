"""What other engines and people read besides the DuckDB file: the Parquet lake, the semantic
layer and the dbt docs."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from lakehouse.config import paths
from lakehouse.platform.dbt import dbt_environment, run_dbt
from lakehouse.platform.pipeline import PipelineRun

pytestmark = pytest.mark.warehouse


def _mart_names() -> list[str]:
    """Every model under models/marts/ (the ML marts included), from the project's files."""
    marts = paths().dbt_project / "models" / "marts"
    return sorted(path.stem for path in marts.rglob("*.sql"))


MARTS = _mart_names()
# The marts on what the service answered and the live feed pushed or refused: empty until it has.
SERVICE_MARTS = {"served_performance_daily", "online_performance_daily", "feed_rejections"}


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_is_in_the_lake_with_the_same_rows(
    mart: str, lake_dir: Path, warehouse: duckdb.DuckDBPyConnection
) -> None:
    lake = pl.read_parquet(lake_dir / f"{mart}.parquet")
    table = warehouse.sql(f"select * from {mart}").pl()
    assert lake.columns == table.columns
    assert lake.height == table.height
    # the service's marts stay empty until the API has answered; every other mart has rows
    assert table.height > 0 or mart in SERVICE_MARTS
    # Same rows, whatever their order.
    assert lake.sort(lake.columns).equals(table.sort(table.columns))


def test_every_mart_and_column_is_described(pipeline_run: PipelineRun) -> None:
    manifest = json.loads((pipeline_run.paths.dbt_target / "manifest.json").read_text())
    undocumented = [
        f"{node['name']}.{column}" if column else node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"] in MARTS
        for column in [None, *node["columns"]]
        if not (node["columns"][column]["description"] if column else node["description"]).strip()
    ]
    assert not undocumented


def test_every_model_has_an_owner_and_only_the_interfaces_are_public(pipeline_run: PipelineRun) -> None:
    """Groups and access (dbt_project.yml): the marts and the quarantine are public, staging and
    the intermediate steps private to their group but for what the other group reads."""
    manifest = json.loads((pipeline_run.paths.dbt_target / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {name for name, node in models.items() if node["group"] is None} == set()
    public = {name for name, node in models.items() if node["access"] == "public"}
    assert public == {*MARTS, "rejected_rows"}
    shared = {name for name, node in models.items() if node["access"] == "protected"}
    assert shared == {"stg_nycflights__weather", "int_weather__hourly_grid"}
    assert {
        models[name]["group"] for name in MARTS if name.startswith(("fct_flight_pred", "model_", "feat"))
    } == {"ml_engineering"}


def test_docs_generate_offline_into_one_self_contained_page(built_warehouse: Path, tmp_path: Path) -> None:
    run_dbt(
        ["docs", "generate", "--static"],
        project_dir=paths().dbt_project,
        warehouse=built_warehouse,
        raw_dir=paths().raw,
        lake_dir=tmp_path / "lake",
        target_dir=tmp_path / "target",
    )
    page = (tmp_path / "target" / "static_index.html").read_text()
    assert "fct_flights" in page
    assert "<script src=" not in page


def test_semantic_layer_answers_offline(
    pipeline_run: PipelineRun, built_warehouse: Path, tmp_path: Path
) -> None:
    """`mf query` reads target/semantic_manifest.json under the project it runs in: give it a
    copy of the project with the session's manifest, pointed at the session's warehouse."""
    project = tmp_path / "dbt_project"
    shutil.copytree(paths().dbt_project, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "target").mkdir()
    shutil.copy(pipeline_run.paths.dbt_target / "semantic_manifest.json", project / "target")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "mf"),
            "query",
            "--metrics",
            "flights,cancelled_flights",
            "--group-by",
            "carrier__carrier_name",
            "--order",
            "-flights",
            "--limit",
            "1",
        ],
        cwd=project,
        env={**dbt_environment(built_warehouse, paths().raw, tmp_path / "lake"), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    last_line = result.stdout.strip().splitlines()[-1].split()
    assert last_line[-2:] == ["58665", "686"], result.stdout


def test_dbt_unit_tests_pass(built_warehouse: Path, tmp_path: Path) -> None:
    """The pipeline leaves dbt's unit tests (SQL logic on fixed inputs) to the test suite."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, warehouse)
    summary = run_dbt(
        ["test", "--select", "test_type:unit"],
        project_dir=paths().dbt_project,
        warehouse=warehouse,
        raw_dir=paths().raw,
        lake_dir=tmp_path / "lake",
        target_dir=tmp_path / "target",
    )
    assert summary.by_type.get("unit_test", 0) >= 25
