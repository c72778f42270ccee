"""Predictions for requested flights from a serving state: a known flight from its batch features
(already the champions' tree input), any other from features computed on demand by the same
definitions (`lakehouse.models.online`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from lakehouse.config import SCHEDULE_REACH_DAYS
from lakehouse.models.features.catalog import FEATURES
from lakehouse.serving.state import Champion, KnownSchedule, ServingState, request_frame


class RequestError(ValueError):
    """A request the state cannot answer: `field` names what is wrong (a 422), in the request's
    `location` (its body, its query)."""

    def __init__(self, field: tuple[str | int, ...], message: str, location: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.location = location


@dataclass(frozen=True)
class Answer:
    flight_id: str | None
    decision_at_utc: Any
    horizon_minutes: int
    probability_late: float
    is_late: bool
    threshold: float
    expected_arrival_delay_minutes: float | None
    classification: str
    regression: str | None
    features: dict[str, Any] | None
    known: bool


def feature_values(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FEATURES.all:
        value = row.get(name)
        if isinstance(value, float) and math.isnan(value):
            value = None
        elif isinstance(value, bool):
            value = float(value)
        out[name] = value
    return out


def check(
    state: ServingState,
    flights: list[dict[str, Any]],
    prefix: tuple[str | int, ...],
    clock: datetime | None = None,
) -> list[int]:
    """Each flight's horizon: its own; or, as of its `decision_at` (else the live feed's `clock`,
    naive UTC), the shortest champion horizon whose decision time has passed by then; else the
    default. Refuses a horizon without a champion, a decision after the clock (the future is not
    known yet), a departure far from the data and a new schedule twice in a batch, naming the field."""
    default = state.horizons[0] if state.horizons else None
    if default is None:
        raise RequestError(prefix, "no champion is published: run `make run`")
    horizons = []
    first = state.first_date - timedelta(days=SCHEDULE_REACH_DAYS)
    last = state.last_date + timedelta(days=SCHEDULE_REACH_DAYS)
    # the new schedules of a batch are one schedule (they count in each other's airport hours and
    # aircraft legs): one twice would count twice
    seen: dict[tuple[Any, ...], int] = {}
    for index, flight in enumerate(flights):
        where = (*prefix, index) if prefix else ()
        departure = flight["scheduled_departure"].astimezone(UTC).replace(tzinfo=None)
        key = (flight["carrier"], flight["flight_number"], flight["origin"], departure)
        if key in seen:
            raise RequestError(
                where,
                f"the same new schedule as {prefix[-1] if prefix else 'flights'}[{seen[key]}] (carrier, "
                "flight number, origin and scheduled departure): a batch's new schedules fly together, "
                "each once",
            )
        known = state.schedules.get(key)
        if known is None:
            seen[key] = index
        else:
            _check_known(known, flight, where)
        day = departure.date()
        if not first <= day <= last:
            raise RequestError(
                (*where, "scheduled_departure"),
                f"{day} is more than a year away from the data ({state.first_date} to {state.last_date})",
            )
        horizon = flight.get("horizon_minutes")
        if horizon is not None:
            if horizon not in state.horizons:
                raise RequestError(
                    (*where, "horizon_minutes"),
                    f"no champion at {horizon} minutes; horizons with one: "
                    f"{', '.join(map(str, state.horizons))}",
                )
            decided = departure - timedelta(minutes=horizon)
            if clock is not None and decided > clock:
                raise RequestError(
                    (*where, "horizon_minutes"),
                    f"the decision time {decided:%Y-%m-%d %H:%M} UTC is after the live feed's clock "
                    f"({clock:%Y-%m-%d %H:%M:%S} UTC): not known yet",
                )
        else:
            field = "decision_at" if flight.get("decision_at") is not None else None
            at = flight["decision_at"].astimezone(UTC).replace(tzinfo=None) if field else clock
            if at is None:
                horizon = default
            else:
                if field and clock is not None and at > clock:
                    raise RequestError(
                        (*where, "decision_at"),
                        f"{at:%Y-%m-%d %H:%M:%S} UTC is after the live feed's clock "
                        f"({clock:%Y-%m-%d %H:%M:%S} UTC): not known yet",
                    )
                passed = [h for h in state.horizons if departure - timedelta(minutes=h) <= at]
                if not passed:
                    earliest = departure - timedelta(minutes=default)
                    raise RequestError(
                        (*where, field or "scheduled_departure"),
                        f"no decision is due before {earliest:%Y-%m-%d %H:%M} UTC ({default} minutes before "
                        f"the departure); as of {at:%Y-%m-%d %H:%M:%S} UTC it is not known yet",
                    )
                horizon = min(passed)
        horizons.append(horizon)
    return horizons


def _check_known(known: KnownSchedule, flight: dict[str, Any], where: tuple[str | int, ...]) -> None:
    """A known flight is answered from its batch features: a request that says otherwise of its
    destination, arrival or aircraft would get an answer that ignores what it says."""
    said: dict[str, tuple[Any, Any]] = {
        "dest": (flight["dest"], known.dest),
        "scheduled_arrival": (
            flight["scheduled_arrival"].astimezone(UTC).replace(tzinfo=None),
            known.arrival_utc,
        ),
    }
    if flight.get("tailnum") is not None:
        said["tailnum"] = (flight["tailnum"], known.tailnum)
    for field, (asked, held) in said.items():
        if asked != held:
            raise RequestError(
                (*where, field),
                f"the warehouse knows this flight ({known.flight_id}: same carrier, flight number, origin "
                f"and scheduled departure) with {field} {_shown(held)}, not {_shown(asked)}; a known "
                "flight is answered from its batch features",
            )


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if isinstance(value, datetime) else str(value)


def predict(state: ServingState, flights: list[dict[str, Any]], horizons: list[int]) -> list[Answer]:
    """One answer per flight, in order."""
    frame = request_frame(state, flights).with_columns(pl.Series("horizon", horizons, dtype=pl.Int32))
    frame = frame.with_row_index("position")
    answers: list[Answer | None] = [None] * frame.height
    for horizon in sorted(set(horizons)):
        at = frame.filter(pl.col("horizon") == horizon)
        classifier = state.champions[("classification", horizon)]
        regressor = state.champions.get(("regression", horizon))
        known = state.known[horizon]
        rows = [known.row_of.get(fid) for fid in at["flight_id"].to_list()]
        is_known = np.array([r is not None for r in rows])
        probability = np.empty(at.height)
        delay = np.full(at.height, np.nan)
        feature_rows: list[dict[str, Any]] = [{}] * at.height
        if is_known.any():
            index = np.array([r for r in rows if r is not None])
            probability[is_known] = classifier.predict(known.matrices[classifier.entry.model_id][index])
            if regressor is not None:
                delay[is_known] = regressor.predict(known.matrices[regressor.entry.model_id][index])
            stored = known.features[index.tolist()].to_dicts()
            for slot, row in zip(np.flatnonzero(is_known), stored, strict=True):
                feature_rows[slot] = row
        if (~is_known).any():
            requested = at.filter(pl.Series(~is_known)).drop("position", "horizon")
            computed = state.online.build(requested, horizon)
            order = {fid: i for i, fid in enumerate(computed["flight_id"].to_list())}
            computed = computed[[order[fid] for fid in requested["flight_id"].to_list()]]
            probability[~is_known] = _score(classifier, computed)
            if regressor is not None:
                delay[~is_known] = _score(regressor, computed)
            for slot, row in zip(np.flatnonzero(~is_known), computed.to_dicts(), strict=True):
                feature_rows[slot] = row
        threshold = classifier.model.threshold
        for i, flight in enumerate(at.iter_rows(named=True)):
            answers[flight["position"]] = Answer(
                flight_id=flight["flight_id"]
                if is_known[i] or not flight["flight_id"].startswith("request-")
                else None,
                decision_at_utc=(flight["scheduled_departure_utc"] - timedelta(minutes=horizon)).replace(
                    tzinfo=UTC
                ),
                horizon_minutes=horizon,
                probability_late=float(probability[i]),
                is_late=bool(probability[i] >= threshold),
                threshold=threshold,
                expected_arrival_delay_minutes=None if regressor is None else float(delay[i]),
                classification=classifier.entry.model_id,
                regression=None if regressor is None else regressor.entry.model_id,
                features=feature_values(feature_rows[i]),
                known=bool(is_known[i]),
            )
    return [a for a in answers if a is not None]


def _score(champion: Champion, frame: pl.DataFrame) -> np.ndarray:
    return champion.predict(champion.model.pre.for_trees(frame))
