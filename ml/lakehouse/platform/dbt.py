"""Running dbt against a chosen warehouse file, raw folder and lake folder.

dbt runs in a child process: dbt-duckdb keeps its DuckDB database open for the life of the
process that ran it, which would hold the warehouse file (and its lock) after the build, so the
caller could neither open it read-only nor publish a fully checkpointed file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lakehouse.common.formatting import counted


class DbtError(RuntimeError):
    """dbt reported failures; the message lists each failed node and why."""


@dataclass(frozen=True)
class DbtSummary:
    by_type: dict[str, int]
    warnings: list[str]

    def describe(self) -> str:
        kinds = ", ".join(counted(count, kind) for kind, count in sorted(self.by_type.items()))
        return f"{kinds} ok" + (f", {counted(len(self.warnings), 'warning')}" if self.warnings else "")


def summarize_run_results(run_results: dict[str, object]) -> tuple[DbtSummary, list[str]]:
    """Counts per resource type, warnings and failures from dbt's run_results.json."""
    failures: list[str] = []
    warnings: list[str] = []
    by_type: dict[str, int] = {}
    results = run_results.get("results", [])
    assert isinstance(results, list)
    for result in results:
        unique_id = str(result["unique_id"])
        kind, name = unique_id.split(".")[0], unique_id.split(".")[-1]
        line = f"{kind} {name}: {result.get('message') or result['status']}"
        if result["status"] in {"error", "fail", "runtime error"}:
            failures.append(line)
        elif result["status"] == "warn":
            warnings.append(line)
        else:
            by_type[kind] = by_type.get(kind, 0) + 1
    return DbtSummary(by_type=by_type, warnings=warnings), failures


def dbt_environment(warehouse: Path, raw_dir: Path, lake_dir: Path) -> dict[str, str]:
    """The variables profiles.yml and the sources read, on top of this process's environment."""
    return {
        **os.environ,
        "LAKEHOUSE_WAREHOUSE": str(warehouse),
        "LAKEHOUSE_RAW_DIR": str(raw_dir),
        "LAKEHOUSE_LAKE_DIR": str(lake_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run_dbt(
    args: list[str],
    *,
    project_dir: Path,
    warehouse: Path,
    raw_dir: Path,
    lake_dir: Path,
    target_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> DbtSummary:
    """Run `dbt <args>` on the project (in `cwd`, with `extra_env` on top of the paths' variables);
    raises DbtError naming every node that failed."""
    lake_dir.mkdir(parents=True, exist_ok=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    target_dir = target_dir or project_dir / "target"
    command = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir / "logs"),
    ]
    run_results_path = target_dir / "run_results.json"
    run_results_path.unlink(missing_ok=True)
    completed = subprocess.run(
        command,
        env={**dbt_environment(warehouse, raw_dir, lake_dir), **(extra_env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if not run_results_path.exists():
        tail = "\n  ".join((completed.stdout + completed.stderr).strip().splitlines()[-15:])
        raise DbtError(f"dbt {args[0]} could not run:\n  {tail}")
    summary, failures = summarize_run_results(json.loads(run_results_path.read_text()))
    if failures or completed.returncode != 0:
        detail = "\n  ".join(failures) or f"see {target_dir / 'logs' / 'dbt.log'}"
        raise DbtError(f"dbt {args[0]} failed:\n  {detail}")
    return summary
