"""``rituals schedule preview``: the next occurrences of a schedule, computed by the same code
the scheduler uses and checked by the same rules the operator API applies, one occurrence a
line: the UTC instant, then the local time it is in the schedule's zone."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduler.domain.recurrence import ScheduleError, load_zone
from services.scheduler.domain.schedule_check import check_schedule
from services.scheduler.domain.time_slots import at_slot
from services.scheduler.settings import SchedulerSettings
from shared.contracts.base import utc_iso


def add_preview_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rrule", required=True, help="RFC 5545 RRULE, e.g. FREQ=DAILY")
    parser.add_argument("--dtstart", required=True, help="local wall time, 2027-03-14T02:30")
    parser.add_argument("--tz", required=True, help="IANA zone the schedule is read in")
    parser.add_argument("--after", help="UTC instant to start after (default: DTSTART - 1 s)")
    parser.add_argument("--count", type=int, default=10, help="how many occurrences")
    parser.add_argument("--exdate", action="append", default=[], help="local wall time to skip")
    parser.add_argument(
        "--time-slot", help="a ritual's time slot (HH:MM): the rule's days at that local time"
    )


def default_min_prompt_interval() -> timedelta:
    """The scheduler's default pace limit: the preview refuses what the API would refuse."""
    minutes = SchedulerSettings.model_fields["min_prompt_interval_minutes"].default
    return timedelta(minutes=minutes)


def preview_lines(
    rrule: str,
    dtstart: str,
    tz: str,
    after: str | None,
    count: int,
    exdates: list[str],
    time_slot: str | None = None,
) -> list[str]:
    """``2027-03-14T07:30:00Z  Sun 2027-03-14 03:30 EDT (-04:00)``: each occurrence of
    ``preview_instants``, then the wall time it is in ``tz``."""
    zone = load_zone(tz)
    instants = preview_instants(rrule, dtstart, tz, after, count, exdates, time_slot)
    return [f"{utc_iso(instant)}  {_local(instant, zone)}" for instant in instants]


def preview_instants(
    rrule: str,
    dtstart: str,
    tz: str,
    after: str | None,
    count: int,
    exdates: list[str],
    time_slot: str | None = None,
) -> list[datetime]:
    """The next ``count`` UTC instants (at ``time_slot``, if given, as the scheduler reads a
    ritual's slot). Raises ``ScheduleError`` with a reason the operator can act on, also when
    the schedule has no occurrence after ``after`` (an empty preview is never printed as a
    success)."""
    if count < 1:
        raise ScheduleError("--count must be at least 1")
    zone = load_zone(tz)
    slots = (time_slot,) if time_slot is not None else ()
    schedule = check_schedule(rrule, dtstart, exdates, default_min_prompt_interval(), slots)
    if time_slot is not None:
        schedule = at_slot(schedule, time_slot)
    if after is None:  # from the first occurrence on
        after_instant = schedule.dtstart.replace(tzinfo=zone).astimezone(UTC) - timedelta(days=2)
    else:
        try:
            after_instant = datetime.fromisoformat(after.replace("Z", "+00:00"))
        except ValueError as error:
            raise ScheduleError(f"--after {after!r} is not an ISO 8601 instant") from error
        if after_instant.tzinfo is None:
            raise ScheduleError("--after needs a UTC offset or Z")
    instants = schedule.preview(zone, after_instant, count)
    if not instants:
        since = "" if after is None else f" after {utc_iso(after_instant)}"
        raise ScheduleError(f"the schedule has no occurrence{since} in {zone.key}: it has ended")
    return instants


def _local(instant: datetime, zone: ZoneInfo) -> str:
    """``Sun 2027-03-14 03:30 EDT (-04:00)``: the wall time a member in the zone sees."""
    local = instant.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()} ({offset[:3]}:{offset[3:]})"
