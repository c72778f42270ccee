"""The model registry: artifacts on disk, one Parquet file of entries and one of metrics per
training run, and the champion decision.

Like the quality history, the registry is append-only files (`data/models/registry/`), loaded into
`ml.model_registry` and `ml.model_metrics` of a warehouse before it is published: nothing writes
the published file in place. The champion decision (`champion.py`) and its reason are recorded with
the entry."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import lightgbm as lgb
import polars as pl

from lakehouse import config
from lakehouse.common.files import DamagedFileError, first_line, read_parquet, write_parquet_atomically
from lakehouse.common.sql import sql_text
from lakehouse.config import REPO_ROOT, TrainingConfig
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.preprocess import Preprocessor


@dataclass(frozen=True)
class SavedModel:
    """A registered model: the booster that scores (refitted on every month before the test month)
    with its preprocessing, the one fitted on the training months alone (what the champion rule
    re-scores on a challenger's validation rows), the features both read and the threshold."""

    booster: lgb.Booster
    pre: Preprocessor
    validation_booster: lgb.Booster
    validation_pre: Preprocessor
    features: list[str]
    threshold: float


def _save_booster(directory: Path, booster: lgb.Booster, pre: Preprocessor) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(directory / "model.txt"), num_iteration=booster.best_iteration)
    (directory / "preprocessor.json").write_text(json.dumps(pre.to_dict(), indent=1))


def _load_booster(directory: Path) -> tuple[lgb.Booster, Preprocessor]:
    text = (directory / "model.txt").read_bytes()
    _check_trees(text)
    return (
        lgb.Booster(model_str=text.decode()),
        Preprocessor.from_dict(json.loads((directory / "preprocessor.json").read_text())),
    )


def _check_trees(text: bytes) -> None:
    """LightGBM parses a model's trees in parallel and aborts the whole process on one cut short:
    the text must hold every tree its header sizes (`tree_sizes`), then `end of trees`."""
    sizes_at = text.find(b"\ntree_sizes=")
    first = text.find(b"\nTree=0\n")
    if sizes_at < 0 or first < 0:
        raise ValueError("model.txt holds no trees or no tree sizes")
    sizes = text[sizes_at + len(b"\ntree_sizes=") : text.find(b"\n", sizes_at + 1)].split()
    if not all(size.isdigit() for size in sizes):
        raise ValueError("model.txt has a damaged tree_sizes line")
    end = first + 1 + sum(int(size) for size in sizes)
    if text[end : end + len(b"end of trees")] != b"end of trees":
        raise ValueError("model.txt is cut short or altered: its trees do not end where its header says")


def save_model(
    directory: Path,
    scoring: tuple[lgb.Booster, Preprocessor],
    validation: tuple[lgb.Booster, Preprocessor],
    features: list[str],
    params: dict[str, Any],
    threshold: float,
    rounds: dict[str, int | None],
) -> Path:
    """LightGBM's native text format plus what it takes to feed it: the scoring model in
    `directory`, the validation model in `directory/validation`."""
    _save_booster(directory, *scoring)
    _save_booster(directory / "validation", *validation)
    (directory / "model.json").write_text(
        json.dumps(
            {"features": features, "params": params, "threshold": threshold, "rounds": rounds},
            indent=1,
            sort_keys=True,
        )
    )
    return directory


# What to do about a model folder that cannot be read.
DAMAGED_MODEL = (
    "restore the folder, or run `make run`: a champion whose model cannot be read is trained again "
    "and replaced"
)


def load_model(directory: Path) -> SavedModel:
    """The model saved in `directory` (`save_model`); one that cannot be read (a file missing or
    damaged) raises `DamagedFileError` naming the folder."""
    try:
        meta = json.loads((directory / "model.json").read_text())
        booster, pre = _load_booster(directory)
        validation_booster, validation_pre = _load_booster(directory / "validation")
        features, threshold = meta["features"], float(meta["threshold"])
        if not isinstance(features, list) or not all(isinstance(name, str) for name in features):
            raise ValueError("model.json: features is not a list of names")
        if not math.isfinite(threshold):
            raise ValueError(f"model.json: threshold {threshold} is not a number")
        return SavedModel(
            booster=booster,
            pre=pre,
            validation_booster=validation_booster,
            validation_pre=validation_pre,
            features=features,
            threshold=threshold,
        )
    except (OSError, ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as error:
        raise DamagedFileError(
            f"the model in {directory} cannot be read ({first_line(error)}): {DAMAGED_MODEL}"
        ) from error


def unreadable_models(candidates: list[RegistryEntry | None]) -> list[str]:
    """The ids of the entries whose model cannot be read (`load_model`)."""
    unreadable = []
    for entry in candidates:
        if entry is None:
            continue
        try:
            load_model(Path(entry.artifact_dir))
        except DamagedFileError:
            unreadable.append(entry.model_id)
    return unreadable


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
        for path in sorted((REPO_ROOT / "ml" / "lakehouse").rglob("*.py")):
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
        return "files:" + digest.hexdigest()[:12]


# The code that decides what a model is (relative to the package): the features, the split, the
# preprocessing, the fit, metrics and prediction. The search and the selection decide it through
# the tuned parameters they write (in the signature as values); the CLI, the reports and the
# pipeline do not.
MODEL_CODE = (
    "models/features",
    "models/tasks.py",
    "models/split.py",
    "models/preprocess.py",
    "models/boosting.py",
    "models/train.py",
    "models/metrics.py",
    "models/predict.py",
)
MODEL_LIBRARIES = ("lightgbm", "scikit-learn", "optuna", "numpy", "polars", "duckdb")
# The settings of config.py that a model depends on besides `TrainingConfig`.
MODEL_SETTINGS = (
    "LATE_AFTER_MINUTES",
    "WEATHER_LAG_MINUTES",
    "LOG_LOSS_EPSILON",
    "WAITING_CAP_MINUTES",
    "LOOKBACK_MINUTES",
    "ONE_HOT_MAX_CATEGORIES",
    "F1_DENOMINATOR_FLOOR",
    "MAX_ROUNDS",
    "EARLY_STOPPING_ROUNDS",
    "LIGHTGBM_PARAMS",
    "SEARCH_SPACE",
)


def model_code_files() -> list[Path]:
    """The files of `MODEL_CODE`, in a fixed order."""
    package = Path(__file__).resolve().parents[1]
    files: list[Path] = []
    for name in MODEL_CODE:
        path = package / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def training_signature(training: TrainingConfig) -> str:
    """What, besides the data, a trained model depends on: the training settings and the tuned
    parameters, the code that builds features and fits models (each file by its path in the
    package and its bytes), and the versions of the libraries that fit it. Same signature and
    same data fingerprint: training again would give the same model."""
    settings: dict[str, Any] = {name: getattr(config, name) for name in MODEL_SETTINGS}
    # what tuning chose (not how: the search record changes no model)
    for task in ("classification", "regression"):
        tuned = config.read_tuned(task, FEATURES.all)
        settings[f"tuned_{task}"] = {"params": tuned.params, "dropped_features": tuned.dropped_features}
    digest = hashlib.sha256(json.dumps([asdict(training), settings], sort_keys=True, default=str).encode())
    package = Path(__file__).resolve().parents[1]
    for path in model_code_files():
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    for library in MODEL_LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}".encode())
    return digest.hexdigest()[:16]


def data_fingerprint(frame: pl.DataFrame) -> str:
    """A hash of every value the models saw (rows in a fixed order: the row hashes ordered by
    flight id, which is what hashing the frame sorted by flight id gives, without moving it)."""
    hashes = frame.hash_rows(seed=0).gather(frame["flight_id"].arg_sort())
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()[:16]


def window_fingerprint(frame: pl.DataFrame, start: date, end: date) -> str:
    """`data_fingerprint` of the rows whose scheduled departure date is from `start` to `end`."""
    return data_fingerprint(frame.filter(pl.col("scheduled_departure_date").is_between(start, end)))


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
    # The scheduled departure dates the scoring model was fitted on (training and validation
    # months: the refit), and those it was chosen on: its scores there are in-sample, not a
    # measure of how it does on new flights.
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
    # How the parameters and features were chosen: the search recorded by `lakehouse tune`.
    tuning: str | None = None
    # `data_fingerprint` of the features of the training window (train_start_date to
    # train_end_date) it was fitted on: when those months hold other data later (a month
    # corrected), the champion is replaced by a retrain.
    training_data_fingerprint: str | None = None
    # The 95% paired day-block interval of its improvement over the champion on the same
    # validation rows (AUC gained, RMSE saved), the evidence of the decision.
    improvement_low: float | None = None
    improvement_high: float | None = None

    def resolved(self, models: Path) -> RegistryEntry:
        """The entry with its paths on disk (they are recorded relative to the models folder)."""
        return replace(
            self,
            artifact_dir=resolve_path(models, self.artifact_dir),
            report_path=resolve_path(models, self.report_path),
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RegistryEntry:
        """An entry as a registry file holds it (a field written after the entry's file is None)."""
        values: dict[str, Any] = {f.name: row.get(f.name) for f in fields(cls)}
        return cls(**values)


def stored_path(models: Path, path: Path) -> str:
    """How the registry records a path: relative to the models folder when it is inside it, so
    that a data folder moved or copied elsewhere serves its own models."""
    return str(path.relative_to(models)) if path.is_relative_to(models) else str(path)


def resolve_path(models: Path, stored: str) -> str:
    """A recorded path on disk: relative ones under `models`. An absolute one (an entry written
    before paths were relative) is taken from its `runs/` part on under `models` when that exists
    there: a copied data folder does not serve the models of the folder it was copied from."""
    if not stored:
        return stored
    path = Path(stored)
    if not path.is_absolute():
        return str(models / path)
    if "runs" in path.parts:
        start = len(path.parts) - 1 - path.parts[::-1].index("runs")
        moved = models.joinpath(*path.parts[start:])
        if moved.exists():
            return str(moved)
    return stored


# What to do about a registry file that cannot be read.
DAMAGED_REGISTRY_FILE = (
    "restore it from a backup, or move both files of its run (<run id>.models.parquet and "
    "<run id>.metrics.parquet) out of the registry folder: the run leaves the registry, its model "
    "folders stay"
)


def _read(directory: Path, kind: str) -> pl.DataFrame:
    files = sorted(directory.glob(f"*.{kind}.parquet"))
    frames = [read_parquet(f, DAMAGED_REGISTRY_FILE) for f in files]
    return pl.concat(frames, how="diagonal_relaxed") if files else pl.DataFrame()


def models_folder(registry: Path) -> Path:
    """The models folder of a registry folder (`Paths.model_registry`): what its paths are
    relative to."""
    return registry.parent


def entries(registry: Path) -> list[RegistryEntry]:
    """Every registered model, oldest first, with its paths on disk."""
    frame = _read(registry, "models")
    if frame.is_empty():
        return []
    models = models_folder(registry)
    return [
        RegistryEntry.from_row(row).resolved(models) for row in frame.sort("created_at").iter_rows(named=True)
    ]


def latest_of_each(
    registered: list[RegistryEntry], promoted_only: bool
) -> dict[tuple[str, int], RegistryEntry]:
    """The latest entry (promoted, with `promoted_only`) of each task and horizon, of entries
    oldest first (`entries`). The champions are the latest promoted: the one statement of the rule,
    which `ml.model_registry.is_champion` records for SQL (`load_registry_into`)."""
    return {(e.task, e.horizon_minutes): e for e in registered if e.is_promoted or not promoted_only}


def current_champion(registry: Path, task: str, horizon_minutes: int) -> RegistryEntry | None:
    """The latest promoted entry of a task and horizon."""
    return latest_of_each(entries(registry), promoted_only=True).get((task, horizon_minutes))


def latest_entry(registry: Path, task: str, horizon_minutes: int) -> RegistryEntry | None:
    """The latest trained model of a task and horizon, promoted or not."""
    return latest_of_each(entries(registry), promoted_only=False).get((task, horizon_minutes))


def is_trained_on(entry: RegistryEntry | None, fingerprint: str, signature: str) -> bool:
    """Was this model trained on these features with this code and configuration?"""
    return (
        entry is not None and entry.data_fingerprint == fingerprint and entry.training_signature == signature
    )


def save_entries(registry: Path, run_id: str, entries: list[RegistryEntry], metrics: pl.DataFrame) -> None:
    """Append the run's entries and metrics (each file written whole, then renamed). The entries
    go last: a run is registered when its models file exists."""
    write_parquet_atomically(metrics, registry / f"{run_id}.metrics.parquet")
    write_parquet_atomically(
        pl.DataFrame([asdict(e) for e in entries], schema=ENTRY_SCHEMA), registry / f"{run_id}.models.parquet"
    )


def withdraw(registry: Path, run_id: str) -> None:
    """Unregister a run: its models file first (a run is registered while it exists), then its
    metrics. Its model files stay where they were saved."""
    for kind in ("models", "metrics"):
        (registry / f"{run_id}.{kind}.parquet").unlink(missing_ok=True)


def load_registry_into(warehouse: Path, registry: Path) -> bool:
    """(Re)create ml.model_registry (each entry, and whether it is its task and horizon's champion:
    `is_champion`) and ml.model_metrics from the registry files; False when nothing has been
    trained yet."""
    if not any(registry.glob("*.models.parquet")):
        return False
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists ml")
        for table, kind in (("model_registry", "models"), ("model_metrics", "metrics")):
            source = f"read_parquet({sql_text(registry / f'*.{kind}.parquet')}, union_by_name = true)"
            typed = ""
            if table == "model_registry":
                # Every field in its type, even where every file has it NULL (a column of no type
                # in Parquet: champion_model_id before any run had a champion).
                present = {
                    row[0] for row in connection.execute(f"describe select * from {source}").fetchall()
                }
                casts = [f"cast({n} as {t}) as {n}" for n, t in _ENTRY_COLUMN_TYPES.items() if n in present]
                typed = f" replace ({', '.join(casts)})"
            connection.execute(f"create or replace table ml.{table} as select *{typed} from {source}")
        champions = [e.model_id for e in latest_of_each(entries(registry), promoted_only=True).values()]
        connection.execute("alter table ml.model_registry add column is_champion boolean")
        connection.execute(
            "update ml.model_registry set is_champion = list_contains(?, model_id)", [champions]
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
_POLARS_TYPES: dict[str, Any] = {
    "str": pl.String,
    "int": pl.Int64,
    "float": pl.Float64,
    "bool": pl.Boolean,
    "date": pl.Date,
    "datetime": pl.Datetime("us", "UTC"),
}
# Each field of an entry in its type, whatever the values (None everywhere included).
ENTRY_SCHEMA = {f.name: _POLARS_TYPES[str(f.type).removesuffix(" | None")] for f in fields(RegistryEntry)}
