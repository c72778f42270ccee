"""Running dbt in-process against a chosen warehouse file, raw folder and lake folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dbt.artifacts.schemas.run import RunExecutionResult
from dbt.cli.main import dbtRunner


class DbtError(RuntimeError):
    """dbt reported failures; the message lists each failed node and why."""


@dataclass(frozen=True)
class DbtSummary:
    by_type: dict[str, int]
    warnings: list[str]

    def describe(self) -> str:
        kinds = ", ".join(f"{count} {kind}s" for kind, count in sorted(self.by_type.items()))
        return f"{kinds} ok" + (f", {len(self.warnings)} warnings" if self.warnings else "")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_dbt(
    args: list[str],
    *,
    project_dir: Path,
    warehouse: Path,
    raw_dir: Path,
    lake_dir: Path,
    quiet: bool = True,
) -> DbtSummary:
    """Invoke `dbt <args>` on the project; raises DbtError naming every node that failed."""
    lake_dir.mkdir(parents=True, exist_ok=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    flags = ["--quiet"] if quiet else []
    command = [
        *flags,
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
    ]
    env = {
        "LAKEHOUSE_WAREHOUSE": str(warehouse),
        "LAKEHOUSE_RAW_DIR": str(raw_dir),
        "LAKEHOUSE_LAKE_DIR": str(lake_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    with _environment(env):
        result = dbtRunner().invoke(command)
    if result.exception is not None:
        raise DbtError(f"dbt {' '.join(args)} could not run: {result.exception}")
    failures: list[str] = []
    warnings: list[str] = []
    by_type: dict[str, int] = {}
    node_results = result.result.results if isinstance(result.result, RunExecutionResult) else []
    for node_result in node_results:
        status = str(node_result.status)
        node = node_result.node
        line = f"{node.resource_type} {node.name}: {node_result.message}"
        if status in {"error", "fail", "runtime error"}:
            failures.append(line)
        elif status == "warn":
            warnings.append(line)
        else:
            by_type[str(node.resource_type)] = by_type.get(str(node.resource_type), 0) + 1
    if failures or not result.success:
        detail = "\n  ".join(failures) or "see dbt_project/logs/dbt.log"
        raise DbtError(f"dbt {args[0]} failed:\n  {detail}")
    return DbtSummary(by_type=by_type, warnings=warnings)
