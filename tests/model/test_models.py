"""Training behaviour on small synthetic data: the split, determinism through the registry, batch
scoring and its write-back, the registry table."""

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from conftest import registry_entry
from lakehouse.common.files import DamagedFileError
from lakehouse.config import TrainingConfig
from lakehouse.models.batch import (
    PREDICTION_SCHEMA,
    ScoringError,
    load_scoring_tables_into,
    predict_with_champions,
    prediction_rows,
    scored_fingerprint,
)
from lakehouse.models.boosting import base_params, scaled_rounds
from lakehouse.models.champion import Challenger, Decision, judge
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.metrics import classification_metrics
from lakehouse.models.predict import predict
from lakehouse.models.registry import (
    RegistryEntry,
    current_champion,
    load_model,
    load_registry_into,
    save_entries,
    save_model,
    stored_path,
    unreadable_models,
    window_fingerprint,
)
from lakehouse.models.registry import entries as entries_of
from lakehouse.models.split import SplitError, split_by_month, task_splits
from lakehouse.models.tasks import TASKS
from lakehouse.models.train import ModelRun, lightgbm_run


def _frame(rows: int = 3000, seed: int = 0) -> pl.DataFrame:
    """Flights over a year whose delay depends on two features (and noise)."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        name: rng.normal(size=rows) for name in FEATURES.all if name not in FEATURES.categorical
    }
    data["carrier"] = rng.choice(["UA", "AA", "DL"], rows)
    data["origin"] = rng.choice(["EWR", "JFK", "LGA"], rows)
    data["dest"] = rng.choice(["ORD", "ATL"], rows)
    data["manufacturer"] = ["BOEING" if known else None for known in rng.random(rows) > 0.3]
    signal = 1.5 * np.asarray(data["origin_mean_delay_60m"]) + (np.asarray(data["carrier"]) == "UA")
    data["is_delayed"] = signal + rng.normal(size=rows) > 1.0
    data["scheduled_departure_date"] = [date(2013, 1 + i % 12, 1 + i % 28) for i in range(rows)]
    data["flight_id"] = [f"f{i}" for i in range(rows)]
    return pl.DataFrame(data)


def test_the_split_is_by_month_and_keeps_december_apart() -> None:
    splits = split_by_month(_frame(), TrainingConfig())
    months = {
        name: set(rows["scheduled_departure_date"].dt.month().to_list()) for name, rows in splits.items()
    }
    assert months == {"train": set(range(1, 10)), "validation": {10, 11}, "test": {12}}
    # data without December (a month file missing, say): named, not a failure deep in a fit
    without_december = _frame().filter(pl.col("scheduled_departure_date").dt.month() != 12)
    with pytest.raises(SplitError, match=r"no flights in the test months \(12\): the data holds months 1, 2"):
        split_by_month(without_december, TrainingConfig())


def _trained(frame: pl.DataFrame) -> ModelRun:
    splits = task_splits(frame, TrainingConfig(), "classification")
    return lightgbm_run(
        "lightgbm",
        "classification",
        splits,
        list(FEATURES.all),
        base_params("classification", TrainingConfig()),
    )


def _save(run: ModelRun, directory: Path) -> Path:
    rounds = {"early_stopped": run.rounds, "refit": run.refit_rounds}
    return save_model(directory, run.scoring, (run.model, run.pre), run.features, run.params, 0.3, rounds)


def test_training_is_deterministic_for_a_seed_and_survives_the_registry(
    tmp_path: Path, small_classifier: ModelRun
) -> None:
    frame = _frame()
    first, second = small_classifier, _trained(frame)
    assert first.model.model_to_string() == second.model.model_to_string()
    assert first.refit.model_to_string() == second.refit.model_to_string()
    saved = load_model(_save(first, tmp_path / "m"))
    assert saved.threshold == 0.3
    test = split_by_month(frame, TrainingConfig())["test"]
    np.testing.assert_array_equal(predict(*first.scoring, test), predict(saved.booster, saved.pre, test))
    np.testing.assert_array_equal(
        predict(first.model, first.pre, test), predict(saved.validation_booster, saved.validation_pre, test)
    )
    # It learned the signal it was given.
    y = test["is_delayed"].to_numpy().astype(float)
    assert classification_metrics(y, predict(*first.scoring, test), 0.5, float(y.mean()))["roc_auc"] > 0.75


def test_the_scoring_model_is_refitted_on_every_month_before_the_test_month(
    small_classifier: ModelRun,
) -> None:
    frame, run = _frame(), small_classifier
    splits = task_splits(frame, TrainingConfig(), "classification")
    fitted, refitted = splits["train"].height, splits["train"].height + splits["validation"].height
    assert run.rounds == run.model.best_iteration > 0
    # the early-stopped rounds, scaled to the larger training set
    assert (
        run.refit_rounds
        == scaled_rounds(run.rounds, fitted, refitted)
        == round(run.rounds * refitted / fitted)
    )
    assert run.refit.num_trees() == run.refit_rounds
    # the refit's categories and statistics come from its own rows
    assert run.refit_pre is not None
    assert run.refit_pre != run.pre
    test = splits["test"]
    assert not np.array_equal(predict(run.model, run.pre, test), predict(*run.scoring, test))
    assert scaled_rounds(0, 10, 20) == 1


def _register(registry: Path, run_id: str, tasks: tuple[str, ...], artifact: Path) -> None:
    """A registry run whose models (one per task) are all the given artifact."""
    entries = [registry_entry(run_id, task, artifact, hours=len(list(registry.glob("*")))) for task in tasks]
    save_entries(registry, run_id, entries, pl.DataFrame({"run_id": [run_id]}))


@pytest.fixture(scope="module")
def small_classifier() -> ModelRun:
    """One small classifier, fitted once for the tests that register it."""
    return _trained(_frame())


@pytest.fixture
def champions(tmp_path: Path, small_classifier: ModelRun) -> tuple[Path, pl.DataFrame]:
    """A registry whose champions (both tasks) are one small classifier, and the flights to score."""
    frame = _frame().with_columns(
        horizon_minutes=pl.lit(120),
        decision_at_utc=pl.col("scheduled_departure_date").cast(pl.Datetime("us")),
    )
    artifact = _save(small_classifier, tmp_path / "m")
    _register(tmp_path / "registry", "run1", TASKS, artifact)
    return tmp_path, frame


def test_scoring_gives_every_flight_its_score_label_and_lineage(champions: tuple[Path, pl.DataFrame]) -> None:
    root, frame = champions
    scored = predict_with_champions(root / "registry", root / "predictions", frame, "features-1")
    assert [(s.task, s.rows, s.rescored) for s in scored] == [
        ("classification", 3000, True),
        ("regression", 3000, True),
    ]
    rows = pl.read_parquet(root / "predictions" / "run1-classification.parquet")
    assert rows.schema == pl.Schema(PREDICTION_SCHEMA)
    assert rows["flight_id"].is_unique().all()
    assert rows.height == frame.height
    saved = load_model(root / "m")
    assert rows["flight_id"].equals(frame["flight_id"])  # in the features' order
    np.testing.assert_array_equal(rows["score"], predict(saved.booster, saved.pre, frame))
    assert (rows["predicted_label"] == (rows["score"] >= 0.3)).all()
    assert rows["model_version"].unique().to_list() == ["run1"]
    regression = pl.read_parquet(root / "predictions" / "run1-regression.parquet")
    assert regression["predicted_label"].is_null().all()
    assert regression["threshold"].is_null().all()


def test_a_flights_score_reads_only_its_own_row(champions: tuple[Path, pl.DataFrame]) -> None:
    root, frame = champions
    saved = load_model(root / "m")
    entry = current_champion(root / "registry", "classification", 120)
    assert entry is not None
    later = frame["scheduled_departure_date"] >= date(2013, 7, 1)
    changed = frame.with_columns(
        pl.when(later).then(pl.col(c).shuffle(seed=1)).otherwise(pl.col(c)).alias(c)
        for c in FEATURES.all
        if c not in FEATURES.categorical
    )
    now = datetime(2026, 1, 1)
    before = prediction_rows(frame, saved, entry, "a", now).filter(
        pl.col("decision_at_utc") < datetime(2013, 7, 1)
    )
    after = prediction_rows(changed, saved, entry, "a", now).filter(
        pl.col("decision_at_utc") < datetime(2013, 7, 1)
    )
    assert before.equals(after)
    assert not prediction_rows(frame, saved, entry, "a", now).equals(
        prediction_rows(changed, saved, entry, "a", now)
    )


def test_rescoring_replaces_a_version_and_the_latest_versions_coexist(
    champions: tuple[Path, pl.DataFrame],
) -> None:
    root, frame = champions
    registry, predictions = root / "registry", root / "predictions"
    predict_with_champions(registry, predictions, frame, "features-1")
    first = (predictions / "run1-classification.parquet").read_bytes()
    # Same model, same features: kept byte for byte.
    assert not any(s.rescored for s in predict_with_champions(registry, predictions, frame, "features-1"))
    assert (predictions / "run1-classification.parquet").read_bytes() == first
    # New features: the version's rows are replaced, not added.
    assert all(s.rescored for s in predict_with_champions(registry, predictions, frame, "features-2"))
    assert scored_fingerprint(predictions, "run1-classification") == "features-2"
    # A new champion scores beside the old version.
    _register(registry, "run2", ("classification",), root / "m")
    predict_with_champions(registry, predictions, frame, "features-2")
    warehouse = root / "warehouse.duckdb"
    assert load_scoring_tables_into(warehouse, predictions, registry, frame) == 3 * frame.height
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        versions = connection.execute(
            "select model_id, count(*), count(distinct flight_id) from ml.predictions group by all order by 1"
        ).fetchall()
        features = connection.execute("select count(*) from ml.flight_features").fetchone()
    assert versions == [
        ("run1-classification", 3000, 3000),
        ("run1-regression", 3000, 3000),
        ("run2-classification", 3000, 3000),
    ]
    assert features == (3000,)
    # Flights the data no longer has (a correction removed them) leave the table, not the files.
    assert load_scoring_tables_into(warehouse, predictions, registry, frame.tail(2000)) == 3 * 2000
    assert pl.read_parquet(predictions / "run1-regression.parquet").height == 3000
    # A third champion: the table keeps the latest two of the task, the oldest file stays on disk.
    _register(registry, "run3", ("classification",), root / "m")
    scored = predict_with_champions(registry, predictions, frame, "features-2")
    current = [s.model_id for s in scored]
    assert load_scoring_tables_into(warehouse, predictions, registry, frame, current) == 3 * frame.height
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        loaded = connection.execute("select distinct model_id from ml.predictions order by 1").fetchall()
    assert loaded == [("run1-regression",), ("run2-classification",), ("run3-classification",)]
    assert (predictions / "run1-classification.parquet").exists()


def test_a_failed_write_back_leaves_the_old_predictions(
    champions: tuple[Path, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, frame = champions
    registry, predictions = root / "registry", root / "predictions"
    predict_with_champions(registry, predictions, frame, "features-1")
    warehouse = root / "warehouse.duckdb"
    load_scoring_tables_into(warehouse, predictions, registry, frame)
    old = (predictions / "run1-classification.parquet").read_bytes()

    def crash(self: pl.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        predict_with_champions(registry, predictions, frame, "features-2")
    monkeypatch.undo()
    assert (predictions / "run1-classification.parquet").read_bytes() == old
    # A damaged file among the predictions: the load fails as a whole, the tables stay as they were.
    (predictions / "run1-regression.parquet").write_bytes(b"not parquet")
    with pytest.raises(DamagedFileError, match=r"run1-regression\.parquet cannot be read as Parquet"):
        load_scoring_tables_into(warehouse, predictions, registry, frame.head(10))
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counts = connection.execute(
            "select (select count(*) from ml.predictions), (select count(*) from ml.flight_features)"
        ).fetchone()
    assert counts == (6000, 3000)


def test_scoring_without_a_champion_says_what_to_do(tmp_path: Path) -> None:
    frame = pl.DataFrame({"horizon_minutes": [120]})
    with pytest.raises(ScoringError, match="lakehouse train"):
        predict_with_champions(tmp_path / "registry", tmp_path / "predictions", frame, "x")


def test_the_registry_table_has_every_field_even_for_entries_written_before_it(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    _register(registry, "run1", TASKS, tmp_path / "m")
    old = pl.read_parquet(registry / "run1.models.parquet").drop(
        "validation_start_date", "training_signature"
    )
    old.write_parquet(registry / "run1.models.parquet")
    warehouse = tmp_path / "warehouse.duckdb"
    assert load_registry_into(warehouse, registry)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select count(*), count(validation_start_date), count(training_signature), "
            "count(validation_end_date) from ml.model_registry"
        ).fetchone()
    assert rows == (2, 0, 0, 2)


def _champion_and_validation(champions: tuple[Path, pl.DataFrame]) -> tuple[RegistryEntry, pl.DataFrame]:
    root, frame = champions
    champion = current_champion(root / "registry", "classification", 120)
    assert champion is not None
    return champion, split_by_month(frame, TrainingConfig())["validation"]


def _champion_predictions(root: Path, validation: pl.DataFrame) -> np.ndarray:
    """The champion's model fitted on its training months, on `validation` (its scoring model has
    seen the validation months)."""
    saved = load_model(root / "m")
    return predict(saved.validation_booster, saved.validation_pre, validation)


def _judge(challenger: Challenger, champion: RegistryEntry, validation: pl.DataFrame) -> Decision:
    return judge(challenger, champion, validation, "classification", 0.5, 200, 7)


def _auc(validation: pl.DataFrame, predicted: np.ndarray) -> float:
    y = validation["is_delayed"].to_numpy().astype(float)
    return classification_metrics(y, predicted, 0.3, 0.5)["roc_auc"]


def test_the_champion_is_rescored_on_the_challengers_validation_rows(
    champions: tuple[Path, pl.DataFrame],
) -> None:
    champion, validation = _champion_and_validation(champions)
    expected = _auc(validation, _champion_predictions(champions[0], validation))
    # a challenger that knows much more: clearly better on every resample of the days
    y = validation["is_delayed"].to_numpy().astype(float)
    better = (y + np.random.default_rng(0).random(y.size)) / 2
    decision = _judge(Challenger(_auc(validation, better), better, "train-data"), champion, validation)
    # the champion's value on these rows, not the 0.7 it recorded on its own
    assert decision.champion_value == pytest.approx(expected)
    assert decision.champion_value != pytest.approx(champion.validation_value)
    assert decision.promoted
    assert decision.improvement_low is not None
    assert decision.improvement_high is not None
    assert 0 < decision.improvement_low < _auc(validation, better) - expected < decision.improvement_high
    worse = np.random.default_rng(0).random(y.size)
    assert not _judge(Challenger(_auc(validation, worse), worse, "train-data"), champion, validation).promoted


def test_a_challenger_better_by_noise_alone_is_not_promoted_and_the_interval_says_so(
    champions: tuple[Path, pl.DataFrame],
) -> None:
    champion, validation = _champion_and_validation(champions)
    champion_predictions = _champion_predictions(champions[0], validation)
    # the champion's scores, a hair apart: a different AUC by chance
    nudged = champion_predictions + 1e-3 * np.random.default_rng(3).random(champion_predictions.size)
    value = _auc(validation, nudged)
    assert value != _auc(validation, champion_predictions)
    # the old rule promoted on any improvement; 0.0001 above the champion's value is not one
    decision = _judge(Challenger(value, nudged, "train-data"), champion, validation)
    assert not decision.promoted
    assert decision.improvement_low is not None
    assert decision.improvement_high is not None
    assert decision.improvement_low <= 0 <= decision.improvement_high
    assert "includes 0" in decision.reason
    # the identical model: the interval is a point at 0, and it is not promoted either
    same = _judge(Challenger(value, champion_predictions, "train-data"), champion, validation)
    assert (same.improvement_low, same.improvement_high, same.promoted) == (0.0, 0.0, False)


def test_a_champion_whose_training_months_were_corrected_is_replaced_by_the_retrain(
    champions: tuple[Path, pl.DataFrame],
) -> None:
    champion, validation = _champion_and_validation(champions)
    assert champion.training_data_fingerprint == "train-data"
    predictions = _champion_predictions(champions[0], validation)
    value = _auc(validation, predictions) - 0.0001
    # the same training months hold other data now: the champion learned from data since corrected
    decision = _judge(Challenger(value, predictions, "corrected-train-data"), champion, validation)
    assert decision.promoted
    assert "corrected since" in decision.reason
    assert "2013-01-01 to 2013-09-30" in decision.reason
    # the interval is recorded all the same
    assert (decision.improvement_low, decision.improvement_high) == (0.0, 0.0)
    # no correction, no better: the champion stays
    assert not _judge(Challenger(value, predictions, "train-data"), champion, validation).promoted


def test_the_training_window_fingerprint_sees_a_corrected_month_only_inside_the_window() -> None:
    frame = _frame()
    start, end = date(2013, 1, 1), date(2013, 11, 30)
    fingerprint = window_fingerprint(frame, start, end)
    assert window_fingerprint(frame.sample(fraction=1.0, shuffle=True, seed=1), start, end) == fingerprint
    month = pl.col("scheduled_departure_date").dt.month()
    corrected = frame.with_columns(
        origin_mean_delay_60m=pl.when(month == 3).then(0.0).otherwise(pl.col("origin_mean_delay_60m"))
    )
    assert window_fingerprint(corrected, start, end) != fingerprint
    december = frame.with_columns(
        origin_mean_delay_60m=pl.when(month == 12).then(0.0).otherwise(pl.col("origin_mean_delay_60m"))
    )
    assert window_fingerprint(december, start, end) == fingerprint


def test_a_champion_reading_a_removed_feature_is_judged_on_its_recorded_value(
    champions: tuple[Path, pl.DataFrame],
) -> None:
    champion, validation = _champion_and_validation(champions)
    predictions = np.full(validation.height, 0.5)
    decision = _judge(
        Challenger(0.71, predictions, "train-data"), champion, validation.drop("origin_mean_delay_60m")
    )
    assert decision.champion_value == champion.validation_value == 0.7
    assert decision.promoted
    assert decision.improvement_low is None
    assert "removed features origin_mean_delay_60m" in decision.reason


def _cut(path: Path) -> None:
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])


def _edit_json(path: Path, **values: object) -> None:
    path.write_text(json.dumps(json.loads(path.read_text()) | values))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda m: (m / "model.txt").unlink(), "No such file or directory: .*/m/model.txt"),
        (lambda m: shutil.rmtree(m / "validation"), "No such file or directory: .*/m/validation/model.txt"),
        (lambda m: (m / "model.txt").write_text("tree\n"), "holds no trees"),
        (lambda m: (m / "model.json").write_text("{"), "Expecting property name"),
        # LightGBM would abort the whole process on a model cut short
        (lambda m: _cut(m / "model.txt"), "cut short or altered"),
        (lambda m: _cut(m / "validation" / "model.txt"), "cut short or altered"),
        (lambda m: _edit_json(m / "model.json", features="abc"), "features is not a list of names"),
    ],
)
def test_a_champion_whose_model_cannot_be_read_is_named_kept_scores_or_not_and_replaced(
    champions: tuple[Path, pl.DataFrame], damage: Callable[[Path], None], reason: str
) -> None:
    root, frame = champions
    registry, predictions = root / "registry", root / "predictions"
    champion, validation = _champion_and_validation(champions)
    predict_with_champions(registry, predictions, frame, "features-1")
    assert unreadable_models([champion, None]) == []
    damage(root / "m")
    with pytest.raises(DamagedFileError, match=rf"^the model in {re.escape(str(root / 'm'))} cannot be read"):
        load_model(root / "m")
    assert unreadable_models([champion, None]) == [champion.model_id]
    # its stored scores come from these very features, and still it is named, not kept
    with pytest.raises(DamagedFileError, match=reason):
        predict_with_champions(registry, predictions, frame, "features-1")
    # whatever its recorded value, a champion that cannot score is replaced by the next training
    worse = Challenger(0.01, np.full(validation.height, 0.5), "train-data")
    decision = _judge(worse, champion, validation)
    assert decision.promoted
    assert decision.reason.startswith("the champion's model cannot be read (a file missing or damaged)")
    assert decision.champion_value == champion.validation_value


def test_an_earlier_versions_stored_predictions_that_cannot_be_read_are_named(
    champions: tuple[Path, pl.DataFrame],
) -> None:
    root, frame = champions
    registry, predictions = root / "registry", root / "predictions"
    predict_with_champions(registry, predictions, frame, "features-1")
    _register(registry, "run2", ("classification",), root / "m")
    current = [s.model_id for s in predict_with_champions(registry, predictions, frame, "features-1")]
    earlier = predictions / "run1-classification.parquet"
    _cut(earlier)
    with pytest.raises(DamagedFileError, match=rf"^{re.escape(str(earlier))} cannot be read as Parquet"):
        load_scoring_tables_into(root / "warehouse.duckdb", predictions, registry, frame, current)
    earlier.unlink()
    assert load_scoring_tables_into(root / "warehouse.duckdb", predictions, registry, frame, current) == (
        2 * frame.height
    )


def test_every_registry_column_has_its_type_from_the_first_run(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    # the first run: no champion, so champion_model_id is None in every entry
    _register(registry, "run1", TASKS, tmp_path / "m")
    stored = pl.read_parquet(registry / "run1.models.parquet")
    assert pl.Null not in stored.schema.values()
    assert stored.schema["champion_model_id"] == pl.String
    # a file written before the columns were typed: all-NULL columns of no type
    stored.with_columns(champion_model_id=pl.lit(None), champion_validation_value=pl.lit(None)).write_parquet(
        registry / "run0.models.parquet"
    )
    warehouse = tmp_path / "warehouse.duckdb"
    assert load_registry_into(warehouse, registry)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        types = dict(
            connection.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'ml' and table_name = 'model_registry'"
            ).fetchall()
        )
    assert types["champion_model_id"] == "VARCHAR"
    assert types["champion_validation_value"] == "DOUBLE"
    assert types["improvement_low"] == "DOUBLE"
    assert "NULL" not in types.values()


def test_a_copied_models_folder_serves_its_own_models(
    tmp_path: Path, small_classifier: ModelRun, champions: tuple[Path, pl.DataFrame]
) -> None:
    _, frame = champions
    models = tmp_path / "data" / "models"
    artifact = _save(small_classifier, models / "runs" / "run1" / "classification-120")
    entries = [
        dataclasses.replace(
            registry_entry("run1", task, artifact, hours=0),
            artifact_dir=stored_path(models, artifact),
            report_path=stored_path(models, models / "runs" / "run1" / "report" / "index.html"),
        )
        for task in TASKS
    ]
    save_entries(models / "registry", "run1", entries, pl.DataFrame({"run_id": ["run1"]}))
    stored = pl.read_parquet(models / "registry" / "run1.models.parquet")
    assert stored["artifact_dir"].to_list() == ["runs/run1/classification-120"] * 2
    assert stored["report_path"].to_list() == ["runs/run1/report/index.html"] * 2
    # an entry of before, with the absolute path of the folder it was written in
    old = dataclasses.replace(entries[0], model_id="run0-classification", artifact_dir=str(artifact))
    old = dataclasses.replace(old, created_at=old.created_at - timedelta(hours=1))
    save_entries(models / "registry", "run0", [old], pl.DataFrame({"run_id": ["run0"]}))
    copy = tmp_path / "elsewhere" / "models"
    shutil.copytree(models, copy)
    shutil.rmtree(tmp_path / "data")
    champion = current_champion(copy / "registry", "classification", 120)
    assert champion is not None
    assert champion.artifact_dir == str(copy / "runs" / "run1" / "classification-120")
    assert champion.report_path == str(copy / "runs" / "run1" / "report" / "index.html")
    assert entries_of(copy / "registry")[0].artifact_dir == str(copy / "runs" / "run1" / "classification-120")
    scored = predict_with_champions(copy / "registry", copy / "predictions", frame, "features-1")
    assert {s.rows for s in scored} == {frame.height}
