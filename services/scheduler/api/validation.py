"""Schedule checks that need configuration, reported in FastAPI's 422 shape. What makes a
schedule unusable is decided in ``domain.schedule_check``, shared with the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from fastapi.exceptions import RequestValidationError

from services.scheduler.domain.recurrence import Schedule
from services.scheduler.domain.schedule_check import ScheduleFieldError, check_schedule


def unprocessable(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def checked_schedule(
    rrule: str,
    dtstart: str,
    exdates: list[str] | tuple[str, ...],
    minimum: timedelta,
    time_slots: Sequence[str] = (),
) -> Schedule:
    """The schedule if ``check_schedule`` accepts it; otherwise a 422 naming the field."""
    try:
        return check_schedule(rrule, dtstart, exdates, minimum, time_slots)
    except ScheduleFieldError as error:
        raise unprocessable(error.field, str(error)) from error
