"""RFC 5545 recurrence in a time zone, as people expect it.

dateutil's ``rrule`` with an aware ``DTSTART`` keeps wall-clock time across DST. The instant of
each occurrence is taken with ``fold=0``, which gives RFC 5545's reading: a nonexistent local
time (in a spring-forward gap) is read with the offset *before* the gap (02:30 becomes 03:30
local), and an ambiguous one (fall-back) fires once, at its first occurrence. Where two local
occurrences land on one instant (a zone that skipped a day), it fires once.

Python compares two aware datetimes that share a ``tzinfo`` by wall time, ignoring ``fold``, so
every comparison here is made on UTC instants.

A schedule is checked before it is accepted, with searches bounded by construction
(``rule_search``): one with no occurrence in its first ``FIRST_OCCURRENCE_YEARS`` years is
refused, so the scheduler never plans a rule whose next occurrence dateutil would walk to year
9999 to look for. (Rows stored before that check existed are not re-checked.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from difflib import get_close_matches
from functools import lru_cache
from itertools import islice, pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, SECONDLY, WEEKLY, YEARLY, rrulestr
from dateutil.rrule import rrule as RecurrenceRule

from services.scheduler.domain.rule_search import occurrence_problem, occurrences_within

# Wide enough to cover any UTC-offset change, including zones that skipped a day.
_SEARCH_MARGIN = timedelta(days=2)
_TOO_FREQUENT = re.compile(r"FREQ\s*=\s*(SECONDLY|MINUTELY)", re.IGNORECASE)
_INTERVAL_SAMPLE = 400
# A schedule must first occur within this many years of its DTSTART (and its pace is judged
# on at most this span): a check-in that waits longer is a mistake, and every search is short.
FIRST_OCCURRENCE_YEARS = 10


class ScheduleError(ValueError):
    """The schedule cannot be used; the message says why (shown to operators as a 422)."""


# The parts RFC 5545 defines for a RECUR value, in its order.
RRULE_PARTS = (
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)
_EXAMPLE_RULE = "e.g. FREQ=WEEKLY;BYDAY=MO"


class UnknownTimeZone(ScheduleError):
    """A zone name that is not an IANA name. The message leaves out the closest IANA name:
    the API never repeats what was submitted, and a close match mostly does (its echo filter
    would cut it out); the CLI adds it (``did_you_mean``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown time zone {name!r} (use an IANA name)")
        self.name = name

    @property
    def did_you_mean(self) -> str:
        """``; did you mean 'Europe/London'?``, or nothing (looked up only when asked)."""
        suggestion = closest_zone(self.name)
        return f"; did you mean {suggestion!r}?" if suggestion else ""


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimeZone(name) from error


def closest_zone(name: str) -> str | None:
    """The IANA name closest to ``name``, if any is close. Compared case-insensitively:
    'europe/london' is a typo of the right zone, not another one. Only reached on a mistake,
    so the zone list (read from disk) costs nothing on the good path."""
    by_folded = {zone.casefold(): zone for zone in available_timezones()}
    matches = get_close_matches(name.casefold(), by_folded, n=1, cutoff=0.6)
    return by_folded[matches[0]] if matches else None


def _bare_rule(rule_text: str) -> str:
    """The rule without an ``RRULE:`` prefix; a ``ScheduleError`` if it carries more."""
    text = rule_text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if "DTSTART" in text.upper() or "\n" in text:
        raise ScheduleError("give the RRULE alone; DTSTART, EXDATE and the zone are fields")
    return text


def check_rule_syntax(rule_text: str) -> str:
    """The rule without an ``RRULE:`` prefix if it is written as RFC 5545 writes one
    (``NAME=VALUE`` parts joined by ``;``, known names, each once, FREQ given); otherwise a
    ``ScheduleError`` saying what is wrong in words an operator can act on (dateutil's own
    messages, such as "not enough values to unpack", say nothing of the rule)."""
    text = _bare_rule(rule_text)
    if not text:
        raise ScheduleError(f"invalid RRULE: it is empty ({_EXAMPLE_RULE})")
    seen: set[str] = set()
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        name = name.strip().upper()
        if not equals or not name or not value.strip():
            raise ScheduleError(
                f"invalid RRULE: write it as NAME=VALUE parts separated by ';' ({_EXAMPLE_RULE})"
            )
        if name not in RRULE_PARTS and name != "BYEASTER":  # dateutil's: refused later, by name
            raise ScheduleError(
                f"invalid RRULE: unknown part {name!r}; RFC 5545 has {', '.join(RRULE_PARTS)}"
            )
        if name in seen:
            raise ScheduleError(f"invalid RRULE: {name} is given twice")
        seen.add(name)
    if "FREQ" not in seen:
        raise ScheduleError(f"invalid RRULE: FREQ is required ({_EXAMPLE_RULE})")
    if {"COUNT", "UNTIL"} <= seen:
        raise ScheduleError("invalid RRULE: give COUNT or UNTIL, not both")
    return text


def parse_local_datetime(text: str, what: str = "DTSTART") -> datetime:
    """A local wall time such as ``2027-01-04T09:00`` (no offset: the zone supplies it)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise ScheduleError(f"{what} {text!r} is not an ISO 8601 local date-time") from error
    if value.tzinfo is not None:
        raise ScheduleError(f"{what} is local wall time: give it without an offset")
    return value


def parse_exdates(texts: list[str] | tuple[str, ...]) -> tuple[datetime, ...]:
    return tuple(sorted({parse_local_datetime(text, "EXDATE") for text in texts}))


@lru_cache(maxsize=4096)
def _compiled(rule_text: str, dtstart: datetime, zone_name: str) -> RecurrenceRule:
    """Parsed once per (rule, start, zone); ``cache=True`` keeps generated occurrences. Only
    what dateutil refuses is refused here, so rules stored before ``check_rule_syntax`` existed
    still load; new ones are held to it (``schedule_check``)."""
    text = _bare_rule(rule_text)
    try:
        rule = rrulestr(text, dtstart=dtstart.replace(tzinfo=ZoneInfo(zone_name)), cache=True)
    except (ValueError, TypeError, KeyError) as error:
        check_rule_syntax(rule_text)  # says what is wrong, if it is the way it is written
        message = str(error)
        if "UNTIL" in message and "UTC" in message:
            message = "UNTIL must be a UTC instant ending in Z (DTSTART has a zone)"
        raise ScheduleError(f"invalid RRULE: {message}") from error
    if not isinstance(rule, RecurrenceRule):
        raise ScheduleError("invalid RRULE: expected a single rule")
    return rule


# A rule without COUNT is read from an anchor at most about this far before the instant asked
# about, instead of from its DTSTART: a ritual that started in 2000 costs what one that started
# last week does (dateutil walks every occurrence from DTSTART, and keeps them all).
_ANCHOR_SPAN = timedelta(days=1)
_STEP = {
    DAILY: timedelta(days=1),
    HOURLY: timedelta(hours=1),
    MINUTELY: timedelta(minutes=1),
    SECONDLY: timedelta(seconds=1),
    WEEKLY: timedelta(weeks=1),
}


def _anchor(rule: RecurrenceRule, dtstart: datetime, start: datetime) -> datetime | None:
    """A local wall time ``A`` after ``dtstart``, a whole number of the rule's periods (its
    INTERVAL included) later, whose period ends before ``start``; None if there is none.
    Read from ``A`` with what DTSTART implied made explicit (``_reanchored``), the rule has
    exactly the occurrences of the original from ``A`` on."""
    parts: Any = rule  # dateutil keeps the parsed rule in private attributes, unstubbed
    freq, interval = parts._freq, parts._interval
    if freq in (MONTHLY, YEARLY):
        months = 12 * interval if freq == YEARLY else interval
        elapsed = (start.year - dtstart.year) * 12 + start.month - dtstart.month
        periods = (elapsed - months) // months
        if periods <= 0:
            return None
        index = dtstart.year * 12 + dtstart.month - 1 + periods * months
        return datetime(index // 12, index % 12 + 1, 1)
    try:
        step = _STEP[freq] * interval
    except OverflowError:  # a period longer than any timedelta: none ends before ``start``
        return None
    block = step * max(1, -(-_ANCHOR_SPAN // step))  # whole periods, about a day's worth
    blocks = (start - block - dtstart) // block
    return dtstart + blocks * block if blocks > 0 else None


@lru_cache(maxsize=4096)
def _reanchored(
    rule_text: str, dtstart: datetime, zone_name: str, anchor: datetime
) -> RecurrenceRule:
    """The rule read from ``anchor``, with every part DTSTART implied (RFC 5545: the month,
    day, weekday and time of day a rule does not give) stated, so the new start changes
    none of them. Without dateutil's occurrence cache: reading two days from the anchor is
    cheap, and 10,000 rules' caches held ~80 MB more than the rules themselves (~20 MB)."""
    rule = _compiled(rule_text, dtstart, zone_name)
    parts: Any = rule
    given = parts._original_rule  # parts given, and those DTSTART implied, as None or absent
    implied: dict[str, Any] = {}
    if given.get("bymonth", 0) is None:
        implied["bymonth"] = dtstart.month
    if "bymonthday" in given and given["bymonthday"] is None:
        implied["bymonthday"] = dtstart.day
    if "byweekday" in given and given["byweekday"] is None:
        implied["byweekday"] = dtstart.weekday()
    for part, finer_than in (("byhour", HOURLY), ("byminute", MINUTELY), ("bysecond", SECONDLY)):
        if part not in given and parts._freq < finer_than:
            implied[part] = getattr(dtstart, part.removeprefix("by"))
    anchored: RecurrenceRule = parts.replace(
        dtstart=anchor.replace(tzinfo=ZoneInfo(zone_name)), cache=False, **implied
    )
    return anchored


@dataclass(frozen=True)
class Schedule:
    """An RRULE anchored at a local DTSTART, minus EXDATEs; where it fires depends on the zone
    it is read in (the member's own, or the community's for pinned rituals)."""

    rrule: str
    dtstart: datetime
    exdates: tuple[datetime, ...] = ()
    _exdate_set: frozenset[datetime] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.dtstart.tzinfo is not None:
            raise ScheduleError("DTSTART must be naive local wall time")
        object.__setattr__(self, "_exdate_set", frozenset(self.exdates))
        _compiled(self.rrule, self.dtstart, "UTC")  # fail now, not at the first tick

    def occurrences_after(self, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
        """UTC instants strictly after ``after``, in order, each once."""
        if after.tzinfo is None:
            raise ValueError("after must be an aware instant")
        after_utc = after.astimezone(UTC)
        rule = _compiled(self.rrule, self.dtstart, zone.key)
        first_possible = self.dtstart.replace(tzinfo=zone).astimezone(UTC)
        start = (max(after_utc, first_possible) - _SEARCH_MARGIN).astimezone(zone)
        counted: Any = rule  # COUNT counts from DTSTART: such rules are read whole
        if counted._count is None:
            anchor = _anchor(rule, self.dtstart, start.replace(tzinfo=None))
            if anchor is not None:
                rule = _reanchored(self.rrule, self.dtstart, zone.key, anchor)
        previous: datetime | None = None
        for local in rule.xafter(start, inc=True):
            if local.replace(tzinfo=None) in self._exdate_set:
                continue
            try:
                instant = local.replace(fold=0).astimezone(UTC)
            except OverflowError:
                return  # 9999-12-31 local is past the last UTC instant Python can hold: no more
            if instant <= after_utc or (previous is not None and instant <= previous):
                continue
            previous = instant
            yield instant

    def next_after(self, zone: ZoneInfo, after: datetime) -> datetime | None:
        return next(self.occurrences_after(zone, after), None)

    def preview(self, zone: ZoneInfo, after: datetime, count: int) -> list[datetime]:
        return list(islice(self.occurrences_after(zone, after), count))

    def _start_instant(self) -> datetime:
        return self.dtstart.replace(tzinfo=UTC)  # wall time read in UTC, as _compiled is

    def require_occurrence(self) -> None:
        """Refuse a rule with no occurrence in its first ``FIRST_OCCURRENCE_YEARS`` years (one
        whose parts can never coincide is found at once); the search is bounded."""
        problem = occurrence_problem(self.rrule, self._start_instant(), FIRST_OCCURRENCE_YEARS)
        if problem is not None:
            raise ScheduleError(f"RRULE {problem}")

    def shortest_interval(self) -> timedelta | None:
        """The shortest wall-clock gap between consecutive occurrences (over a long sample:
        the first occurrences, up to ``FIRST_OCCURRENCE_YEARS`` years' worth)."""
        if _TOO_FREQUENT.search(self.rrule):
            return timedelta(0)
        sample = occurrences_within(self.rrule, self._start_instant(), FIRST_OCCURRENCE_YEARS)
        times = list(islice(sample, _INTERVAL_SAMPLE))
        gaps = [later - earlier for earlier, later in pairwise(times)]
        return min(gaps) if gaps else None

    def require_human_pace(self, minimum: timedelta) -> None:
        """Refuse schedules that would prompt a person more often than ``minimum``."""
        shortest = self.shortest_interval()
        if shortest is not None and shortest < minimum:
            raise ScheduleError(
                f"occurrences only {_describe(shortest)} apart; the minimum for a prompt to "
                f"a person is {_describe(minimum)}"
            )


def _describe(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds:
        return f"{seconds // 60} min"
    return f"{seconds} s"
