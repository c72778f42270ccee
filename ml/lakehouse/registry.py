"""The model registry: artifacts on disk, one Parquet file of entries and one of metrics per
training run, and the champion decision.

Like the quality history, the registry is append-only files (`data/models/registry/`), loaded into
`ml.model_registry` and `ml.model_metrics` of a warehouse before it is published: nothing writes
the published file in place. A challenger becomes champion only when it beats the current champion
on this run's validation rows (the champion is re-scored on them, so both are judged on the same
flights); the decision and its reason are recorded with the entry."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import lightgbm as lgb
import polars as pl

from lakehouse.config import REPO_ROOT, TrainingConfig
from lakehouse.preprocess import Preprocessor


@dataclass(frozen=True)
class SavedModel:
    booster: lgb.Booster
    pre: Preprocessor
    features: list[str]
    threshold: float


def save_model(
    directory: Path,
    booster: lgb.Booster,
    pre: Preprocessor,
    features: list[str],
    params: dict[str, Any],
    threshold: float,
) -> Path:
    """LightGBM's native text format plus what it takes to feed it."""
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(directory / "model.txt"), num_iteration=booster.best_iteration)
    (directory / "preprocessor.json").write_text(json.dumps(pre.to_dict(), indent=1))
    (directory / "model.json").write_text(
        json.dumps({"features": features, "params": params, "threshold": threshold}, indent=1, sort_keys=True)
    )
    return directory


def load_model(directory: Path) -> SavedModel:
    meta = json.loads((directory / "model.json").read_text())
    return SavedModel(
        booster=lgb.Booster(model_file=str(directory / "model.txt")),
        pre=Preprocessor.from_dict(json.loads((directory / "preprocessor.json").read_text())),
        features=list(meta["features"]),
        threshold=float(meta["threshold"]),
    )


def code_version() -> str:
    """The git commit (with `+dirty` when the package has uncommitted changes), else a hash of
    the package's files."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "ml", "dbt_project"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        digest = hashlib.sha256()
        for path in sorted((REPO_ROOT / "ml" / "lakehouse").glob("*.py")):
            digest.update(path.read_bytes())
        return "files:" + digest.hexdigest()[:12]


# The modules whose code decides what a model is; the rest (CLI, report, pipeline) does not.
MODEL_MODULES = ("features.py", "preprocess.py", "train.py")
MODEL_LIBRARIES = ("lightgbm", "scikit-learn", "optuna", "numpy", "polars", "duckdb")


def training_signature(config: TrainingConfig) -> str:
    """What, besides the data, a trained model depends on: the training settings, the code of the
    feature, preprocessing and training modules, and the versions of the libraries that fit it.
    Same signature and same data fingerprint: training again would give the same model."""
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    for name in MODEL_MODULES:
        digest.update((Path(__file__).parent / name).read_bytes())
    for library in MODEL_LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}".encode())
    return digest.hexdigest()[:16]


def data_fingerprint(frame: pl.DataFrame) -> str:
    """A hash of every value the models saw (rows in a fixed order)."""
    hashes = frame.sort("flight_id").hash_rows(seed=0)
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class RegistryEntry:
    model_id: str
    run_id: str
    task: str
    model_name: str
    horizon_minutes: int
    created_at: datetime
    artifact_dir: str
    features: str
    params: str
    threshold: float
    data_fingerprint: str
    code_version: str
    training_signature: str
    # The scheduled departure dates the model was fitted on, and those it was tuned and chosen on:
    # its scores there are in-sample, not a measure of how it does on new flights.
    train_start_date: date
    train_end_date: date
    validation_start_date: date
    validation_end_date: date
    validation_metric: str
    validation_value: float
    test_value: float
    champion_model_id: str | None
    champion_validation_value: float | None
    is_promoted: bool
    decision_reason: str
    report_path: str


def _read(directory: Path, kind: str) -> pl.DataFrame:
    files = sorted(directory.glob(f"*.{kind}.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def _latest(registry: Path, task: str, horizon_minutes: int, promoted_only: bool) -> dict[str, Any] | None:
    entries = _read(registry, "models")
    if entries.is_empty():
        return None
    chosen = entries.filter(
        (pl.col("task") == task)
        & (pl.col("horizon_minutes") == horizon_minutes)
        & (pl.col("is_promoted") | (not promoted_only))
    ).sort("created_at")
    return chosen.row(-1, named=True) if chosen.height else None


def current_champion(registry: Path, task: str, horizon_minutes: int) -> dict[str, Any] | None:
    """The latest promoted entry of a task and horizon."""
    return _latest(registry, task, horizon_minutes, promoted_only=True)


def latest_entry(registry: Path, task: str, horizon_minutes: int) -> dict[str, Any] | None:
    """The latest trained model of a task and horizon, promoted or not."""
    return _latest(registry, task, horizon_minutes, promoted_only=False)


def is_trained_on(entry: dict[str, Any] | None, fingerprint: str, signature: str) -> bool:
    """Was this model trained on these features with this code and configuration?"""
    return (
        entry is not None
        and entry.get("data_fingerprint") == fingerprint
        and entry.get("training_signature") == signature
    )


def decide(
    challenger: float, champion: float | None, higher_is_better: bool, metric: str
) -> tuple[bool, str]:
    """Promote only a challenger that beats the champion on the same validation rows."""
    if champion is None:
        return True, f"no champion yet: promoted with validation {metric} {challenger:.4f}"
    better = challenger > champion if higher_is_better else challenger < champion
    verb = "beats" if better else "does not beat"
    return (
        better,
        f"validation {metric} {challenger:.4f} {verb} the champion's {champion:.4f} on the same rows",
    )


def save_entries(registry: Path, run_id: str, entries: list[RegistryEntry], metrics: pl.DataFrame) -> None:
    """Append the run's entries and metrics (each file written whole, then renamed). The entries
    go last: a run is registered when its models file exists."""
    registry.mkdir(parents=True, exist_ok=True)
    for kind, frame in (("metrics", metrics), ("models", pl.DataFrame([asdict(e) for e in entries]))):
        path = registry / f"{run_id}.{kind}.parquet"
        partial = path.with_suffix(".partial")
        frame.write_parquet(partial)
        os.replace(partial, path)


def load_registry_into(warehouse: Path, registry: Path) -> bool:
    """(Re)create ml.model_registry and ml.model_metrics from the registry files; False when
    nothing has been trained yet."""
    if not any(registry.glob("*.models.parquet")):
        return False
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists ml")
        for table, kind in (("model_registry", "models"), ("model_metrics", "metrics")):
            connection.execute(
                f"create or replace table ml.{table} as "
                f"select * from read_parquet('{registry / f'*.{kind}.parquet'}', union_by_name = true)"
            )
        # Entries written before a field existed: the field is NULL for them, and the column is
        # there even when no file has it yet.
        for name, kind in _ENTRY_COLUMN_TYPES.items():
            connection.execute(f"alter table ml.model_registry add column if not exists {name} {kind}")
    return True


_SQL_TYPES = {
    "str": "varchar",
    "int": "integer",
    "float": "double",
    "bool": "boolean",
    "date": "date",
    "datetime": "timestamp with time zone",
}
_ENTRY_COLUMN_TYPES = {f.name: _SQL_TYPES[str(f.type).removesuffix(" | None")] for f in fields(RegistryEntry)}
