"""``rituals schedule preview``: the next occurrences of a schedule, computed by the same code
the scheduler uses, one UTC instant a line."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from services.scheduler.domain.recurrence import (
    Schedule,
    ScheduleError,
    load_zone,
    parse_exdates,
    parse_local_datetime,
)
from shared.contracts.base import utc_iso


def add_preview_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rrule", required=True, help="RFC 5545 RRULE, e.g. FREQ=DAILY")
    parser.add_argument("--dtstart", required=True, help="local wall time, 2027-03-14T02:30")
    parser.add_argument("--tz", required=True, help="IANA zone the schedule is read in")
    parser.add_argument("--after", help="UTC instant to start after (default: DTSTART - 1 s)")
    parser.add_argument("--count", type=int, default=10, help="how many occurrences")
    parser.add_argument("--exdate", action="append", default=[], help="local wall time to skip")


def preview_lines(
    rrule: str, dtstart: str, tz: str, after: str | None, count: int, exdates: list[str]
) -> list[str]:
    """Raises ``ScheduleError`` with a reason the operator can act on."""
    if count < 1:
        raise ScheduleError("--count must be at least 1")
    zone = load_zone(tz)
    start = parse_local_datetime(dtstart)
    schedule = Schedule(rrule, start, parse_exdates(exdates))
    schedule.require_occurrence()  # the API's check: a rule that never occurs is said so, fast
    if after is None:  # from the first occurrence on
        after_instant = start.replace(tzinfo=zone).astimezone(UTC) - timedelta(days=2)
    else:
        try:
            after_instant = datetime.fromisoformat(after.replace("Z", "+00:00"))
        except ValueError as error:
            raise ScheduleError(f"--after {after!r} is not an ISO 8601 instant") from error
        if after_instant.tzinfo is None:
            raise ScheduleError("--after needs a UTC offset or Z")
    return [utc_iso(instant) for instant in schedule.preview(zone, after_instant, count)]
