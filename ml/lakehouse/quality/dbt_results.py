"""dbt's data tests and failed builds, from its run_results.json and manifest, as check results."""

from __future__ import annotations

from typing import Any

from lakehouse.quality.records import CheckResult, Severity, to_json


def dbt_checks(run_results: dict[str, Any], manifest: dict[str, Any]) -> list[CheckResult]:
    """dbt's data tests (and any model that failed to build, contracts included) as results."""
    nodes = manifest.get("nodes", {})
    results: list[CheckResult] = []
    for run in run_results.get("results", []):
        node = nodes.get(run["unique_id"], {})
        kind = node.get("resource_type", run["unique_id"].split(".")[0])
        status = run["status"]
        if status == "skipped" or kind not in {"test", "model", "seed"}:
            continue
        if kind == "test":
            metadata = node.get("test_metadata") or {}
            attached = node.get("attached_node") or ""
            severity: Severity = (
                "warning" if str(node.get("config", {}).get("severity")).lower() == "warn" else "critical"
            )
            results.append(
                CheckResult(
                    suite="dbt_tests",
                    table_name=attached.split(".")[-1] or node.get("name", run["unique_id"]),
                    expectation=metadata.get("name") or node.get("name", run["unique_id"]),
                    column_name=node.get("column_name"),
                    severity=severity,
                    success=status == "pass",
                    expected=to_json(
                        {
                            k: v
                            for k, v in (metadata.get("kwargs") or {}).items()
                            if k not in {"model", "column_name"}
                        }
                    ),
                    observed_value=None if status == "pass" else str(run.get("message") or status),
                    unexpected_count=run.get("failures"),
                    why=(node.get("description") or "dbt data test"),
                )
            )
        elif status == "error":
            results.append(
                CheckResult(
                    suite="dbt_build",
                    table_name=node.get("name", run["unique_id"].split(".")[-1]),
                    expectation=f"{kind} builds",
                    column_name=None,
                    severity="critical",
                    success=False,
                    observed_value=str(run.get("message") or status),
                    why="A model that does not build leaves its table and everything after it stale.",
                )
            )
    return results
