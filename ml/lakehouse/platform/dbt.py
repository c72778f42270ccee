"""Running dbt against a chosen warehouse file, raw folder and lake folder.

On DuckDB, dbt runs in this process (dbt's `dbtRunner`): a later invocation reuses the imports
and the loaded adapter, a few seconds less per build than a fresh process. dbt-duckdb keeps its
DuckDB database open after a build (which would hold the warehouse file and its lock), so each
invocation closes it. A target that runs an engine of its own (Spark's JVM, one per process and
configured once) runs dbt in a child process instead."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from lakehouse.common.environment import environment_set
from lakehouse.common.formatting import counted


class DbtError(RuntimeError):
    """dbt reported failures; the message lists each failed node and why."""


@dataclass(frozen=True)
class DbtSummary:
    by_type: dict[str, int]
    warnings: list[str]

    def describe(self) -> str:
        if not self.by_type:
            return "nothing ran: the selection matched no node"
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


def dbt_variables(warehouse: Path, raw_dir: Path, lake_dir: Path) -> dict[str, str]:
    """The variables profiles.yml and the sources read."""
    return {
        "LAKEHOUSE_WAREHOUSE": str(warehouse),
        "LAKEHOUSE_RAW_DIR": str(raw_dir),
        "LAKEHOUSE_LAKE_DIR": str(lake_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt_environment(warehouse: Path, raw_dir: Path, lake_dir: Path) -> dict[str, str]:
    """This process's environment with dbt's variables on top: for a dbt child process."""
    return {**os.environ, **dbt_variables(warehouse, raw_dir, lake_dir)}


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
    """Run `dbt <args>` on the project, with `extra_env` on top of the paths' variables: in this
    process, or in a child process in `cwd` when it is given (a target with an engine of its own);
    raises DbtError naming every node that failed."""
    lake_dir.mkdir(parents=True, exist_ok=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    target_dir = target_dir or project_dir / "target"
    arguments = [
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
    variables = {**dbt_variables(warehouse, raw_dir, lake_dir), **(extra_env or {})}
    if cwd is None:
        ok, output = _invoke(arguments, variables)
    else:
        ok, output = _child(arguments, {**os.environ, **variables}, cwd)
    if not run_results_path.exists():
        raise DbtError(f"dbt {args[0]} could not run:\n  " + "\n  ".join(output))
    summary, failures = summarize_run_results(json.loads(run_results_path.read_text()))
    if failures or not ok:
        detail = "\n  ".join(failures) or f"see {target_dir / 'logs' / 'dbt.log'}"
        raise DbtError(f"dbt {args[0]} failed:\n  {detail}")
    return summary


# the lines of dbt's output an error that stops it before any node quotes
_OUTPUT_TAIL = 15
# dbt reads its settings from the process's environment: one invocation at a time per process
_INVOKING = threading.Lock()


def _child(arguments: list[str], environment: dict[str, str], cwd: Path) -> tuple[bool, list[str]]:
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *arguments],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (completed.stdout + completed.stderr).strip().splitlines()
    return completed.returncode == 0, output[-_OUTPUT_TAIL:]


def _invoke(arguments: list[str], variables: dict[str, str]) -> tuple[bool, list[str]]:
    """dbt in this process, `variables` set for it, its console output kept (not printed) for the
    error messages. A
    KeyboardInterrupt (Ctrl-C, or the pipeline's SIGTERM) that dbt stopped on is raised again."""
    # dbt's telemetry library calls logging.basicConfig() when imported: the process's logging
    # stays as it was (else every library's INFO lines would reach the console)
    root_handlers = logging.root.handlers[:]
    from dbt.cli.main import dbtRunner

    output: deque[str] = deque(maxlen=_OUTPUT_TAIL)

    def keep(event: object) -> None:
        info = event.info  # type: ignore[attr-defined]
        if info.level in {"info", "warn", "error"} and info.msg:
            output.append(str(info.msg))

    with _INVOKING, environment_set(variables):
        try:
            result = dbtRunner(callbacks=[keep]).invoke([*arguments, "--log-level", "none"])
        finally:
            _close_duckdb()
            logging.root.handlers[:] = root_handlers
    if isinstance(result.exception, KeyboardInterrupt):
        raise result.exception
    if result.exception is not None and not output:
        output.append(str(result.exception))
    return result.success, list(output)


def _close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open after an invocation (releasing the file's lock)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None
