"""Where everything lives. One place for paths and settings; each can be overridden by an
environment variable so tests and benchmarks can point the whole pipeline elsewhere."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The repository root: ml/lakehouse/config.py -> ../../
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Paths:
    raw: Path
    warehouse: Path
    lake: Path
    build: Path
    quality: Path
    dbt_project: Path
    dbt_target: Path
    expectations: Path

    @property
    def build_warehouse(self) -> Path:
        """The warehouse a run writes and audits before it is published."""
        return self.build / "warehouse.duckdb"

    @property
    def build_lake(self) -> Path:
        return self.build / "lake"

    @property
    def validation_history(self) -> Path:
        """One Parquet file per validation run, appended and never rewritten."""
        return self.quality / "validation_results"

    @property
    def quality_reports(self) -> Path:
        return self.quality / "reports"


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).resolve() if value else default


def paths() -> Paths:
    """Paths for this process, read from the environment at call time."""
    data = _path("LAKEHOUSE_DATA_DIR", REPO_ROOT / "data")
    return Paths(
        raw=_path("LAKEHOUSE_RAW_DIR", data / "raw"),
        warehouse=_path("LAKEHOUSE_PUBLISHED_WAREHOUSE", data / "warehouse.duckdb"),
        lake=_path("LAKEHOUSE_PUBLISHED_LAKE_DIR", data / "lake"),
        build=_path("LAKEHOUSE_BUILD_DIR", data / "build"),
        quality=_path("LAKEHOUSE_QUALITY_DIR", data / "quality"),
        dbt_project=REPO_ROOT / "dbt_project",
        dbt_target=_path("LAKEHOUSE_DBT_TARGET_DIR", REPO_ROOT / "dbt_project" / "target"),
        expectations=REPO_ROOT / "expectations",
    )
