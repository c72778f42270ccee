"""Training end to end on the real warehouse, as the session's pipeline run did it (the quick
budget): the side-by-side models, the report, the registry and its tables, and the champion rule
on a second run."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import Sample
from lakehouse.config import Paths, TrainingConfig, read_tuned
from lakehouse.models.features.build import read_features
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.metrics import regression_metrics
from lakehouse.models.predict import predict
from lakehouse.models.registry import load_model
from lakehouse.models.split import task_splits
from lakehouse.models.tasks import labels
from lakehouse.models.training_run import TrainingRun, run_training
from lakehouse.platform.pipeline import PipelineRun

pytestmark = pytest.mark.warehouse


@pytest.fixture(scope="module")
def trained(pipeline_run: PipelineRun) -> tuple[TrainingRun, Paths]:
    assert pipeline_run.training is not None, "a pipeline run with no registry trains"
    return pipeline_run.training, pipeline_run.paths


def test_the_models_stand_side_by_side_and_the_data_engineering_pays(
    trained: tuple[TrainingRun, Paths],
) -> None:
    run, _ = trained
    classification = {m.name: m.metrics["test"] for m in run.results[0].models}
    assert list(classification) == ["prior", "linear", "lightgbm_schedule", "lightgbm"]
    assert classification["prior"]["roc_auc"] == 0.5
    final = run.results[0].final.metrics["test"]["roc_auc"]
    assert classification["lightgbm_schedule"]["roc_auc"] + 0.05 < final < 0.82  # above 0.82: review leakage
    regression = {m.name: m.metrics["test"] for m in run.results[1].models}
    assert run.results[1].final.metrics["test"]["rmse"] < regression["mean"]["rmse"]
    # a champion of each task at every horizon the budget trains
    assert sorted((e.task, e.horizon_minutes) for e in run.entries) == [
        ("classification", 60),
        ("classification", 120),
        ("regression", 60),
        ("regression", 120),
    ]


def test_the_report_and_the_registry_are_written(trained: tuple[TrainingRun, Paths]) -> None:
    run, p = trained
    assert run.report.exists()
    for plot in ("roc.png", "pr.png", "calibration.png", "confusion.png", "residuals.png"):
        assert (run.report.parent / plot).stat().st_size > 1000
    page = run.report.read_text()
    assert "lightgbm_schedule" in page
    assert "bootstrap" in page
    assert "Tuned parameters" in page
    assert "Rolling backtest" in page
    assert all(e.is_promoted for e in run.entries)
    assert "the final model at each horizon" in page
    saved = load_model(Path(run.entries[0].artifact_dir))
    assert saved.features == run.results[0].final.features
    # the registry files hold the paths relative to the models folder, typed from the first run
    stored = pl.read_parquet(next(p.model_registry.glob("*.models.parquet")))
    assert not any(Path(v).is_absolute() for v in [*stored["artifact_dir"], *stored["report_path"]])
    assert stored.schema["champion_model_id"] == pl.String
    # the registry says how the parameters were found, beside the model they produced
    tuning = json.loads(run.entries[0].tuning or "{}")
    assert tuning["params"] == read_tuned("classification", FEATURES.all).params
    assert {"trials", "seed", "data_fingerprint", "tuned_at"} <= set(tuning)
    with duckdb.connect(str(p.warehouse), read_only=True) as connection:
        registered = connection.execute(
            "select task, horizon_minutes, is_promoted from ml.model_registry order by task, horizon_minutes"
        ).fetchall()
        metrics = connection.execute("select count(distinct segment_kind) from ml.model_metrics").fetchall()
    assert registered == [
        ("classification", 60, True),
        ("classification", 120, True),
        ("regression", 60, True),
        ("regression", 120, True),
    ]
    assert metrics[0][0] >= 5  # overall, carrier, origin, month, bootstrap, variant


def test_a_second_run_is_judged_against_the_champion_on_the_same_rows(sample: Sample, tmp_path: Path) -> None:
    """On the 5% sample (a cheap second training run), with a copy of its registry. The second run
    chooses on October alone: the champion, chosen on October and November, must be re-scored on
    October, not judged by the value it recorded."""
    first = sample.first.training
    assert first is not None
    shutil.copytree(sample.first.paths.models, tmp_path / "models")
    p = dataclasses.replace(sample.first.paths, models=tmp_path / "models")
    quick = TrainingConfig.from_environment()
    config = dataclasses.replace(
        quick, trials=1, other_horizons_minutes=(), seed=7, validation_months=(10,), test_months=(11, 12)
    )
    second = run_training(p, config, ["regression"], lambda message: None, p.warehouse)
    (entry,) = second.entries
    champion = next(e for e in first.entries if e.task == "regression" and e.horizon_minutes == 120)
    assert entry.champion_model_id == champion.model_id
    october = task_splits(read_features(p.warehouse, config.horizon_minutes), config, "regression")[
        "validation"
    ]
    saved = load_model(Path(champion.artifact_dir))
    predicted = predict(saved.validation_booster, saved.validation_pre, october)
    rescored = regression_metrics(labels(october, "regression"), predicted)
    assert entry.champion_validation_value == pytest.approx(rescored["rmse"])
    assert entry.champion_validation_value != pytest.approx(champion.validation_value)
    # promoted only on an improvement the October days support, the interval recorded with it
    assert entry.improvement_low is not None
    assert entry.improvement_high is not None
    assert entry.is_promoted == (entry.improvement_low > 0)
    assert "95% day-block interval" in entry.decision_reason
    assert "champion" in entry.decision_reason
