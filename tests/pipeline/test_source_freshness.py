"""`dbt source freshness` on the raw sources reads when each source's newest file landed (the
landing zone's file times): a source that has received nothing for longer than its period warns,
then errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lakehouse.config import paths
from lakehouse.platform.dbt import dbt_environment

DAY = 86_400


def _landed(files: list[Path], days_ago: float) -> None:
    at = time.time() - days_ago * DAY
    for path in files:
        os.utime(path, (at, at))


def test_source_freshness_follows_the_newest_file_of_each_source(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(paths().raw, raw)
    flights = sorted(raw.glob("flights/*/*.csv.gz"))
    _landed(flights[:-1], 100)  # only the newest month counts: it landed a day ago
    _landed(flights[-1:], 1)
    _landed(sorted(raw.glob("weather/*/*.jsonl")), 40)  # a month missed: warn after 35 days
    _landed(sorted(raw.glob("airlines/*")), 900)  # error after 800 days
    target = tmp_path / "target"
    project = paths().dbt_project
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "source",
            "freshness",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env=dbt_environment(tmp_path / "warehouse.duckdb", raw, tmp_path / "lake"),
        capture_output=True,
        text=True,
        check=False,
    )
    results = json.loads((target / "sources.json").read_text())["results"]
    statuses = {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results}
    assert statuses == {
        "flights": "pass",
        "weather": "warn",
        "planes": "pass",
        "airports": "pass",
        "airlines": "error",
    }, completed.stdout
    assert completed.returncode == 1
    ages = {r["unique_id"].rsplit(".", 1)[-1]: r["max_loaded_at_time_ago_in_s"] for r in results}
    assert 0.9 * DAY < ages["flights"] < 1.1 * DAY
