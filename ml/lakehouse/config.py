"""Where everything lives. One place for paths and settings; each can be overridden by an
environment variable so tests and benchmarks can point the whole pipeline elsewhere."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lakehouse.features import DEFAULT_HORIZON_MINUTES, check_horizon

# The repository root: ml/lakehouse/config.py -> ../../
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Paths:
    raw: Path
    warehouse: Path
    lake: Path
    build: Path
    quality: Path
    models: Path
    dbt_project: Path
    dbt_target: Path
    expectations: Path

    @property
    def build_warehouse(self) -> Path:
        """The warehouse a run writes and audits before it is published."""
        return self.build / "warehouse.duckdb"

    @property
    def build_lake(self) -> Path:
        return self.build / "lake"

    @property
    def validation_history(self) -> Path:
        """One Parquet file per validation run, appended and never rewritten."""
        return self.quality / "validation_results"

    @property
    def quality_reports(self) -> Path:
        return self.quality / "reports"

    @property
    def model_registry(self) -> Path:
        """One Parquet file per training run (models, then metrics), appended, never rewritten."""
        return self.models / "registry"

    @property
    def model_runs(self) -> Path:
        """A folder per training run: model files, preprocessing, report."""
        return self.models / "runs"

    @property
    def predictions(self) -> Path:
        """One Parquet file per scoring model version (replaced when it re-scores)."""
        return self.models / "predictions"

    @property
    def prediction_expectations(self) -> Path:
        """The suites of the tables scoring writes and the marts built on them."""
        return self.expectations / "predictions"

    @property
    def published_versions(self) -> Path:
        """Each publish moves a checked warehouse and its lake into a folder here."""
        return self.warehouse.parent / "published"

    @property
    def current(self) -> Path:
        """The symlink naming the published version: switching it publishes, in one rename.
        `warehouse` and `lake` are symlinks through it."""
        return self.warehouse.parent / "current"


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).resolve() if value else default


def paths() -> Paths:
    """Paths for this process, read from the environment at call time."""
    data = _path("LAKEHOUSE_DATA_DIR", REPO_ROOT / "data")
    return Paths(
        raw=_path("LAKEHOUSE_RAW_DIR", data / "raw"),
        warehouse=data / "warehouse.duckdb",
        lake=data / "lake",
        build=_path("LAKEHOUSE_BUILD_DIR", data / "build"),
        quality=_path("LAKEHOUSE_QUALITY_DIR", data / "quality"),
        models=_path("LAKEHOUSE_MODELS_DIR", data / "models"),
        dbt_project=REPO_ROOT / "dbt_project",
        dbt_target=_path("LAKEHOUSE_DBT_TARGET_DIR", REPO_ROOT / "dbt_project" / "target"),
        expectations=_path("LAKEHOUSE_EXPECTATIONS_DIR", REPO_ROOT / "expectations"),
    )


# LightGBM's seed is a C int.
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class TrainingConfig:
    """How models are trained and judged; `lakehouse train` options override some of these."""

    horizon_minutes: int = DEFAULT_HORIZON_MINUTES
    # Horizons the report also shows for the final classifier (shorter: more is known).
    other_horizons_minutes: tuple[int, ...] = (60, 30)
    seed: int = 42
    # Months of the scheduled departure date (local): fit, choose (early stopping, tuning,
    # threshold, champion), and test once per run for the report.
    train_months: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9)
    validation_months: tuple[int, ...] = (10, 11)
    test_months: tuple[int, ...] = (12,)
    # Expanding-window folds for tuning: train on months 1..k, validate on month k + 1.
    cv_last_train_months: tuple[int, ...] = (7, 8)
    trials: int = 5
    # A guard, not the budget: with it hit, the number of trials (and so the model) depends on speed.
    tuning_timeout_seconds: int = 240
    num_threads: int = 2
    bootstrap_samples: int = 500
    # Permutation importance at or below this (validation AUC or RMSE change) drops a feature.
    selection_min_importance: float = 0.0
    # Permutation importance on at most this many validation rows (a seeded sample; None: all):
    # on all ~55,000 validation rows it took 40 s of a 6-minute run.
    permutation_max_rows: int | None = 20_000

    def __post_init__(self) -> None:
        for horizon in (self.horizon_minutes, *self.other_horizons_minutes):
            check_horizon(horizon)
        if self.trials < 1:
            raise ValueError(f"trials must be at least 1 (the tuning budget), not {self.trials}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(
                f"the seed must be from 0 to {MAX_SEED} (LightGBM's seed is a C int), not {self.seed}"
            )

    @classmethod
    def from_environment(cls) -> TrainingConfig:
        """The defaults, or with LAKEHOUSE_TRAINING_BUDGET=quick a small budget for a quick run
        (the tests): one trial on one tuning fold, one other horizon, fewer bootstrap samples and
        permutation rows."""
        budget = os.environ.get("LAKEHOUSE_TRAINING_BUDGET", "default")
        if budget == "quick":
            return cls(
                trials=1,
                cv_last_train_months=(8,),
                other_horizons_minutes=(60,),
                bootstrap_samples=50,
                permutation_max_rows=5_000,
            )
        if budget != "default":
            raise ValueError(f"LAKEHOUSE_TRAINING_BUDGET must be `default` or `quick`, not {budget!r}")
        return cls()
