"""Schedule checks that need configuration, reported in FastAPI's 422 shape."""

from __future__ import annotations

from datetime import timedelta

from fastapi.exceptions import RequestValidationError

from services.scheduler.domain.recurrence import (
    Schedule,
    ScheduleError,
    parse_exdates,
    parse_local_datetime,
)


def unprocessable(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def checked_schedule(
    rrule: str, dtstart: str, exdates: list[str] | tuple[str, ...], minimum: timedelta
) -> Schedule:
    """The schedule if it parses and keeps a human pace; otherwise a 422 naming the field."""
    try:
        start = parse_local_datetime(dtstart)
    except ScheduleError as error:
        raise unprocessable("dtstart", str(error)) from error
    try:
        skipped = parse_exdates(exdates)
    except ScheduleError as error:
        raise unprocessable("exdates", str(error)) from error
    try:
        schedule = Schedule(rrule, start, skipped)
        schedule.require_human_pace(minimum)
    except ScheduleError as error:
        raise unprocessable("rrule", str(error)) from error
    return schedule
