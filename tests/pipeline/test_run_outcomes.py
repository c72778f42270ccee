"""The record of a run says how it ended, whatever step stopped it: published, refused in a step
after the gate (a failing dbt test of the prediction marts), crashed (the predict step), in
quality.pipeline_runs and in the report's verdict. On hand-made builds
(tests/pipeline/fake_steps.py), the gate passing first as the real one does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import fake_steps
import polars as pl
import pytest

from conftest import registry_entry
from lakehouse.config import Paths, paths
from lakehouse.models import registry
from lakehouse.models.batch import predictions_file
from lakehouse.platform import pipeline


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _records(p: Paths) -> list[dict[str, object]]:
    return pl.read_parquet(p.quality / "pipeline_runs" / "*.parquet").to_dicts()


def _verdict(report: Path) -> str:
    page = report.read_text()
    start = page.index('<div class="verdict')
    return page[start : page.index("</div>", start)]


@pytest.mark.parametrize(
    ("step", "stop", "outcome", "verdict", "error"),
    [
        (
            "ml marts",
            fake_steps.failing_dbt_test,
            "refused",
            "BLOCKED",
            "not_null_model_performance_daily_roc_auc",
        ),
        ("predict", fake_steps.crashing_predict, "crashed", "CRASHED", "RuntimeError: scoring broke"),
    ],
)
def test_a_run_stopped_after_the_gate_is_recorded_as_it_ended(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    stop: Callable[[pipeline.PipelineRun], str],
    outcome: str,
    verdict: str,
    error: str,
) -> None:
    p = paths()
    monkeypatch.setattr(
        pipeline,
        "STEPS",
        [
            ("dbt build", fake_steps.build),
            ("quality gate", fake_steps.gate),
            (step, stop),
            ("publish", pipeline.publish),
        ],
    )
    with pytest.raises(pipeline.PipelineError, match=f"step '{step}' failed"):
        pipeline.run_pipeline(fake_steps.quiet_console())
    assert not p.warehouse.exists()
    # the report's verdict says how the run ended, not PASSED
    (report,) = p.quality_reports.glob("2*.html")
    assert "PASSED" not in _verdict(report)
    assert f"{verdict}: {outcome} in step {step}" in _verdict(report)
    assert f">{outcome} in {step}</span>" in report.read_text()  # the recent runs
    (record,) = _records(p)
    assert (record["outcome"], record["step"], record["published_version"]) == (outcome, step, None)
    assert error in str(record["error"])
    # and the build kept for inspection holds the same record
    with duckdb.connect(str(p.build_warehouse), read_only=True) as connection:
        assert connection.execute("select outcome, step from quality.pipeline_runs").fetchall() == [
            (outcome, step)
        ]


def test_a_run_refused_after_training_withdraws_the_models_it_registered(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = paths()
    earlier = registry_entry("earlier", "classification", p.model_runs / "earlier", hours=0)
    registry.save_entries(p.model_registry, "earlier", [earlier], pl.DataFrame({"run_id": ["earlier"]}))
    predictions_file(p.predictions, earlier.model_id).parent.mkdir(parents=True)
    predictions_file(p.predictions, earlier.model_id).write_text("scores")
    monkeypatch.setattr(
        pipeline,
        "STEPS",
        [
            ("dbt build", fake_steps.build),
            ("quality gate", fake_steps.gate),
            ("train", fake_steps.training),
            ("ml marts", fake_steps.failing_dbt_test),
            ("publish", pipeline.publish),
        ],
    )
    with pytest.raises(pipeline.PipelineError, match="step 'ml marts' failed"):
        pipeline.run_pipeline(fake_steps.quiet_console())
    # the earlier champion is the champion again, with its predictions; the refused run left none
    assert sorted(path.name for path in p.model_registry.iterdir()) == [
        "earlier.metrics.parquet",
        "earlier.models.parquet",
    ]
    assert [path.name for path in p.predictions.iterdir()] == [f"{earlier.model_id}.parquet"]
    champion = registry.current_champion(p.model_registry, "classification", 120)
    assert champion is not None
    assert champion.model_id == earlier.model_id


def test_a_published_run_is_recorded_as_published_in_its_own_warehouse(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = paths()
    monkeypatch.setattr(
        pipeline,
        "STEPS",
        [("dbt build", fake_steps.build), ("quality gate", fake_steps.gate), ("publish", pipeline.publish)],
    )
    run = pipeline.run_pipeline(fake_steps.quiet_console())
    version = p.current.resolve().name
    (record,) = _records(p)
    assert (record["outcome"], record["step"], record["published_version"]) == ("published", None, version)
    with duckdb.connect(str(p.warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select run_id, outcome, published_version from quality.pipeline_runs"
        ).fetchall()
    assert rows == [(run.validation.run_id, "published", version)]
    assert run.report is not None
    assert _verdict(run.report).endswith(f"PASSED: passed and published (version {version})")
