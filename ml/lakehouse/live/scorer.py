"""Push scoring: as the feed's clock passes a flight's decision time at a champion's horizon, the
flight is scored once, from the live store, by the batch feature SQL.

Each horizon keeps its own carried tables (`features.build.Carried`, prefix `carried_<h>_`) on the
scorer's cursor: a step computes only the flights whose decision time it passed, reading the
flights around them and the carried totals, as the month-by-month batch build does. The flights
scored at horizon h at clock C are those scheduled from the previous step's end and before
C + h + 1 s: every decision time T = departure - h at or before C (instants are whole seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from lakehouse.config import BOARD_DRIVERS
from lakehouse.live.store import LiveStore
from lakehouse.models.features.build import Carried, event_reach, window_features
from lakehouse.models.features.sql import scheduled_in
from lakehouse.serving.state import Champion

SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Pushed:
    """One flight scored at one horizon as the clock passed its decision time."""

    flight_id: str
    horizon_minutes: int
    decision_at_utc: datetime
    scheduled_departure_utc: datetime
    carrier: str
    flight_number: int
    origin: str
    dest: str
    probability_late: float
    is_late: bool
    threshold: float
    expected_arrival_delay_minutes: float | None
    classification: str
    regression: str | None
    # the features that moved P(late) most: (name, value, contribution to the log-odds)
    drivers: tuple[tuple[str, Any, float], ...]
    # the feed's clock when it was scored
    clock: datetime
    known: bool = field(default=True)

    @property
    def key(self) -> tuple[str, int]:
        return (self.flight_id, self.horizon_minutes)


def _whole_second(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


def drivers(
    champion: Champion, matrix: np.ndarray, frame: pl.DataFrame
) -> list[tuple[tuple[str, Any, float], ...]]:
    """Per row, the `BOARD_DRIVERS` features with the largest SHAP contribution (LightGBM's
    `pred_contrib`), with the row's value."""
    booster = champion.model.booster
    contributions = np.asarray(
        booster.predict(matrix, num_iteration=booster.best_iteration, pred_contrib=True, num_threads=1)
    )[:, :-1]
    names = champion.model.pre.tree_features
    values = frame.select(names).to_dicts()
    top = np.argsort(-np.abs(contributions), axis=1)[:, :BOARD_DRIVERS]
    return [
        tuple((names[j], values[i][names[j]], float(contributions[i, j])) for j in top[i])
        for i in range(matrix.shape[0])
    ]


class PushScorer:
    """Scores what each advance of the clock decides; holds its cursor and carried tables."""

    def __init__(self, store: LiveStore, champions: dict[tuple[str, int], Champion], start: datetime) -> None:
        self.store = store
        self.champions = champions
        self.horizons = sorted({h for task, h in champions if task == "classification"}, reverse=True)
        self.cursor = store.connection.cursor()
        self.cursor.execute("set enable_progress_bar = false")
        after, ahead = event_reach(self.cursor)
        self.carried = {h: Carried(self.cursor, after, ahead, prefix=f"carried_{h}_") for h in self.horizons}
        start = _whole_second(start)
        # flights decided after the feed's start: scheduled from start + h + 1 s on
        self.next_start = {h: start + timedelta(minutes=h) + SECOND for h in self.horizons}

    def close(self) -> None:
        self.cursor.close()

    def score_until(self, clock: datetime) -> list[Pushed]:
        """Every flight whose decision time the clock (naive UTC) has reached since the last call,
        at each horizon, from one snapshot of the store taken under its lock."""
        with self.store.lock:
            self.cursor.execute("begin transaction")
            self.cursor.execute("select count(*) from fct_flights").fetchall()
        try:
            pushed = self._score(_whole_second(clock))
            self.cursor.execute("commit")
        except BaseException:
            self.cursor.execute("rollback")
            raise
        return pushed

    def _score(self, clock: datetime) -> list[Pushed]:
        after, ahead = event_reach(self.cursor)
        pushed: list[Pushed] = []
        for horizon in self.horizons:
            start, end = self.next_start[horizon], clock + timedelta(minutes=horizon) + SECOND
            if end <= start:
                continue
            carried = self.carried[horizon]
            carried.after, carried.ahead = max(carried.after, after), max(carried.ahead, ahead)
            frame = window_features(carried, horizon, start, end)
            self.next_start[horizon] = end
            if frame.height:
                numbers = self.cursor.sql(
                    f"select flight_id, flight_number from fct_flights where {scheduled_in(start, end)}"
                ).pl()
                frame = frame.join(numbers, on="flight_id", how="left", maintain_order="left")
                pushed.extend(self._pushes(frame, horizon, clock))
        return pushed

    def _pushes(self, frame: pl.DataFrame, horizon: int, clock: datetime) -> list[Pushed]:
        classifier = self.champions[("classification", horizon)]
        regressor = self.champions.get(("regression", horizon))
        matrix = classifier.model.pre.for_trees(frame)
        probability = classifier.predict(matrix)
        delay = None if regressor is None else regressor.predict(regressor.model.pre.for_trees(frame))
        why = drivers(classifier, matrix, frame)
        threshold = classifier.model.threshold
        return [
            Pushed(
                flight_id=row["flight_id"],
                horizon_minutes=horizon,
                decision_at_utc=row["decision_at_utc"],
                scheduled_departure_utc=row["scheduled_departure_utc"],
                carrier=row["carrier"],
                flight_number=row["flight_number"],
                origin=row["origin"],
                dest=row["dest"],
                probability_late=float(probability[i]),
                is_late=bool(probability[i] >= threshold),
                threshold=threshold,
                expected_arrival_delay_minutes=None if delay is None else float(delay[i]),
                classification=classifier.entry.model_id,
                regression=None if regressor is None else regressor.entry.model_id,
                drivers=why[i],
                clock=clock,
            )
            for i, row in enumerate(
                frame.select(
                    "flight_id",
                    "decision_at_utc",
                    "scheduled_departure_utc",
                    "carrier",
                    "flight_number",
                    "origin",
                    "dest",
                ).iter_rows(named=True)
            )
        ]
