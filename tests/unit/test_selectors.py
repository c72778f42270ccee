"""The named selections of dbt_project/selectors.yml: the pipeline's two builds use them."""

from __future__ import annotations

import inspect

import yaml

from lakehouse.config import DBT_PROJECT_DIR
from lakehouse.platform import pipeline


def test_the_pipeline_builds_the_named_selections() -> None:
    names = {s["name"] for s in yaml.safe_load((DBT_PROJECT_DIR / "selectors.yml").read_text())["selectors"]}
    assert {"core", "monitoring", "staging", "marts"} <= names
    assert '"--selector", "core"' in inspect.getsource(pipeline.build_warehouse)
    assert '"--selector", "monitoring"' in inspect.getsource(pipeline.build_prediction_marts)
