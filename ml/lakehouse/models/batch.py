"""Batch prediction: every flight scored by the champion of each task, from the feature SQL
training used.

A model version's predictions are one Parquet file (`data/models/predictions/<model_id>.parquet`),
written whole and renamed: re-scoring a version replaces its file, other versions stay beside it
so that a new champion can be compared with the old one on the same flights. `ml.predictions` is
loaded from the files of the latest versions (`loaded_versions`) into a warehouse that is not yet
published (the build, or a staged copy), then swapped in whole: readers see the old predictions or
the new ones, never a mix.

A flight's score reads only its own feature row, computed at its decision time (the leakage test
guards the features), so it depends only on what was known then."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import duckdb
import polars as pl

from lakehouse.common.files import check_parquet, write_parquet_atomically
from lakehouse.common.sql import sql_list
from lakehouse.config import PREDICTION_VERSIONS_LOADED
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.predict import predict
from lakehouse.models.registry import RegistryEntry, SavedModel, current_champion, entries, load_model
from lakehouse.models.tasks import TASKS, Task

PREDICTION_SCHEMA: dict[str, Any] = {
    "flight_id": pl.String,
    "task": pl.String,
    "model_id": pl.String,
    "model_name": pl.String,
    "model_version": pl.String,
    "horizon_minutes": pl.Int32,
    "decision_at_utc": pl.Datetime("us"),
    "score": pl.Float64,
    "threshold": pl.Float64,
    "predicted_label": pl.Boolean,
    "feature_fingerprint": pl.String,
    "scored_at": pl.Datetime("us"),
}


class ScoringError(RuntimeError):
    """Nothing to score with, or a model that does not fit the features."""


def feature_table(frame: pl.DataFrame) -> pl.DataFrame:
    """The features as `ml.flight_features` holds them (for drift monitoring): keys, categories
    as text, every other feature as a double (booleans 0/1, NULL when missing); rows in the
    feature build's order (scheduled departure, flight id)."""
    return frame.select(
        pl.col("flight_id"),
        pl.col("horizon_minutes").cast(pl.Int32),
        pl.col("decision_at_utc"),
        pl.col("scheduled_departure_date"),
        *(pl.col(c).cast(pl.String) for c in FEATURES.categorical),
        *(pl.col(c).cast(pl.Float64) for c in FEATURES.numeric),
    )


def prediction_rows(
    frame: pl.DataFrame, model: SavedModel, entry: RegistryEntry, fingerprint: str, scored_at: datetime
) -> pl.DataFrame:
    """One row per flight of `frame`: the model's score and, for a classifier, its label."""
    task = cast(Task, entry.task)
    missing = sorted(set(model.features) - set(frame.columns))
    if missing:
        raise ScoringError(
            f"model {entry.model_id} reads features the feature SQL no longer builds: "
            f"{', '.join(missing)}; retrain it (`lakehouse train`)"
        )
    scores = predict(model.booster, model.pre, frame)
    classifier = task == "classification"
    return pl.DataFrame(
        {
            "flight_id": frame["flight_id"],
            "task": task,
            "model_id": entry.model_id,
            "model_name": entry.model_name,
            "model_version": entry.run_id,
            "horizon_minutes": entry.horizon_minutes,
            "decision_at_utc": frame["decision_at_utc"],
            "score": scores,
            "threshold": model.threshold if classifier else None,
            "predicted_label": (scores >= model.threshold) if classifier else None,
            "feature_fingerprint": fingerprint,
            "scored_at": scored_at.replace(tzinfo=None),
        },
        schema=PREDICTION_SCHEMA,
    )


# What to do about an earlier version's stored predictions that cannot be read.
DAMAGED_PREDICTIONS = (
    "remove it: it holds the stored scores of an earlier model version, which then leave "
    "ml.predictions (a champion's own file is scored again)"
)


def predictions_file(directory: Path, model_id: str) -> Path:
    return directory / f"{model_id}.parquet"


def scored_by(path: Path) -> str:
    """The model id whose predictions a file holds (`predictions_file`)."""
    return path.name.removesuffix(".parquet")


def scored_fingerprint(directory: Path, model_id: str) -> str | None:
    """The features a model version's stored predictions were computed from, if any (None for a
    file that cannot be read: scoring again replaces it)."""
    path = predictions_file(directory, model_id)
    if not path.exists():
        return None
    try:
        first = pl.read_parquet(path, columns=["feature_fingerprint"], n_rows=1, glob=False)
    except pl.exceptions.PolarsError:
        return None
    return str(first.item()) if first.height else None


def write_predictions(directory: Path, model_id: str, rows: pl.DataFrame) -> Path:
    """Replace a version's predictions: the file appears whole or not at all."""
    return write_parquet_atomically(rows, predictions_file(directory, model_id))


@dataclass(frozen=True)
class Scored:
    model_id: str
    task: str
    rows: int
    rescored: bool


def predict_with_champions(
    registry: Path, directory: Path, frame: pl.DataFrame, fingerprint: str
) -> list[Scored]:
    """Score every flight of `frame` with each task's champion at the frame's horizon. A version
    whose stored predictions come from these very features is left as it is (same model, same
    features: same scores), which keeps a rerun with nothing changed byte for byte."""
    horizons = frame["horizon_minutes"].unique().to_list()
    if len(horizons) != 1:
        raise ScoringError(f"features of one horizon expected, got {horizons}")
    scored = []
    scored_at = datetime.now(UTC)
    for task in TASKS:
        entry = current_champion(registry, task, int(horizons[0]))
        if entry is None:
            raise ScoringError(
                f"no {task} champion at {horizons[0]} min in {registry}: train one (`lakehouse train`)"
            )
        # loaded even when its stored scores are kept: a champion that cannot be read stops here
        model = load_model(Path(entry.artifact_dir))
        if scored_fingerprint(directory, entry.model_id) == fingerprint:
            scored.append(Scored(entry.model_id, task, frame.height, rescored=False))
            continue
        rows = prediction_rows(frame, model, entry, fingerprint, scored_at)
        write_predictions(directory, entry.model_id, rows)
        scored.append(Scored(entry.model_id, task, rows.height, rescored=True))
    return scored


def loaded_versions(
    registered: list[RegistryEntry],
    stored: Collection[str],
    current: Collection[str] = (),
    kept: int = PREDICTION_VERSIONS_LOADED,
    served: Collection[str] = (),
) -> list[str]:
    """The versions whose stored predictions (`stored`: model ids with a file) `ml.predictions`
    holds, in the order of their ids: of each task and horizon, those just scored (`current`) and
    the latest others, by registration, up to `kept` in all; and every version that answered the
    API or the live feed (`served`), whose answers the marts compare with its batch scores. A
    version the registry (`registered`, oldest first) no longer has is left out."""
    groups: dict[tuple[str, int], list[RegistryEntry]] = {}
    for entry in registered:
        if entry.model_id in stored:
            groups.setdefault((entry.task, entry.horizon_minutes), []).append(entry)
    chosen = []
    for versions in groups.values():
        scored_now = [entry.model_id for entry in versions if entry.model_id in current]
        earlier = [entry.model_id for entry in reversed(versions) if entry.model_id not in current]
        chosen += (scored_now + earlier)[: max(kept, len(scored_now))]
        chosen += [entry.model_id for entry in versions if entry.model_id in served]
    return sorted(set(chosen))


def load_scoring_tables_into(
    warehouse: Path,
    directory: Path,
    registry: Path,
    features: pl.DataFrame | list[pl.DataFrame],
    current: Collection[str] = (),
    served: Collection[str] = (),
) -> int:
    """(Re)create `ml.flight_features` (the features at each horizon) and `ml.predictions` (of the
    flights those features hold, from the files of `loaded_versions`) in one transaction; returns
    the number of prediction rows. `current`: the versions scored on these very features
    (`Scored.model_id`), whose flights are the features' and are not checked; `served`: the
    versions that answered requests or the feed (`serving.log.served_versions`). Rows in a fixed order
    without sorting them: the horizons in order, each in the feature build's order, and the
    predictions file by file in the order of their model ids."""
    frames = features if isinstance(features, list) else [features]
    frames = sorted(frames, key=lambda frame: frame["horizon_minutes"].max() or 0)
    table = pl.concat([feature_table(frame) for frame in frames])
    stored = {scored_by(path) for path in directory.glob("*.parquet")}
    versions = loaded_versions(entries(registry), stored, current, served=served)
    files = [predictions_file(directory, model_id) for model_id in versions]
    for path in files:
        if scored_by(path) not in current:  # the current versions' files were just written
            check_parquet(path, DAMAGED_PREDICTIONS)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("begin")
        connection.execute("create schema if not exists ml")
        connection.register("scored_features", table)
        connection.execute("create or replace table ml.flight_features as select * from scored_features")
        connection.register("no_predictions", pl.DataFrame(schema=PREDICTION_SCHEMA))
        stored_rows = f"read_parquet({sql_list(files)})" if files else "no_predictions"
        connection.execute(f"create or replace table ml.predictions as select * from {stored_rows}")
        # An earlier version's file may hold flights the data no longer has (a correction removed
        # them): they stay in its file, not in the table (a delete keeps the order of the rest).
        earlier = sorted(set(versions) - set(current))
        if earlier:
            connection.execute(
                "delete from ml.predictions where list_contains(?, model_id) "
                "and flight_id not in (select flight_id from scored_features)",
                [earlier],
            )
        connection.execute("commit")
        count = connection.execute("select count(*) from ml.predictions").fetchone()
    return int(count[0]) if count else 0
