"""Instants on the wire (the scoring API, the live feed's events): ISO 8601 text with an offset,
within `INSTANT_YEARS`; and what a flight's schedule must be, wherever one is received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from lakehouse.config import INSTANT_YEARS, MAX_SCHEDULED_FLIGHT_HOURS


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("an instant is an ISO 8601 string with an offset, e.g. 2013-12-10T06:00:00-05:00")
    return value


def _in_range(value: datetime) -> datetime:
    first, last = INSTANT_YEARS
    try:
        year: int | None = value.astimezone(UTC).year
    except OverflowError:  # beyond year 9999 or before year 1 in UTC
        year = None
    if year is None or not first <= year <= last:
        raise ValueError(f"an instant lies in the years {first} to {last} (UTC)")
    return value


# A number is not taken for seconds since 1970.
Instant = Annotated[AwareDatetime, BeforeValidator(_text), AfterValidator(_in_range)]


def schedule_problem(departure: datetime, arrival: datetime) -> str | None:
    """What is wrong with a flight's scheduled departure and arrival (naming the field), or None:
    a schedule is in whole minutes, and arrives after it leaves, within a day."""
    for field, instant in (("scheduled_departure", departure), ("scheduled_arrival", arrival)):
        if (instant.second, instant.microsecond) != (0, 0):
            return f"{field}: a schedule is in whole minutes, e.g. 2013-12-10T06:05:00-05:00"
    if arrival <= departure:
        return "scheduled_arrival must be after scheduled_departure"
    if arrival - departure > timedelta(hours=MAX_SCHEDULED_FLIGHT_HOURS):
        return f"scheduled_arrival is more than {MAX_SCHEDULED_FLIGHT_HOURS} hours after scheduled_departure"
    return None
