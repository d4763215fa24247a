"""Time slots: up to three local times of day a ritual offers, one of which each member takes.

A slot moves the rule's time of day and nothing else: slot "18:00" of a weekly Monday ritual
fires on the rule's Mondays at 18:00 in the zone the ritual is read in, DST-correct as every
schedule is (``recurrence.Schedule``). The first slot is the default (members who chose none,
or whose chosen time the operator no longer offers); a ritual without slots has one, its
DTSTART's time. Only rules that fire once a day at DTSTART's time can take slots: one whose
BYHOUR or BYMINUTE sets the time would ignore the slot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, time

from services.scheduler.domain.recurrence import Schedule, ScheduleError

MAX_SLOTS = 3
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_TIME_PARTS = re.compile(r"(BYHOUR|BYMINUTE|BYSECOND)\s*=", re.IGNORECASE)
_SUB_DAILY = re.compile(r"FREQ\s*=\s*(HOURLY|MINUTELY|SECONDLY)", re.IGNORECASE)


def check_time_slots(slots: Sequence[str], rrule: str) -> tuple[str, ...]:
    """The slots as given (order kept: the first is the default) if they can be used with
    ``rrule``; otherwise a ``ScheduleError`` that says why without repeating the input."""
    if not 1 <= len(slots) <= MAX_SLOTS:
        raise ScheduleError(f"give 1 to {MAX_SLOTS} time slots, or none")
    for position, slot in enumerate(slots, start=1):
        if not _HH_MM.match(slot):
            raise ScheduleError(f"time slot {position} must be a local time of day as HH:MM")
    if len(set(slots)) != len(slots):
        raise ScheduleError("time slots must be distinct")
    if _TIME_PARTS.search(rrule) or _SUB_DAILY.search(rrule):
        raise ScheduleError(
            "time slots need a rule that fires at DTSTART's time of day (FREQ DAILY or "
            "coarser, no BYHOUR, BYMINUTE or BYSECOND)"
        )
    return tuple(slots)


def at_slot(schedule: Schedule, slot: str) -> Schedule:
    """The schedule on the same days at the slot's local time. An EXDATE skips its day: it is
    moved to the slot's time too."""
    at = time.fromisoformat(slot)

    def moved(day: datetime) -> datetime:
        return datetime.combine(day.date(), at)

    return Schedule(
        schedule.rrule,
        moved(schedule.dtstart),
        tuple(sorted({moved(day) for day in schedule.exdates})),
    )


def join_slots(slots: Sequence[str]) -> str:
    return ",".join(slots)


def split_slots(text: str | None) -> tuple[str, ...]:
    return tuple(part for part in (text or "").split(",") if part)
