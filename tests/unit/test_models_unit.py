"""Preprocessing, metrics, the champion rule (and how the warehouse and the service read it), the
versions the predictions table holds and the console's view of tuning: small inputs."""

from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from sklearn import metrics

from conftest import registry_entry
from lakehouse.config import TrainingConfig, paths
from lakehouse.models import registry
from lakehouse.models.batch import loaded_versions, scored_fingerprint, write_predictions
from lakehouse.models.champion import decide
from lakehouse.models.metrics import choose_threshold, day_block_bootstrap_auc, paired_day_block_bootstrap
from lakehouse.models.preprocess import Preprocessor
from lakehouse.models.registry import current_champion, load_registry_into, save_entries
from lakehouse.models.tasks import TASKS
from lakehouse.models.training_run import TrainingRun
from lakehouse.models.tune import is_trial_message
from lakehouse.platform import pipeline
from lakehouse.quality.gate import new_run
from lakehouse.serving.state import ServingStateError, load_state


def test_the_preprocessor_codes_unseen_categories_as_missing_and_round_trips() -> None:
    train = pl.DataFrame({"c": ["a", "b", None], "x": [1.0, None, 3.0]})
    pre = Preprocessor.fit(train, ["x"], ["c"])
    trees = pre.for_trees(pl.DataFrame({"c": ["b", "unseen"], "x": [None, 2.0]}))
    assert trees[0, 0] == 1.0
    assert np.isnan(trees[1, 0])
    assert np.isnan(trees[0, 1])
    linear = pre.for_linear(pl.DataFrame({"c": ["a"], "x": [None]}))
    assert linear.shape == (1, 4)  # x, x__missing, c=a, c=b
    assert not np.isnan(linear).any()
    assert Preprocessor.from_dict(pre.to_dict()) == pre


def test_the_threshold_maximizes_f1() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.8, 0.7, 0.6, 0.65, 0.3, 0.9])
    assert choose_threshold(y, p) == pytest.approx(0.65)


def _days_of_flights(days: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """40 flights a day; a day's flights share a shift in their score (days are not independent)."""
    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(days), 40)
    y = rng.integers(0, 2, day.size)
    p = 0.3 * y + 0.5 * rng.random(day.size) + 0.2 * rng.random(days)[day]
    return y, p, day


def test_the_day_block_interval_holds_the_auc_and_narrows_with_more_days() -> None:
    widths = {}
    for days in (10, 160):
        y, p, day = _days_of_flights(days, seed=days)
        low, high = day_block_bootstrap_auc(y, p, day, 300, 7)
        assert low <= metrics.roc_auc_score(y, p) <= high
        widths[days] = high - low
    # 16 times the days: the interval is about a quarter as wide (1 / sqrt(16))
    assert widths[160] < widths[10] / 2
    y, p, day = _days_of_flights(20, seed=3)
    assert day_block_bootstrap_auc(y, p, day, 100, 7) == day_block_bootstrap_auc(y, p, day, 100, 7)
    assert day_block_bootstrap_auc(y, p, day, 100, 7) != day_block_bootstrap_auc(y, p, day, 100, 8)


@pytest.mark.parametrize(
    ("challenger", "champion", "interval", "higher", "promoted"),
    [
        (0.80, None, None, True, True),
        # 0.0001 better on the same rows, within the noise of the days
        (0.8001, 0.80, (-0.0012, 0.0014), True, False),
        (0.81, 0.80, (0.004, 0.016), True, True),
        (0.79, 0.80, (-0.016, -0.004), True, False),
        # RMSE: the interval is of the RMSE saved
        (30.0, 31.0, (0.2, 1.8), False, True),
        (30.0, 30.01, (-0.3, 0.32), False, False),
        # no interval (the champion could not be re-scored): its recorded value
        (0.81, 0.80, None, True, True),
    ],
)
def test_a_challenger_is_promoted_only_on_an_improvement_the_validation_days_support(
    challenger: float,
    champion: float | None,
    interval: tuple[float, float] | None,
    higher: bool,
    promoted: bool,
) -> None:
    decision, reason = decide(challenger, champion, "metric", interval, higher)
    assert decision is promoted
    assert f"{challenger:.4f}" in reason
    if interval is not None and champion is not None:
        # the interval is stated with the decision
        assert f"[{interval[0]:.4f}, {interval[1]:.4f}]" in reason
        low, high = interval
        verdict = "excludes 0" if low > 0 else "lies below 0" if high < 0 else "includes 0"
        assert verdict in reason


def test_the_paired_interval_is_of_the_difference_on_the_same_days() -> None:
    y, p, day = _days_of_flights(60, seed=5)
    rng = np.random.default_rng(1)
    # the same model: no difference at all
    assert paired_day_block_bootstrap(y, p, p, day, "classification", 200, 7) == (0.0, 0.0)
    # a hair apart: the interval holds 0, far narrower than either model's own interval
    nudged = p + 1e-3 * rng.random(p.size)
    low, high = paired_day_block_bootstrap(y, nudged, p, day, "classification", 200, 7)
    assert low <= metrics.roc_auc_score(y, nudged) - metrics.roc_auc_score(y, p) <= high
    assert low < 0 < high
    own_low, own_high = day_block_bootstrap_auc(y, p, day, 200, 7)
    assert high - low < (own_high - own_low) / 5
    # a better model: the whole interval above 0
    better = p + 0.3 * y
    assert paired_day_block_bootstrap(y, better, p, day, "classification", 200, 7)[0] > 0
    # regression: RMSE saved is positive for the closer predictions
    target = rng.normal(size=p.size)
    close, far = target + 0.1 * rng.normal(size=p.size), target + rng.normal(size=p.size)
    assert paired_day_block_bootstrap(target, close, far, day, "regression", 200, 7)[0] > 0
    assert paired_day_block_bootstrap(target, far, close, day, "regression", 200, 7)[1] < 0


def test_consoles_leave_out_the_tuning_trials_not_the_stages() -> None:
    assert is_trial_message("classification: trial 3/6: roc_auc 0.7512")
    assert not is_trial_message("classification: tuning LightGBM")
    assert not is_trial_message("classification at T = departure - 60 min")


def test_the_predictions_table_holds_the_latest_versions_of_each_task_and_horizon() -> None:
    registered = [
        replace(
            registry_entry(run, task, Path("m"), hours),
            model_id=f"{run}-{task}-{horizon}",
            horizon_minutes=horizon,
        )
        for hours, run in enumerate(("run1", "run2", "run3"))
        for task in ("classification", "regression")
        for horizon in (60, 120)
    ]
    stored = {entry.model_id for entry in registered if entry.task == "classification"}
    stored |= {"run1-regression-60", "run1-regression-120", "gone-regression-120"}
    regression = ["run1-regression-120", "run1-regression-60"]
    run2, run3 = (
        ["run2-classification-120", "run2-classification-60"],
        ["run3-classification-120", "run3-classification-60"],
    )
    # the two latest of each task and horizon, by registration, in the order of their ids
    assert loaded_versions(registered, stored) == sorted(run2 + run3 + regression)
    # a version just scored stays, whatever its age; the latest others fill up to the count
    assert loaded_versions(registered, stored, current=["run1-classification-60"]) == sorted(
        ["run1-classification-60", "run2-classification-120", *run3, *regression]
    )
    assert loaded_versions(registered, stored, kept=1) == sorted(run3 + regression)
    # a version that answered the API or the feed stays too, whatever its age
    assert loaded_versions(registered, stored, kept=1, served=["run1-classification-60", "gone"]) == sorted(
        ["run1-classification-60", *run3, *regression]
    )
    assert loaded_versions(registered + registered, stored) == loaded_versions(registered, stored)
    # versions without a file, or without a registry entry, are not loaded
    assert loaded_versions(registered, set(), current=[e.model_id for e in registered]) == []
    assert "gone-regression-120" not in loaded_versions(registered, stored, kept=10)


def test_the_warehouse_marks_the_champions_the_registry_names(tmp_path: Path) -> None:
    """`ml.model_registry.is_champion`, which SQL reads, is `current_champion`'s answer: the latest
    promoted entry of each task and horizon, not the latest entry nor the first promoted."""
    registry = tmp_path / "models" / "registry"
    for hours, (run, promoted) in enumerate((("run1", True), ("run2", True), ("run3", False))):
        entries = [
            replace(
                registry_entry(run, task, Path("m"), hours),
                model_id=f"{run}-{task}-{horizon}",
                horizon_minutes=horizon,
                # at 60 minutes only the first run promoted its models
                is_promoted=promoted and (horizon == 120 or run == "run1"),
            )
            for task in ("classification", "regression")
            for horizon in (60, 120)
        ]
        save_entries(registry, run, entries, pl.DataFrame({"run_id": [run]}))
    warehouse = tmp_path / "warehouse.duckdb"
    assert load_registry_into(warehouse, registry)
    with duckdb.connect(str(warehouse)) as connection:
        marked = connection.execute("select model_id from ml.model_registry where is_champion").fetchall()
        unmarked = connection.execute(
            "select count(*) from ml.model_registry where not is_champion"
        ).fetchone()
    expected = {
        champion.model_id
        for task in ("classification", "regression")
        for horizon in (60, 120)
        if (champion := current_champion(registry, task, horizon)) is not None
    }
    assert (
        {row[0] for row in marked}
        == expected
        == {
            "run2-classification-120",
            "run2-regression-120",
            "run1-classification-60",
            "run1-regression-60",
        }
    )
    assert unmarked == (8,)


def _published(data: Path, tables: list[str]) -> None:
    """A published version in `data` whose warehouse holds only `tables` (statements)."""
    version = data / "published" / "v1"
    version.mkdir(parents=True)
    (data / "current").symlink_to(version)
    with duckdb.connect(str(version / "warehouse.duckdb")) as connection:
        connection.execute("create schema ml")
        for table in tables:
            connection.execute(table)


@pytest.mark.parametrize(
    ("tables", "named"),
    [
        # before `is_champion` existed
        (["create table ml.model_registry as select 'm1' as model_id, true as is_promoted"], "is_champion"),
        # a table the service reads is missing
        (
            ["create table ml.model_registry as select 'm1' as model_id, false as is_champion"],
            "flight_features",
        ),
    ],
)
def test_the_service_names_a_published_version_that_lacks_what_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tables: list[str], named: str
) -> None:
    """A warehouse another version of the project published: the service names what is missing
    and says to run `make run`, rather than passing on DuckDB's binder or catalog error."""
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    _published(tmp_path, tables)
    with pytest.raises(ServingStateError, match=rf"lacks what this version .*{named}.*run `make run`"):
        load_state(paths())


@pytest.mark.parametrize("damage", [b"", b"PAR1 half a file", None])
def test_stored_predictions_that_cannot_be_read_are_scored_again_not_trusted(
    tmp_path: Path, damage: bytes | None
) -> None:
    path = write_predictions(tmp_path, "run1-classification", pl.DataFrame({"feature_fingerprint": ["f1"]}))
    assert scored_fingerprint(tmp_path, "run1-classification") == "f1"
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2] if damage is None else damage)
    assert scored_fingerprint(tmp_path, "run1-classification") is None


@pytest.mark.parametrize("readable", [True, False])
def test_the_train_step_trains_again_only_when_a_champions_model_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, readable: bool
) -> None:
    """Trained on these features with this code: reused, unless a champion cannot be read."""
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    p = paths()
    config = replace(TrainingConfig(), other_horizons_minutes=())
    champions = [registry_entry("run1", task, tmp_path / "m" / task, hours=0) for task in TASKS]
    save_entries(p.model_registry, "run1", champions, pl.DataFrame({"run_id": ["run1"]}))
    monkeypatch.setattr(pipeline, "features_by_horizon", lambda *_: {120: pl.DataFrame({"x": [1]})})
    monkeypatch.setattr(registry, "data_fingerprint", lambda _: "data")
    monkeypatch.setattr(registry, "training_signature", lambda _: "code")
    if readable:
        monkeypatch.setattr(registry, "load_model", lambda directory: None)
    trained: list[str] = []

    def train(*_: object, **__: object) -> TrainingRun:
        trained.append("run2")
        return TrainingRun("run2", [], [], tmp_path / "report", 1.0)

    monkeypatch.setattr(pipeline, "run_training", train)
    run = pipeline.PipelineRun(p, new_run(str(p.warehouse)), config=config)
    detail = pipeline.train_or_reuse(run)
    if readable:
        assert (trained, detail.split(":")[0]) == ([], "reused run1-classification, run1-regression")
    else:
        assert trained == ["run2"]
        assert "(the model of run1-classification, run1-regression cannot be read)" in detail
