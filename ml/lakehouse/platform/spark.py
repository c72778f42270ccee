"""The dbt project on Apache Spark (the `spark` target of profiles.yml).

Spark reads the landing zone through its Parquet reader: each raw CSV file is landed as a Parquet
file holding every field as text, as the file has it, plus `source_file` and `source_line`, the
lineage the DuckDB sources compute from their scan order (Spark keeps none). The same base models
then parse and quarantine the rows on both engines. dbt-spark's session method runs Spark inside
dbt's process; `spark-warehouse/`, the Derby metastore and its log stay in the work folder."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import yaml

from lakehouse.common.files import write_parquet_atomically
from lakehouse.config import CORE_SELECTOR
from lakehouse.platform.dbt import DbtSummary, run_dbt
from lakehouse.quality.raw_files import declared_sources

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK_TARGET = "spark"
# the lineage columns the DuckDB sources add (macro csv_rows_with_lines)
LINEAGE = {"source_file": pl.String(), "source_line": pl.Int64()}


def spark_build_args(select: str | None = None) -> list[str]:
    """`dbt build` on Spark: by default the pipeline's own `core` selection (every layer but the
    marts on the predictions, with their data tests; dbt_project/selectors.yml), or `select` with
    its data tests. dbt's unit tests stay out: their fixtures of the raw sources are DuckDB's CSV
    scan (they run on DuckDB; tests/pipeline/test_spark.py compares the tables themselves)."""
    if select is None:
        return ["build", "--selector", CORE_SELECTOR]
    return [
        "build",
        "--select",
        select,
        "--indirect-selection",
        "cautious",
        "--exclude-resource-type",
        "unit_test",
    ]


class JavaMissingError(RuntimeError):
    """Spark needs a Java runtime (17 or later) on PATH or in JAVA_HOME."""


# Why nothing runs on Spark on this machine: the CLI's error and the Spark tests' skip reason.
JAVA_MISSING = "Spark needs Java 17 or later: no `java` on PATH and no JAVA_HOME"


def java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    return shutil.which("java") is not None or bool(java_home and (Path(java_home) / "bin" / "java").exists())


def require_java() -> None:
    if not java_available():
        raise JavaMissingError(JAVA_MISSING)


@dataclass(frozen=True)
class SparkFolders:
    """Where a Spark build keeps its state: the landed Parquet, Spark's warehouse, the metastore."""

    root: Path

    @property
    def landed(self) -> Path:
        return self.root / "raw"

    @property
    def warehouse(self) -> Path:
        return self.root / "spark-warehouse"

    def table(self, schema: str, name: str) -> Path:
        """The folder of Parquet files Spark wrote for a table."""
        return self.warehouse / f"{schema}.db" / name


def landed_name(relative: Path) -> str:
    """A raw file's landed Parquet name: its path under the source's folder, flattened."""
    return "__".join(relative.parts) + ".parquet"


def land_csv_file(raw_dir: Path, path: Path, target: Path) -> Path:
    """One raw CSV file as Parquet: every field as text, plus its file and line (header = 1)."""
    relative = path.relative_to(raw_dir).as_posix()
    frame = pl.read_csv(path, infer_schema=False)
    frame = frame.with_columns(
        pl.lit(relative, dtype=LINEAGE["source_file"]).alias("source_file"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("source_line"),
    )
    return write_parquet_atomically(frame, target)


def land_text_file(raw_dir: Path, path: Path, target: Path) -> Path:
    """One raw text file (JSON Lines) as Parquet: a row per line, numbered from 1, as the DuckDB
    source splits the file (the newline ending the last line leaves an empty last line)."""
    relative = path.relative_to(raw_dir).as_posix()
    lines = path.read_bytes().decode("utf-8-sig").split("\n")  # without a byte order mark
    frame = pl.DataFrame(
        {
            "source_file": pl.Series([relative] * len(lines), dtype=LINEAGE["source_file"]),
            "source_line": pl.Series(range(1, len(lines) + 1), dtype=LINEAGE["source_line"]),
            "line_text": pl.Series(lines, dtype=pl.String()),
        }
    )
    return write_parquet_atomically(frame, target)


def land_for_spark(raw_dir: Path, landed: Path) -> list[Path]:
    """Land every source of the landing zone for Spark (`<landed>/<source>/*.parquet`), replacing
    what an earlier landing left: CSV files as their fields, text files as their lines."""
    written: list[Path] = []
    for source in declared_sources():
        is_csv = ".csv" in source.files
        folder = landed / source.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        files = sorted(raw_dir.glob(source.files))
        for path in files:
            name = landed_name(path.relative_to(raw_dir / source.name))
            land = land_csv_file if is_csv else land_text_file
            written.append(land(raw_dir, path, folder / name))
        if not files:
            # a source with no file yet is an empty table, as DuckDB reads an empty glob
            columns = source.fields if is_csv else ["line_text"]
            empty = pl.DataFrame(schema={**dict.fromkeys(columns, pl.String), **LINEAGE})
            written.append(write_parquet_atomically(empty, folder / "empty.parquet"))
    return written


def spark_environment(folders: SparkFolders) -> dict[str, str]:
    """The variables the `spark` target and the landed sources read."""
    return {
        "LAKEHOUSE_SPARK_RAW_DIR": str(folders.landed),
        "LAKEHOUSE_SPARK_WAREHOUSE": str(folders.warehouse),
        "LAKEHOUSE_SPARK_METASTORE": str(folders.root / "metastore_db"),
        # Spark's driver listens on loopback only: nothing is reachable from outside the machine.
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def build_on_spark(
    args: list[str], *, folders: SparkFolders, raw_dir: Path, project_dir: Path, target_dir: Path
) -> DbtSummary:
    """Land the raw files for Spark and run `dbt <args> --target spark` with its state in `folders`."""
    require_java()
    folders.root.mkdir(parents=True, exist_ok=True)
    land_for_spark(raw_dir, folders.landed)
    return run_dbt(
        [*args, "--target", SPARK_TARGET],
        project_dir=project_dir,
        warehouse=folders.root / "unused.duckdb",
        raw_dir=raw_dir,
        lake_dir=folders.root / "lake",
        target_dir=target_dir,
        extra_env=spark_environment(folders),
        cwd=folders.root,
    )


_ENV_VAR = re.compile(r"\{\{\s*env_var\('([^']+)',\s*'([^']*)'\)\s*\}\}")


def session_settings(project_dir: Path, environment: Mapping[str, str]) -> dict[str, str]:
    """The Spark settings of the `spark` target (profiles.yml), their env_var() calls resolved
    from `environment`: a session of the package's own is configured as dbt's is."""
    profiles = yaml.safe_load((project_dir / "profiles.yml").read_text())
    settings = profiles["lakehouse"]["outputs"][SPARK_TARGET]["server_side_parameters"]
    return {
        key: _ENV_VAR.sub(lambda match: environment.get(match[1], match[2]), str(value))
        for key, value in settings.items()
    }


def spark_session(folders: SparkFolders, project_dir: Path) -> SparkSession:
    """A local Spark session on the tables a `build_on_spark` left in `folders` (its warehouse
    and metastore), its current schema the models' (`main`). One per process: Spark's own."""
    require_java()
    from pyspark.sql import SparkSession

    environment = spark_environment(folders)
    os.environ.setdefault("SPARK_LOCAL_IP", environment["SPARK_LOCAL_IP"])
    builder = SparkSession.builder.appName("lakehouse").enableHiveSupport()
    for key, value in session_settings(project_dir, {**os.environ, **environment}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.catalog.setCurrentDatabase("main")
    return session
