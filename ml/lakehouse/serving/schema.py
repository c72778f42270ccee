"""What the scoring API accepts and answers: the request and response bodies, validated field by
field (a bad field is a 422 that names it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from lakehouse.common.instants import Instant, schedule_problem
from lakehouse.config import FEED_REFUSAL_KINDS, MAX_BATCH_FLIGHTS, MAX_FEED_EVENTS

Carrier = Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$", description="Two letters or digits, e.g. UA.")]
Airport = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="Three letters (FAA code), e.g. EWR.")]


class FlightRequest(BaseModel):
    """One flight's schedule. Times are ISO 8601 with an offset (or Z)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "carrier": "UA",
                    "flight_number": 1545,
                    "origin": "EWR",
                    "dest": "IAH",
                    "scheduled_departure": "2013-01-01T05:15:00-05:00",
                    "scheduled_arrival": "2013-01-01T08:19:00-06:00",
                    "tailnum": "N14228",
                    "horizon_minutes": 120,
                }
            ]
        },
    )

    carrier: Carrier
    flight_number: Annotated[StrictInt, Field(ge=1, le=9999)]
    origin: Airport
    dest: Airport
    scheduled_departure: Instant
    scheduled_arrival: Instant
    tailnum: Annotated[
        str | None, Field(pattern=r"^[A-Z0-9]{2,7}$", description="The aircraft's tail number, e.g. N14228.")
    ] = None
    horizon_minutes: Annotated[
        StrictInt | None,
        Field(
            ge=1,
            description="Minutes before the scheduled departure; a horizon with a champion (GET /models).",
        ),
    ] = None
    decision_at: Instant | None = Field(
        default=None,
        description=(
            "Answer as of this instant: the champion of the shortest horizon whose decision time has "
            "passed by then. Without it or a horizon, a running live feed's clock (GET /feed)."
        ),
    )
    explain: StrictBool = Field(default=False, description="Also return the features the models read.")

    @model_validator(mode="after")
    def _a_schedule(self) -> FlightRequest:
        problem = schedule_problem(self.scheduled_departure, self.scheduled_arrival)
        if problem is not None:
            raise ValueError(problem)
        if self.decision_at is not None and self.horizon_minutes is not None:
            raise ValueError("give horizon_minutes or decision_at, not both")
        return self


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flights: Annotated[list[FlightRequest], Field(min_length=1, max_length=MAX_BATCH_FLIGHTS)]


class Models(BaseModel):
    classification: str
    regression: str | None


class Prediction(BaseModel):
    """A flight's prediction: the probability that it leaves more than 15 minutes late (or not at
    all), the classifier's decision at its threshold, and the expected arrival delay."""

    flight_id: str | None = Field(description="The warehouse's id of the flight, when it knows it.")
    decision_at_utc: datetime
    horizon_minutes: int
    probability_late: float
    is_late: bool
    threshold: float
    expected_arrival_delay_minutes: float | None
    models: Models
    features: dict[str, float | str | None] | None = None


class BatchResponse(BaseModel):
    predictions: list[Prediction]


class Champion(BaseModel):
    model_id: str
    task: str
    horizon_minutes: int
    model_name: str
    train_start_date: str | None
    train_end_date: str | None
    validation_metric: str
    validation_value: float
    test_value: float


class ModelsResponse(BaseModel):
    version: str
    horizons_minutes: list[int]
    default_horizon_minutes: int
    champions: list[Champion]


class Health(BaseModel):
    ready: bool
    version: str | None
    models: list[str]
    detail: str | None = None


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Why a request was refused: a sentence, or each field at fault."""

    detail: str | list[FieldError]


# --- The live feed --------------------------------------------------------------------------------


class FeedStart(BaseModel):
    # the body names it `from` (a Python keyword) and nothing else
    model_config = ConfigDict(extra="forbid", validate_by_alias=True, validate_by_name=False)

    start: Instant = Field(
        alias="from",
        description="The instant the feed starts at: the service knows everything known by then.",
        examples=["2013-12-10T06:00:00-05:00"],
    )


class FeedStatus(BaseModel):
    feed_id: str
    version: str
    start: datetime
    clock: datetime = Field(description="Everything known up to this instant has been received.")
    scored_until: datetime = Field(description="Every decision up to this instant is scored.")
    events_accepted: int
    events_ignored: int = Field(description="Delivered again (same id and content): changed nothing.")
    events_rejected: int
    pushed: int
    horizons_minutes: list[int]
    error: str | None = None


class EventsBatch(BaseModel):
    """Events in any order within the batch, each checked on its own (see the live-feed docs for
    the kinds and their fields)."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[Any], Field(max_length=MAX_FEED_EVENTS)]
    clock: Instant | None = Field(
        default=None, description="The producer has sent everything known up to this instant."
    )


class EventRefusal(BaseModel):
    position: int = Field(description="The event's index in the batch.")
    event_id: str | None
    kind: str = Field(description="Why, by kind.", json_schema_extra={"enum": list(FEED_REFUSAL_KINDS)})
    reason: str


class EventsReceipt(BaseModel):
    accepted: int
    ignored: int
    rejected: list[EventRefusal]
    clock: datetime
