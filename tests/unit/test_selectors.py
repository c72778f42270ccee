"""The named selections of dbt_project/selectors.yml: the pipeline's two builds use them."""

from __future__ import annotations

import inspect

import yaml

from lakehouse.config import CORE_SELECTOR, DBT_PROJECT_DIR, MONITORING_SELECTOR
from lakehouse.platform import pipeline
from lakehouse.platform.spark import spark_build_args


def test_the_pipeline_builds_the_named_selections() -> None:
    names = {s["name"] for s in yaml.safe_load((DBT_PROJECT_DIR / "selectors.yml").read_text())["selectors"]}
    assert {CORE_SELECTOR, MONITORING_SELECTOR, "staging", "marts"} <= names
    assert '"--selector", CORE_SELECTOR' in inspect.getsource(pipeline.build_warehouse)
    assert '"--selector", MONITORING_SELECTOR' in inspect.getsource(pipeline.build_prediction_marts)
    assert spark_build_args() == ["build", "--selector", CORE_SELECTOR]
