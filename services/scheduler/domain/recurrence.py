"""RFC 5545 recurrence in a time zone, as people expect it.

dateutil's ``rrule`` with an aware ``DTSTART`` keeps wall-clock time across DST. The instant of
each occurrence is taken with ``fold=0``, which gives RFC 5545's reading: a nonexistent local
time (in a spring-forward gap) is read with the offset *before* the gap (02:30 becomes 03:30
local), and an ambiguous one (fall-back) fires once, at its first occurrence.

Python compares two aware datetimes that share a ``tzinfo`` by wall time, ignoring ``fold``, so
all comparisons here are made on UTC instants.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule as RecurrenceRule
from dateutil.rrule import rrulestr

# A window wide enough to cover any UTC-offset change, including zones that skipped a day.
_SEARCH_MARGIN = timedelta(days=2)


class ScheduleError(ValueError):
    """The schedule cannot be used; the message says why (shown to operators as a 422)."""


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"unknown time zone {name!r} (use an IANA name)") from error


def parse_local_datetime(text: str) -> datetime:
    """A DTSTART given as local wall time, ``2027-01-04T09:00`` (no offset: the zone gives it)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise ScheduleError(f"DTSTART {text!r} is not an ISO 8601 local date-time") from error
    if value.tzinfo is not None:
        raise ScheduleError("DTSTART is local wall time: give it without an offset")
    return value


@dataclass(frozen=True)
class Schedule:
    """An RRULE anchored at a local DTSTART; where it fires depends on the zone it is read in."""

    rrule: str
    dtstart: datetime

    def __post_init__(self) -> None:
        if self.dtstart.tzinfo is not None:
            raise ScheduleError("DTSTART must be naive local wall time")
        self._rule(ZoneInfo("UTC"))  # fail now, not at the first tick

    def _rule(self, zone: ZoneInfo) -> RecurrenceRule:
        text = self.rrule.strip()
        if text.upper().startswith("RRULE:"):
            text = text[len("RRULE:") :]
        if "DTSTART" in text.upper() or "\n" in text:
            raise ScheduleError("give the RRULE alone; DTSTART and the zone are separate fields")
        try:
            rule = rrulestr(text, dtstart=self.dtstart.replace(tzinfo=zone))
        except (ValueError, TypeError) as error:
            raise ScheduleError(f"invalid RRULE: {error}") from error
        if not isinstance(rule, RecurrenceRule):
            raise ScheduleError("invalid RRULE: expected a single rule")
        return rule

    def occurrences_after(self, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
        """UTC instants strictly after ``after``, in order."""
        if after.tzinfo is None:
            raise ValueError("after must be an aware instant")
        after_utc = after.astimezone(UTC)
        start = (after_utc - _SEARCH_MARGIN).astimezone(zone)
        previous: datetime | None = None
        for local in self._rule(zone).xafter(start, inc=True):
            instant = local.replace(fold=0).astimezone(UTC)
            if instant <= after_utc or instant == previous:
                continue
            previous = instant
            yield instant

    def next_after(self, zone: ZoneInfo, after: datetime) -> datetime | None:
        return next(self.occurrences_after(zone, after), None)
