"""The tuning job and the rolling backtest, on the 5% sample's published warehouse: tuning writes a
reviewable file that training reads and records, the same search gives the same file, and the
backtest tests each month with models fitted on the months before it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import Sample
from lakehouse.config import SEARCH_SPACE, TUNED_PARAMS_FILE, TrainingConfig, read_tuned
from lakehouse.models.backtest import folds, run_backtest
from lakehouse.models.features.build import read_features
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.training_run import run_training
from lakehouse.models.tuning_run import run_tuning


def _quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def tuned_file(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`lakehouse tune --trials 2 --task classification` on the sample, into a file of its own."""
    output = tmp_path_factory.mktemp("tuned") / "tuned_params.yml"
    config = TrainingConfig(trials=2, cv_last_train_months=(8,), permutation_max_rows=2_000)
    run_tuning(
        sample.first.paths.models, config, ["classification"], _quiet, sample.first.paths.warehouse, output
    )
    return output


def test_tuning_writes_a_reviewable_file_of_parameters_and_dropped_features(tuned_file: Path) -> None:
    text = tuned_file.read_text()
    assert text.startswith("# LightGBM's tuned parameters")
    document = yaml.safe_load(text)
    assert set(document) == {"classification"}
    tuned = read_tuned("classification", FEATURES.all, tuned_file)
    assert set(tuned.params) == set(SEARCH_SPACE)
    for name, space in SEARCH_SPACE.items():
        assert space.low <= tuned.params[name] <= space.high
    assert set(tuned.dropped_features) < set(FEATURES.all)
    assert tuned.search["trials"] == 2
    assert tuned.search["seed"] == 42
    assert tuned.search["fold_last_train_months"] == [8]


def test_the_same_search_gives_the_same_parameters(sample: Sample, tuned_file: Path, tmp_path: Path) -> None:
    again = tmp_path / "tuned_params.yml"
    config = TrainingConfig(trials=2, cv_last_train_months=(8,), permutation_max_rows=2_000)
    run_tuning(
        sample.first.paths.models, config, ["classification"], _quiet, sample.first.paths.warehouse, again
    )
    first, second = (read_tuned("classification", FEATURES.all, path) for path in (tuned_file, again))
    assert (first.params, first.dropped_features) == (second.params, second.dropped_features)
    other = tmp_path / "other_seed.yml"
    run_tuning(
        sample.first.paths.models,
        dataclasses.replace(config, seed=7),
        ["classification"],
        _quiet,
        sample.first.paths.warehouse,
        other,
    )
    assert read_tuned("classification", FEATURES.all, other).params != first.params


def test_training_reads_the_tuned_file_and_records_the_search(
    sample: Sample, tuned_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a copy of the registry: the sample's other tests read its champions
    models = tmp_path / "models"
    p = dataclasses.replace(sample.first.paths, models=models)
    tuned = yaml.safe_load(tuned_file.read_text())
    tuned["regression"] = yaml.safe_load(TUNED_PARAMS_FILE.read_text())["regression"]
    both = tmp_path / "tuned_params.yml"
    both.write_text(yaml.safe_dump(tuned))
    monkeypatch.setenv("LAKEHOUSE_TUNED_PARAMS", str(both))
    config = dataclasses.replace(TrainingConfig.from_environment(), other_horizons_minutes=())
    run = run_training(p, config, ["classification"], _quiet, p.warehouse)
    (entry,) = run.entries
    recorded = json.loads(entry.tuning or "{}")
    chosen = read_tuned("classification", FEATURES.all)
    assert recorded["params"] == chosen.params
    assert recorded["trials"] == 2
    final = run.results[0].final
    assert final.features == [f for f in FEATURES.all if f not in chosen.dropped_features]
    assert {key: final.params[key] for key in SEARCH_SPACE} == chosen.params


def test_the_backtest_tests_each_month_on_the_months_before_it(sample: Sample, tmp_path: Path) -> None:
    p = sample.first.paths
    frame = read_features(p.warehouse)
    assert [(f.test_month, f.validation_month, f.train_months[-1]) for f in folds(frame, 2)] == [
        (11, 10, 9),
        (12, 11, 10),
    ]
    with pytest.raises(ValueError, match="needs at least 14 months"):
        folds(frame, 12)
    config = dataclasses.replace(TrainingConfig.from_environment(), backtest_months=2)
    backtest = run_backtest(
        tmp_path / "models", tmp_path / "registry", config, ["classification"], _quiet, p.warehouse
    )
    rows = backtest.table("classification")
    assert [(r["month"], r["model"]) for r in rows] == [
        (month, model)
        for month in ("2013-11", "2013-12", "mean")
        for model in ("prior", "lightgbm_schedule", "lightgbm")
    ]
    by_key = {(r["month"], r["model"]): r for r in rows}
    for model in ("prior", "lightgbm_schedule", "lightgbm"):
        months = [by_key[(m, model)]["roc_auc"] for m in ("2013-11", "2013-12")]
        mean = by_key[("mean", model)]
        assert mean["roc_auc"] == pytest.approx(np.mean(months))
    final = by_key[("mean", "lightgbm")]
    assert final["roc_auc_low"] <= final["roc_auc"] <= final["roc_auc_high"]
    assert final["roc_auc"] > by_key[("mean", "lightgbm_schedule")]["roc_auc"] > 0.5
    assert (tmp_path / "registry" / f"{backtest.backtest_id}.metrics.parquet").exists()
    assert "2013-12" in backtest.report.read_text()
