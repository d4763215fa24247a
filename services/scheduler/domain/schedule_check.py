"""The one decision on whether a schedule can be used, for the operator API (as a 422) and for
``rituals schedule preview`` (as a one-line error): what a bad RRULE, DTSTART or EXDATE is is
decided here and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from services.scheduler.domain.recurrence import (
    Schedule,
    ScheduleError,
    check_rule_syntax,
    parse_exdates,
    parse_local_datetime,
)
from services.scheduler.domain.time_slots import check_time_slots

# A first occurrence outside these years is a typo, and near year 1 or 9999 a local time has
# no UTC instant in some zones (datetime overflows).
EARLIEST_DTSTART = datetime(2000, 1, 1)
LATEST_DTSTART = datetime(2999, 12, 31, 23, 59, 59)


class ScheduleFieldError(ScheduleError):
    """A schedule refused because of one field (``rrule``, ``dtstart``, ``exdates`` or
    ``time_slots``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_schedule(
    rrule: str,
    dtstart: str,
    exdates: list[str] | tuple[str, ...],
    minimum: timedelta,
    time_slots: Sequence[str] = (),
) -> Schedule:
    """The schedule if it parses, occurs within ``FIRST_OCCURRENCE_YEARS`` and keeps a human
    pace (no two prompts closer than ``minimum``); otherwise a ``ScheduleFieldError`` naming
    the field. Every check is a bounded search, however the rule is written. (A schedule that
    runs past year 9999 simply ends there: see ``Schedule.occurrences_after``.) Time slots
    (none: DTSTART's time only) move the time of day, so the days checked are theirs too."""
    try:
        start = parse_local_datetime(dtstart)
    except ScheduleError as error:
        raise ScheduleFieldError("dtstart", str(error)) from error
    if not EARLIEST_DTSTART <= start <= LATEST_DTSTART:
        raise ScheduleFieldError(
            "dtstart",
            f"DTSTART must be between {EARLIEST_DTSTART:%Y-%m-%d} and {LATEST_DTSTART:%Y-%m-%d}",
        )
    try:
        skipped = parse_exdates(exdates)
    except ScheduleError as error:
        raise ScheduleFieldError("exdates", str(error)) from error
    try:
        check_rule_syntax(rrule)  # stricter than dateutil (a part twice, COUNT with UNTIL)
        schedule = Schedule(rrule, start, skipped)
        schedule.require_occurrence()
        schedule.require_human_pace(minimum)
    except ScheduleError as error:
        raise ScheduleFieldError("rrule", str(error)) from error
    if time_slots:
        try:
            check_time_slots(time_slots, rrule)
        except ScheduleError as error:
            raise ScheduleFieldError("time_slots", str(error)) from error
    return schedule
