"""The settings: refused when out of range, read from one place, importable by anything."""

import ast
import inspect

import pytest
import yaml

from lakehouse import config
from lakehouse.config import DBT_PROJECT_DIR, TrainingConfig


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
