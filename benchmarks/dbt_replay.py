"""Replaying the SQL a finished `dbt build` executed with the DuckDB Python API alone.

The statements are read back from the build's artifacts (manifest.json, run_results.json, the run
files under target/run, the post-hooks from dbt's debug log) and executed in dependency order on a
fresh database. The time it takes, beside dbt's own, is what dbt adds: parsing, compiling,
introspection queries, renames, transactions (section 1 of `make bench`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from benchmarks.runner import RunDir


@dataclass(frozen=True)
class Node:
    unique_id: str
    resource_type: str
    run_file: Path
    dbt_seconds: float
    dbt_status: str
    post_hooks: tuple[str, ...]


@dataclass
class ReplayResult:
    seconds: float
    node_seconds: dict[str, float]
    failing_tests: list[str]
    skipped: list[str]
    post_hooks: int


# run_results statuses of nodes whose SQL ran to the end (a failing test still ran its query).
EXECUTED = {"success", "pass", "fail", "warn"}
# A dbt log entry starts with a time stamp, the level and the thread: `03:34:58.51 [debug] [Thread-2 (]: `.
_LOG_ENTRY = re.compile(r"^(?:\x1b\[0m)?\d\d:\d\d:\d\d\.\d+ \[[a-z ]+\] \[[^\]]*\]: ", re.MULTILINE)
_QUERY = re.compile(r"^On (?P<node>[\w.]+): /\* \{.*?\} \*/\s*(?P<sql>.*)$", re.DOTALL)


def _executed_statements(log_file: Path) -> Iterator[tuple[str, str]]:
    """(node id, SQL) for every query dbt logged, in the order dbt ran them."""
    text = log_file.read_text(errors="replace")
    for entry in _LOG_ENTRY.split(text):
        match = _QUERY.match(entry.strip())
        if match:
            yield match["node"], match["sql"].strip()


def _post_hooks(log_file: Path, manifest: dict[str, Any]) -> dict[str, list[str]]:
    """The rendered post-hook statements of each model.

    dbt writes a model's main statement under target/run but not its hooks, and the manifest keeps
    hooks unrendered (`{{ export_to_lake() }}`), so they are read from dbt's debug log, which
    records every statement as executed. The project's hooks are the lake COPY statements.
    """
    hooks: dict[str, list[str]] = {}
    for node_id, sql in _executed_statements(log_file):
        node = manifest["nodes"].get(node_id, {})
        if node.get("config", {}).get("post-hook") and re.match(r"copy\s*\(", sql, re.IGNORECASE):
            hooks.setdefault(node_id, []).append(sql)
    return hooks


def _run_file(run: RunDir, manifest: dict[str, Any], unique_id: str) -> Path:
    """The SQL dbt ran for a node. Seeds, models and data tests: the manifest's build_path. Unit
    tests have none; dbt writes them under target/run/<package>/<their yml>/.../<name>.sql."""
    node = manifest["nodes"].get(unique_id)
    if node and node.get("build_path"):
        return Path(node["build_path"])
    unit_test = manifest.get("unit_tests", {}).get(unique_id)
    if unit_test:
        folder = run.target / "run" / unit_test["package_name"] / unit_test["original_file_path"]
        found: list[Path] = sorted(folder.rglob(f"{unit_test['name']}.sql"))
        if found:
            return found[0]
    return run.target / "missing" / unique_id


def _ordered_nodes(run: RunDir) -> list[Node]:
    """Nodes in an order that respects depends_on; ties keep run_results order (dbt's own)."""
    manifest = json.loads((run.target / "manifest.json").read_text())
    results = json.loads((run.target / "run_results.json").read_text())["results"]
    hooks = _post_hooks(run.logs / "dbt.log", manifest)
    position = {result["unique_id"]: index for index, result in enumerate(results)}
    nodes: dict[str, Node] = {}
    for result in results:
        unique_id = result["unique_id"]
        nodes[unique_id] = Node(
            unique_id=unique_id,
            resource_type=unique_id.split(".")[0],
            run_file=_run_file(run, manifest, unique_id),
            dbt_seconds=float(result["execution_time"]),
            dbt_status=str(result["status"]),
            post_hooks=tuple(hooks.get(unique_id, [])),
        )
    ordered: list[Node] = []
    done: set[str] = set()

    def visit(unique_id: str) -> None:
        if unique_id in done or unique_id not in nodes:
            return
        done.add(unique_id)
        parents = manifest["nodes"].get(unique_id, {}).get("depends_on", {}).get("nodes", [])
        for parent in sorted(parents, key=lambda p: position.get(p, -1)):
            visit(parent)
        ordered.append(nodes[unique_id])

    for unique_id in sorted(nodes, key=position.__getitem__):
        visit(unique_id)
    return ordered


def _schemas(run: RunDir) -> list[str]:
    """Schemas the build created (dbt issues `create schema if not exists` for each)."""
    manifest = json.loads((run.target / "manifest.json").read_text())
    return sorted({node["schema"] for node in manifest["nodes"].values() if node["resource_type"] != "test"})


def _rewrite(sql: str, run: RunDir, replay_lake: Path) -> str:
    """dbt builds `x__dbt_tmp` and renames it to `x`; build `x` directly, and write the lake
    files of the replay to its own folder."""
    return sql.replace("__dbt_tmp", "").replace(str(run.lake), str(replay_lake))


# `{{ env_var('NAME', 'default') }}`, the only Jinja the replay resolves in profile settings.
_ENV_VAR = re.compile(r"""^\{\{\s*env_var\(\s*'(?P<name>\w+)'\s*(?:,\s*'(?P<default>[^']*)'\s*)?\)\s*\}\}$""")


def profile_settings(project_dir: Path) -> dict[str, str]:
    """The DuckDB `settings:` of the project's profile and target, which dbt applies to its
    connection; the replay applies them too. Values using `env_var` are resolved as dbt would;
    any other Jinja is left out."""
    profile_name = yaml.safe_load((project_dir / "dbt_project.yml").read_text())["profile"]
    profile = yaml.safe_load((project_dir / "profiles.yml").read_text())[profile_name]
    output = profile["outputs"][profile.get("target", "dev")]
    settings: dict[str, str] = {}
    for name, value in (output.get("settings") or {}).items():
        text = str(value)
        match = _ENV_VAR.match(text.strip())
        if match:
            text = os.environ.get(match["name"], match["default"] or "")
        if "{{" not in text:
            settings[str(name)] = text
    return settings


def _fresh_database(run: RunDir, replay_dir: Path, project_dir: Path) -> duckdb.DuckDBPyConnection:
    """An empty database under `replay_dir`, set up as dbt sets up its connection, with the
    build's schemas. It has the build's file name, so fully qualified names resolve unchanged."""
    con = duckdb.connect(str(replay_dir / run.warehouse.name))
    for name, value in profile_settings(project_dir).items():
        con.execute(f"set {name} = '{value}'")
    con.execute("set enable_progress_bar = false")  # as under dbt: no console drawing
    for schema in _schemas(run):
        con.execute(f'create schema if not exists "{schema}"')
    return con


def _replay_node(con: duckdb.DuckDBPyConnection, node: Node, run: RunDir, replay_lake: Path) -> str | None:
    """Execute one node's statement and post-hooks; a failing data test's message, else None."""
    failure = None
    con.execute(_rewrite(node.run_file.read_text(), run, replay_lake))
    if node.resource_type in {"test", "unit_test"}:
        # Fetched, as dbt does; dbt compares a unit test's rows with its expectations in Python.
        rows = con.fetchall()
        if node.resource_type == "test" and rows and rows[0][0]:
            failure = f"{node.unique_id}: {rows[0][0]} failures"
    for hook in node.post_hooks:
        con.execute(_rewrite(hook, run, replay_lake))
    return failure


def replay(run: RunDir, replay_dir: Path, project_dir: Path) -> ReplayResult:
    """Execute the statements of a finished build, in order, on a fresh database with DuckDB alone.

    Seeds: their run file (create table + COPY FROM the CSV, with the seed's column types).
    Models: their `create table/view ... as` (or contract DDL + insert) then their post-hooks.
    Tests: their query; a test that returns failures is reported.
    """
    if replay_dir.exists():
        shutil.rmtree(replay_dir)
    replay_lake = replay_dir / "lake"
    replay_lake.mkdir(parents=True)
    nodes = _ordered_nodes(run)
    node_seconds: dict[str, float] = {}
    failing: list[str] = []
    skipped: list[str] = []
    started = time.perf_counter()
    con = _fresh_database(run, replay_dir, project_dir)
    for node in nodes:
        if not node.run_file.is_file() or node.dbt_status not in EXECUTED:
            skipped.append(f"{node.unique_id} ({node.dbt_status})")
            continue
        node_started = time.perf_counter()
        failure = _replay_node(con, node, run, replay_lake)
        if failure:
            failing.append(failure)
        node_seconds[node.unique_id] = time.perf_counter() - node_started
    con.close()
    hooks = sum(len(node.post_hooks) for node in nodes if node.unique_id in node_seconds)
    return ReplayResult(time.perf_counter() - started, node_seconds, failing, skipped, hooks)
