"""Instants on the wire (the scoring API, the live feed's events): ISO 8601 text with an offset,
within `INSTANT_YEARS`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from lakehouse.config import INSTANT_YEARS


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
