"""The settings: refused when out of range, read from one place, importable by anything."""

import ast
import inspect
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakehouse import config
from lakehouse.config import DBT_PROJECT_DIR, TUNED_PARAMS_FILE, TrainingConfig, TunedParamsError, read_tuned
from lakehouse.models.features.catalog import FEATURES


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("horizon_minutes", 0, "the horizon must be from 1 to 10080 minutes"),
        ("horizon_minutes", -5, "the horizon must be from 1 to 10080 minutes"),
        ("horizon_minutes", 7 * 24 * 60 + 1, "the horizon must be from 1 to 10080 minutes"),
        ("other_horizons_minutes", (60, 0), "the horizon must be from 1 to 10080 minutes"),
        ("trials", 0, "trials must be at least 1"),
        ("max_rounds", 0, "max_rounds must be at least 1"),
        ("num_threads", 0, "num_threads must be at least 1"),
        ("seed", -1, "the seed must be from 0 to 2147483647"),
        ("seed", 2**31, "the seed must be from 0 to 2147483647"),
        ("other_horizons_minutes", (120, 30), "each horizon is trained once"),
    ],
)
def test_a_training_setting_out_of_range_is_refused_by_name(
    setting: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**{setting: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["0", "two", "-1", ""])
def test_lightgbm_threads_from_the_environment_are_checked_by_name(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_LIGHTGBM_THREADS", value)
    with pytest.raises(ValueError, match="LAKEHOUSE_LIGHTGBM_THREADS must be a whole number"):
        TrainingConfig()


def test_lightgbm_threads_are_read_when_a_configuration_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_LIGHTGBM_THREADS", "3")
    assert TrainingConfig().num_threads == 3
    monkeypatch.delenv("LAKEHOUSE_LIGHTGBM_THREADS")
    assert TrainingConfig().num_threads == 2


def test_config_imports_nothing_of_the_package() -> None:
    tree = ast.parse(inspect.getsource(config))
    imported = {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] == "lakehouse"}


def test_the_rules_the_sql_shares_are_read_from_the_dbt_project() -> None:
    """The models read these in dbt_project.yml's vars: Python must not state them again."""
    variables = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    shared = {
        "LATE_AFTER_MINUTES": "on_time_threshold_minutes",
        "WEATHER_LAG_MINUTES": "weather_lag_minutes",
        "LOG_LOSS_EPSILON": "ml_log_loss_epsilon",
        "ORIGIN_TIME_ZONE": "origin_time_zone",
    }
    assert {name: getattr(config, name) for name in shared} == {
        name: variables[var] for name, var in shared.items()
    }
    source = inspect.getsource(config)
    for name, var in shared.items():
        assert f"{name}: " in source
        assert f'dbt_vars()["{var}"]' in source


def _committed_entry() -> dict[str, Any]:
    entry: dict[str, Any] = yaml.safe_load(TUNED_PARAMS_FILE.read_text())["classification"]
    return entry


def _with(path: list[str], value: object) -> Callable[[dict[str, Any]], object]:
    """A change of the committed classification entry: `value` at `path` (DELETE: removed)."""

    def change(entry: dict[str, Any]) -> object:
        *parents, last = path
        for key in parents:
            entry = entry[key]
        if value is DELETE:
            del entry[last]
        else:
            entry[last] = value
        return entry

    return change


DELETE = object()


def test_the_committed_tuned_parameters_are_read_whole() -> None:
    tuned = read_tuned("classification", FEATURES.all)
    entry = _committed_entry()
    assert tuned.params == entry["params"]
    assert tuned.dropped_features == tuple(entry["dropped_features"])
    assert tuned.search == entry["search"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_with(["params", "num_leaves"], 33.5), r"classification.params.num_leaves: expected a whole number"),
        (
            _with(["params", "num_leaves"], True),
            r"num_leaves: expected a whole number, got true/false",
        ),
        (_with(["params", "learning_rate"], "0.08"), r"params.learning_rate: expected a number, got text"),
        (_with(["params", "num_leaves"], 4096), r"num_leaves: 4096 lies outside its search range 15 to 255"),
        (_with(["params", "feature_fraction"], float("nan")), r"feature_fraction: nan lies outside"),
        (_with(["params", "max_depth"], 6), r"params.max_depth: not a tuned parameter"),
        (_with(["params"], DELETE), r"classification.params: expected a mapping, got nothing"),
        (_with(["search"], [1, 2]), r"classification.search: expected a mapping, got a list"),
        (_with(["dropped_feature"], ["pressure_mb"]), r"classification: unknown dropped_feature"),
        (_with(["dropped_features"], "pressure_mb"), r"dropped_features: expected a list of feature names"),
        (_with(["dropped_features"], ["pressure_mbar"]), r"not features of the feature SQL: pressure_mbar"),
        (_with(["dropped_features"], list(FEATURES.all)), r"every feature is dropped"),
        (_with(["params", "lambda_l2"], DELETE), r"classification.params: missing lambda_l2"),
        (_with(["dropped_features"], DELETE), r"classification: missing dropped_features"),
        (_with(["search", "tuned_at"], datetime(2026, 12, 2)), r"search: holds what is not text"),
    ],
)
def test_tuned_parameters_training_cannot_use_are_refused_by_file_and_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], message: str
) -> None:
    entry = _committed_entry()
    change(entry)
    path = tmp_path / "tuned.yml"
    path.write_text(yaml.safe_dump({"classification": entry}))
    with pytest.raises(TunedParamsError, match=rf"^{re.escape(str(path))}: .*{message}"):
        read_tuned("classification", FEATURES.all, path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("classification:\n  params: [1\n", r" is not valid YAML: line 3, column 1: expected ',' or ']'"),
        ("- classification\n", r": expected a mapping of tasks"),
        ("clasification: {}\n", r": no tuned parameters for classification \(it has clasification\)"),
        ("classification: 3\n", r": classification: expected a mapping of params"),
        ("classification: {}\nclassification: {}\n", r" is not valid YAML: line 2, column 1: .* given twice"),
    ],
)
def test_a_tuned_parameters_file_that_is_not_a_mapping_of_tasks_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "tuned.yml"
    path.write_text(text)
    with pytest.raises(TunedParamsError, match=rf"^{re.escape(str(path))}{message}"):
        read_tuned("classification", FEATURES.all, path)
    with pytest.raises(TunedParamsError, match="no tuned parameters; run `lakehouse tune`"):
        read_tuned("classification", FEATURES.all, tmp_path / "missing.yml")
    with pytest.raises(TunedParamsError, match="is a folder, not a tuned parameters file"):
        read_tuned("classification", FEATURES.all, tmp_path)


def test_numbers_in_the_tuned_file_read_as_people_write_them(tmp_path: Path) -> None:
    path = tmp_path / "tuned.yml"
    committed = TUNED_PARAMS_FILE.read_text()
    path.write_text(committed.replace("lambda_l2: 0.043676355831098176", "lambda_l2: 1e-3"))
    assert read_tuned("classification", FEATURES.all, path).params["lambda_l2"] == 0.001
    # YAML 1.1 would read 041 as the octal 33
    path.write_text(committed.replace("num_leaves: 33", "num_leaves: 041"))
    with pytest.raises(TunedParamsError, match=r"line 8, column 17: '041': write a whole number in decimal"):
        read_tuned("classification", FEATURES.all, path)


def test_the_tuned_file_written_reads_back_the_same(tmp_path: Path) -> None:
    from lakehouse.models.tuning_run import write_tuned

    committed = read_tuned("classification", FEATURES.all)
    # a fingerprint of digits and one e is text, though YAML could take it for a number
    search = committed.search | {"data_fingerprint": "1234567e89012345", "best_fold_value": 1e-5}
    written = replace(committed, search=search)
    path = write_tuned(tmp_path / "tuned.yml", {"classification": written}, datetime(2026, 12, 8))
    again = read_tuned("classification", FEATURES.all, path)
    assert again == replace(written, search=search | {"tuned_at": "2026-12-08T00:00:00Z"})
