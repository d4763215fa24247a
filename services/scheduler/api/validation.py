"""Schedule checks that need configuration, reported in FastAPI's 422 shape."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.exceptions import RequestValidationError

from services.scheduler.domain.recurrence import (
    Schedule,
    ScheduleError,
    parse_exdates,
    parse_local_datetime,
)

# A first occurrence outside these years is a typo, and near year 1 or 9999 a local time has
# no UTC instant in some zones (datetime overflows).
EARLIEST_DTSTART = datetime(2000, 1, 1)
LATEST_DTSTART = datetime(2999, 12, 31, 23, 59, 59)


def unprocessable(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def checked_schedule(
    rrule: str,
    dtstart: str,
    exdates: list[str] | tuple[str, ...],
    minimum: timedelta,
) -> Schedule:
    """The schedule if it parses, occurs within ``FIRST_OCCURRENCE_YEARS`` and keeps a human
    pace; otherwise a 422 naming the field. Every check is a bounded search, however the rule
    is written. (A schedule that runs past year 9999 simply ends there: see
    ``Schedule.occurrences_after``.)"""
    try:
        start = parse_local_datetime(dtstart)
    except ScheduleError as error:
        raise unprocessable("dtstart", str(error)) from error
    if not EARLIEST_DTSTART <= start <= LATEST_DTSTART:
        raise unprocessable(
            "dtstart",
            f"DTSTART must be between {EARLIEST_DTSTART:%Y-%m-%d} and {LATEST_DTSTART:%Y-%m-%d}",
        )
    try:
        skipped = parse_exdates(exdates)
    except ScheduleError as error:
        raise unprocessable("exdates", str(error)) from error
    try:
        schedule = Schedule(rrule, start, skipped)
        schedule.require_occurrence()
        schedule.require_human_pace(minimum)
    except ScheduleError as error:
        raise unprocessable("rrule", str(error)) from error
    return schedule
