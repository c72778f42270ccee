"""Preprocessing, the split, training determinism, metrics and the champion rule, on small data."""

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lakehouse.config import TrainingConfig
from lakehouse.evaluate import choose_threshold, classification_metrics, day_block_bootstrap_auc
from lakehouse.features import FEATURES
from lakehouse.preprocess import Preprocessor
from lakehouse.registry import decide, load_model, save_model
from lakehouse.train import base_params, fit_lightgbm, make_preprocessor, predict, split_by_month


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


def test_the_split_is_by_month_and_keeps_december_apart() -> None:
    splits = split_by_month(_frame(), TrainingConfig())
    months = {
        name: set(rows["scheduled_departure_date"].dt.month().to_list()) for name, rows in splits.items()
    }
    assert months == {"train": set(range(1, 10)), "validation": {10, 11}, "test": {12}}


def test_training_is_deterministic_for_a_seed_and_survives_the_registry(tmp_path: Path) -> None:
    frame = _frame()
    splits = split_by_month(frame, TrainingConfig())
    pre = make_preprocessor(splits["train"], list(FEATURES.all))
    params = base_params("classification", TrainingConfig())
    first = fit_lightgbm(pre, splits["train"], splits["validation"], "classification", params)
    second = fit_lightgbm(pre, splits["train"], splits["validation"], "classification", params)
    assert first.model_to_string() == second.model_to_string()
    saved = load_model(save_model(tmp_path / "m", first, pre, list(FEATURES.all), params, 0.3))
    assert saved.threshold == 0.3
    np.testing.assert_array_equal(
        predict(first, pre, splits["test"], "classification"),
        predict(saved.booster, saved.pre, splits["test"], "classification"),
    )
    # It learned the signal it was given.
    y = splits["test"]["is_delayed"].to_numpy().astype(float)
    p = predict(first, pre, splits["test"], "classification")
    assert classification_metrics(y, p, 0.5, float(y.mean()))["roc_auc"] > 0.75


def test_the_threshold_maximizes_f1_and_the_bootstrap_is_reproducible() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.8, 0.7, 0.6, 0.65, 0.3, 0.9])
    assert choose_threshold(y, p) == pytest.approx(0.65)
    days = [1, 1, 2, 2, 3, 3, 4, 4]
    assert day_block_bootstrap_auc(y, p, days, 50, 7) == day_block_bootstrap_auc(y, p, days, 50, 7)


@pytest.mark.parametrize(
    ("challenger", "champion", "higher", "promoted"),
    [
        (0.80, None, True, True),
        (0.80, 0.79, True, True),
        (0.79, 0.80, True, False),
        (30.0, 31.0, False, True),
    ],
)
def test_a_challenger_is_promoted_only_when_it_beats_the_champion(
    challenger: float, champion: float | None, higher: bool, promoted: bool
) -> None:
    decision, reason = decide(challenger, champion, higher, "metric")
    assert decision is promoted
    assert f"{challenger:.4f}" in reason
