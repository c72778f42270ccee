"""The scoring API (FastAPI on uvicorn): predictions for one flight or a batch, a known flight by
its id, the champions, health; and the live feed: start it, send it events, read its status and
its board. Every answer names the models that gave it; every request and every pushed score is
logged as a served prediction."""

from __future__ import annotations

import hmac
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse.config import API_KEY_VARIABLE, MAX_BODY_BYTES, WORKERS_VARIABLE, Paths, paths
from lakehouse.live.board import empty_board, render_board
from lakehouse.live.feed import FeedHolder
from lakehouse.serving.log import ServedLog
from lakehouse.serving.predict import Answer, RequestError, check, predict
from lakehouse.serving.schema import (
    BatchRequest,
    BatchResponse,
    Champion,
    ErrorResponse,
    EventRefusal,
    EventsBatch,
    EventsReceipt,
    FeedStart,
    FeedStatus,
    FlightRequest,
    Health,
    Models,
    ModelsResponse,
    Prediction,
)
from lakehouse.serving.state import ServingState, StateHolder

OPEN_PATHS = {"/health"}
PAGE_PATHS = {"/board"}
JSON_PATHS = {"/predict", "/predict/batch", "/feed/start", "/events"}
# The refusals every endpoint may answer, documented in the OpenAPI with their body.
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "A valid X-API-Key header is required."},
    422: {"model": ErrorResponse, "description": "A field is missing, malformed or out of range."},
    503: {"model": ErrorResponse, "description": "Nothing is published yet, or the service is loading."},
}
BODY_REFUSALS: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    400: {"model": ErrorResponse, "description": "The body is not JSON."},
    413: {"model": ErrorResponse, "description": "The body is too large."},
    415: {"model": ErrorResponse, "description": "The body is not application/json."},
}


class BodyLimit:
    """Refuses a body larger than `limit` bytes (413) before reading it all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(scope, receive, send, self.limit)
            return
        received = 0
        too_large = False

        async def counted() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    too_large = True
                    raise _BodyTooLargeError
            return message

        async def unless_too_large(message: Message) -> None:
            # FastAPI answers a body it failed to read with a 400 of its own: the 413 replaces it
            if not too_large:
                await send(message)

        with suppress(_BodyTooLargeError):
            await self.app(scope, counted, unless_too_large)
        if too_large:
            await _too_large(scope, receive, send, self.limit)


class _BodyTooLargeError(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = JSONResponse({"detail": f"the body is larger than {limit} bytes"}, status_code=413)
    await response(scope, receive, send)


def _answer(answer: Answer, explain: bool) -> Prediction:
    return Prediction(
        flight_id=answer.flight_id,
        decision_at_utc=answer.decision_at_utc,
        horizon_minutes=answer.horizon_minutes,
        probability_late=answer.probability_late,
        is_late=answer.is_late,
        threshold=answer.threshold,
        expected_arrival_delay_minutes=answer.expected_arrival_delay_minutes,
        models=Models(classification=answer.classification, regression=answer.regression),
        features=answer.features if explain else None,
    )


def create_app(p: Paths | None = None, api_key: str | None = None) -> FastAPI:
    """The app on the data folder `p` (default: this process's paths); with `api_key`, every
    request but /health needs it in X-API-Key."""
    p = p or paths()
    api_key = api_key if api_key is not None else os.environ.get(API_KEY_VARIABLE) or None
    log = ServedLog(p.served_predictions)
    feeds = FeedHolder(p.live, log)
    one_process = int(os.environ.get(WORKERS_VARIABLE, "1")) == 1
    # the feed `current` names resumes when its version loads, at start-up or later
    holder = StateHolder(p, on_loaded=feeds.resume if one_process else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder.start()
        yield
        feeds.stop()
        holder.stop()
        log.close()

    app = FastAPIOffline(
        title="lakehouse scoring API",
        version="1",
        description=(
            "Will this flight leave more than 15 minutes late (or not at all)? Predictions at a "
            "decision time before the scheduled departure, from the champion models of the published "
            "warehouse."
        ),
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if api_key and request.url.path not in OPEN_PATHS:
            # a header's bytes reach here decoded as latin-1 (HTTP's rule), a URL's as UTF-8
            given = request.headers.get("x-api-key", "").encode("latin-1", "replace")
            if not given and request.url.path in PAGE_PATHS:
                # a browser opening the board cannot send a header: the key may come in the URL
                given = request.query_params.get("key", "").encode()
            if not hmac.compare_digest(given, api_key.encode()):
                return JSONResponse({"detail": "a valid X-API-Key header is required"}, status_code=401)
        if request.method == "POST" and request.url.path in JSON_PATHS:
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return JSONResponse({"detail": "the body must be application/json"}, status_code=415)
        return await call_next(request)

    @app.exception_handler(RequestError)
    async def refused(_: Request, error: RequestError) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": [error.location, *error.field], "msg": str(error), "type": "value_error"}]},
            status_code=422,
        )

    def state() -> ServingState:
        current = holder.state
        if current is None:
            raise HTTPException(status_code=503, detail=holder.error or "the service is loading")
        return current

    def answer(
        flights: list[FlightRequest], prefix: tuple[str | int, ...]
    ) -> tuple[ServingState, list[Answer]]:
        serving = state()
        data = [flight.model_dump() for flight in flights]
        feed = feeds.feed
        clock = feed.clock if feed is not None and feed.version == serving.version else None
        horizons = check(serving, data, prefix, clock)
        return serving, predict(serving, data, horizons)

    @app.post("/predict", response_model=Prediction, responses=BODY_REFUSALS)
    def predict_one(flight: FlightRequest) -> Prediction:
        """One flight's prediction at its horizon, or as of `decision_at`; without either, as of
        the live feed's clock when a feed runs, else at the longest horizon with a champion."""
        started = time.perf_counter()
        serving, (result,) = answer([flight], ())
        log.write(serving.version, str(uuid.uuid4()), [result], time.perf_counter() - started)
        return _answer(result, flight.explain)

    @app.post("/predict/batch", response_model=BatchResponse, responses=BODY_REFUSALS)
    def predict_batch(batch: BatchRequest) -> BatchResponse:
        """Up to 10,000 flights, answered in order."""
        started = time.perf_counter()
        serving, results = answer(batch.flights, ("flights",))
        log.write(serving.version, str(uuid.uuid4()), results, time.perf_counter() - started)
        return BatchResponse(
            predictions=[_answer(r, f.explain) for r, f in zip(results, batch.flights, strict=True)]
        )

    @app.get(
        "/flights/{flight_id}/prediction",
        response_model=Prediction,
        responses={**REFUSALS, 404: {"model": ErrorResponse, "description": "No such flight."}},
    )
    def flight_prediction(
        flight_id: str, horizon_minutes: Annotated[int | None, Query(ge=1)] = None
    ) -> Prediction:
        """A flight the warehouse knows, by its id, at a horizon; without one, as of the live feed's
        clock when a feed runs, else at the longest horizon with a champion."""
        started = time.perf_counter()
        serving = state()
        row = serving.online.known([flight_id])
        if row.is_empty():
            shown = flight_id if len(flight_id) <= 64 else f"{flight_id[:64]}..."
            raise HTTPException(status_code=404, detail=f"no flight {shown!r} in version {serving.version}")
        known = row.row(0, named=True)
        flight: dict[str, Any] = {
            "carrier": known["carrier_code"],
            "flight_number": known["flight_number"],
            "origin": known["origin_airport_code"],
            "dest": known["dest_airport_code"],
            "tailnum": known["tail_number"],
            "scheduled_departure": _aware(known["scheduled_departure_utc"]),
            "scheduled_arrival": _aware(known["scheduled_arrival_utc"]),
            "horizon_minutes": horizon_minutes,
        }
        feed = feeds.feed
        clock = feed.clock if feed is not None and feed.version == serving.version else None
        try:
            horizons = check(serving, [flight], (), clock)
        except RequestError as error:  # the only field a caller gives here is the query's horizon
            raise RequestError(("horizon_minutes",), str(error), "query") from None
        (result,) = predict(serving, [flight], horizons)
        log.write(serving.version, str(uuid.uuid4()), [result], time.perf_counter() - started)
        return _answer(result, False)

    @app.get("/models", response_model=ModelsResponse, responses=REFUSALS)
    def models() -> ModelsResponse:
        """The champions of each task and horizon, their training windows and validation values."""
        serving = state()
        return ModelsResponse(
            version=serving.version,
            horizons_minutes=serving.horizons,
            default_horizon_minutes=serving.horizons[0],
            champions=[
                Champion(
                    model_id=c.entry.model_id,
                    task=c.entry.task,
                    horizon_minutes=c.entry.horizon_minutes,
                    model_name=c.entry.model_name,
                    train_start_date=str(c.entry.train_start_date),
                    train_end_date=str(c.entry.train_end_date),
                    validation_metric=c.entry.validation_metric,
                    validation_value=c.entry.validation_value,
                    test_value=c.entry.test_value,
                )
                for c in sorted(
                    serving.champions.values(), key=lambda c: (c.entry.task, -c.entry.horizon_minutes)
                )
            ],
        )

    @app.get("/health", response_model=Health, responses={401: REFUSALS[401]})
    def health() -> Health:
        """Ready or not, the version served and its models."""
        serving = holder.state
        return Health(
            ready=serving is not None,
            version=None if serving is None else serving.version,
            models=[] if serving is None else sorted(c.entry.model_id for c in serving.champions.values()),
            detail="; ".join(e for e in (holder.error, feeds.error) if e) or None,
        )

    def running_feed() -> Any:
        feed = feeds.feed
        if feed is None:
            raise HTTPException(status_code=409, detail="no live feed runs: POST /feed/start first")
        return feed

    @app.post(
        "/feed/start",
        response_model=FeedStatus,
        responses={
            **BODY_REFUSALS,
            409: {"model": ErrorResponse, "description": "More than one worker."},
            503: {
                "model": ErrorResponse,
                "description": "Nothing is published yet, or the served version's files cannot be read.",
            },
        },
    )
    def feed_start(body: FeedStart) -> FeedStatus:
        """Start the live feed at an instant (or resume it: same instant, same published version).
        The service then knows everything known by then; events known later come by POST /events."""
        serving = state()
        if not one_process:
            raise HTTPException(
                status_code=409, detail="the live feed holds its state in one process: serve with --workers 1"
            )
        try:
            feed = feeds.start(body.start, serving)
        except ValueError as error:
            raise RequestError(("from",), str(error)) from None
        except Exception as error:  # the version's files: the feed running before goes on
            running = "" if feeds.feed is None else f"; feed {feeds.feed.feed_id} goes on"
            raise HTTPException(
                status_code=503, detail=f"the live feed could not start: {error}{running}"
            ) from None
        return FeedStatus(**feed.status())

    @app.get(
        "/feed",
        response_model=FeedStatus,
        responses={**REFUSALS, 409: {"model": ErrorResponse, "description": "No feed runs."}},
    )
    def feed_status() -> FeedStatus:
        """The feed's clock, what it received and what it scored."""
        return FeedStatus(**running_feed().status())

    @app.post(
        "/events",
        response_model=EventsReceipt,
        responses={**BODY_REFUSALS, 409: {"model": ErrorResponse, "description": "No feed runs."}},
    )
    def events(batch: EventsBatch) -> EventsReceipt:
        """Up to 10,000 events. Each is accepted, ignored (delivered before: same id and content)
        or rejected with its reason (also kept in the feed's rejected.jsonl); a batch answered 200
        is journaled, so sending it again after a failure is safe."""
        try:
            receipt = running_feed().receive(batch.events, batch.clock)
        except ValueError as error:
            raise RequestError(("clock",), str(error)) from None
        return EventsReceipt(
            accepted=receipt.accepted,
            ignored=receipt.ignored,
            rejected=[
                EventRefusal(position=r.index, event_id=r.event_id, kind=r.kind, reason=r.reason)
                for r in receipt.rejected
            ],
            clock=_aware(receipt.clock),
        )

    @app.get("/board", response_class=HTMLResponse, responses={401: REFUSALS[401]})
    def board() -> HTMLResponse:
        """The operations board: the feed's clock, the next departures with their probability of
        leaving late, recent decisions beside their outcomes, online performance. Self-contained,
        refreshes itself."""
        feed = feeds.feed
        return HTMLResponse(empty_board() if feed is None else render_board(feed))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        # the errors as FastAPI words them, without the input they quote (it may be large)
        details = [{k: v for k, v in e.items() if k in {"loc", "msg", "type"}} for e in error.errors()]
        return JSONResponse({"detail": details}, status_code=422)

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


def _aware(value: Any) -> Any:
    from datetime import UTC

    return value.replace(tzinfo=UTC)
