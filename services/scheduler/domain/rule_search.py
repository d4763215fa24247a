"""Searches of a recurrence rule that cannot walk the calendar for long, whatever the rule.

dateutil's ``rrule`` walks period by period (day by day for FREQ=DAILY) and stops only at an
occurrence or at the end of year 9999: a rule that never occurs, such as
``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``, walked some 8,000 years (seconds on the event loop)
before it was accepted. Every search here is bounded by counting calendar years:

- ``occurrences_within`` searches a copy of the rule moved forward by whole 400-year
  Gregorian cycles (the calendar, leap years and weekdays included, repeats exactly every 400
  years, so the copy's occurrences are the rule's, moved), as close to the end of the calendar
  as the search allows: dateutil's walk then ends at 9999-12-31, after at most ``years`` + 400
  years of periods, however the rule is written.
- ``occurrence_problem`` first looks for dates alone: the rule's BYMONTH, BYMONTHDAY, BYYEARDAY,
  BYWEEKNO and BYDAY parts (with what it takes from DTSTART), searched as a yearly rule, one
  period a year instead of one a day. Dates that can never coincide (day 30 of February, week
  1 in June, the fifth Monday in a week) are found in one 400-year cycle, a few hundred short
  periods; then the rule itself must occur within the years allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from math import prod

from dateutil import parser as date_parser
from dateutil.rrule import rrulestr

CYCLE_YEARS = 400  # the Gregorian calendar repeats exactly: 146,097 days, 20,871 weeks
LAST_YEAR = 9999  # dateutil's walk ends with the calendar Python has
_DATE_PARTS = ("BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYDAY")
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
# The most days one period of each frequency spans (BYSETPOS picks among their times).
_DAYS_PER_PERIOD = {"YEARLY": 366, "MONTHLY": 31, "WEEKLY": 7, "DAILY": 1}
_NTH = re.compile(r"^[+-]?\d+")


def rule_parts(rule_text: str) -> dict[str, str]:
    """``NAME=VALUE`` parts of an RRULE that dateutil accepted, upper-cased as dateutil reads
    them."""
    text = rule_text.strip().upper().removeprefix("RRULE:")
    return dict(pair.split("=", 1) for pair in text.split(";"))


def occurrences_within(rule_text: str, dtstart: datetime, years: int) -> Iterator[datetime]:
    """The occurrences of the rule anchored at ``dtstart`` (an aware instant) in the ``years``
    years from it, in order. The walk behind it spans at most ``years`` + 400 years."""
    shift = CYCLE_YEARS * max(0, (LAST_YEAR - years - dtstart.year) // CYCLE_YEARS)
    parts = rule_parts(rule_text)
    if "UNTIL" in parts:
        until = _moved(date_parser.parse(parts.pop("UNTIL")), shift)
        if until is not None:  # past the end of the calendar: the walk stops there anyway
            parts["UNTIL"] = until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved_start = _moved(dtstart, shift)
    assert moved_start is not None  # shift keeps dtstart's year at or below LAST_YEAR
    end = _moved(dtstart, years)
    for occurrence in rrulestr(_text(parts), dtstart=moved_start):
        original = _moved(occurrence, -shift)
        assert original is not None
        if end is not None and original >= end:
            return
        yield original


def occurrence_problem(rule_text: str, dtstart: datetime, years: int) -> str | None:
    """Why the rule has no occurrence in the ``years`` after ``dtstart`` (an aware instant),
    in words that quote nothing of it; None when it has one."""
    parts = rule_parts(rule_text)
    if "BYEASTER" in parts:
        # dateutil's extension: Easter does not repeat in 400-year cycles, so it is not bounded.
        return "uses BYEASTER, which is not part of RFC 5545"
    if "UNTIL" in parts and _ends_before(parts["UNTIL"], dtstart):
        return "never occurs: its UNTIL is before DTSTART"
    if _setpos_beyond_every_period(parts):
        return "never occurs: BYSETPOS asks for more occurrences than one period can have"
    dates = _dates_alone(parts, dtstart)
    if dates is not None and not _any_within(dates, dtstart, years):
        cycle_start = datetime(LAST_YEAR - CYCLE_YEARS + 1, 1, 1, tzinfo=UTC)
        if not _any_within(dates, cycle_start, CYCLE_YEARS):
            return (
                "never occurs: no date satisfies its BYMONTH, BYMONTHDAY, BYYEARDAY, BYWEEKNO "
                "and BYDAY parts (with the day DTSTART gives) together"
            )
        return f"has no occurrence in the {years} years after DTSTART"
    if not _any_within(rule_text, dtstart, years):
        return f"has no occurrence in the {years} years after DTSTART"
    return None


def _ends_before(until_text: str, dtstart: datetime) -> bool:
    """Whether UNTIL (a UTC instant, or a date: its midnight) is before ``dtstart``."""
    until = date_parser.parse(until_text)
    return until.replace(tzinfo=until.tzinfo or UTC) < dtstart


def _any_within(rule_text: str, dtstart: datetime, years: int) -> bool:
    return any(islice(occurrences_within(rule_text, dtstart, years), 1))


def _dates_alone(parts: dict[str, str], dtstart: datetime) -> str | None:
    """A yearly rule for the dates the rule can fall on (before INTERVAL, BYSETPOS, COUNT and
    UNTIL choose among them), or None when every date of its months can (nothing to search)."""
    freq = parts["FREQ"]
    dates = {name: parts[name] for name in ("BYMONTH", *_DATE_PARTS) if name in parts}
    if not any(name in dates for name in _DATE_PARTS):
        # RFC 5545: what a rule leaves out comes from DTSTART (dateutil's reading too).
        if freq == "YEARLY":
            dates.setdefault("BYMONTH", str(dtstart.month))
            dates["BYMONTHDAY"] = str(dtstart.day)
        elif freq == "MONTHLY":
            dates["BYMONTHDAY"] = str(dtstart.day)
        else:  # WEEKLY's weekday falls in every month; DAILY and finer take every date
            return None
    if "BYDAY" in dates:
        if freq not in ("YEARLY", "MONTHLY"):  # dateutil reads 2MO as MO below MONTHLY
            dates["BYDAY"] = ",".join(_NTH.sub("", day) for day in dates["BYDAY"].split(","))
        elif freq == "MONTHLY":  # a yearly rule counts 2MO within each of BYMONTH's months
            dates.setdefault("BYMONTH", ",".join(str(month) for month in range(1, 13)))
    kept = {name: parts[name] for name in ("WKST", *_TIME_PARTS) if name in parts}
    return _text({"FREQ": "YEARLY", **dates, **kept})


def _setpos_beyond_every_period(parts: dict[str, str]) -> bool:
    """BYSETPOS counts within one period; every position it names is past the most
    occurrences a period of this frequency can hold."""
    if "BYSETPOS" not in parts:
        return False
    freq = parts["FREQ"]
    finer = _TIME_PARTS[1:] if freq == "HOURLY" else _TIME_PARTS  # an hour's times
    times = prod(len(parts[name].split(",")) for name in finer if name in parts)
    most = _DAYS_PER_PERIOD.get(freq, 1) * times
    return all(abs(int(position)) > most for position in parts["BYSETPOS"].split(","))


def _moved(moment: datetime, years: int) -> datetime | None:
    """``moment`` that many years later (29 February becomes 28 February outside leap years;
    whole 400-year cycles keep it); None past the end of the calendar."""
    year = moment.year + years
    if year > LAST_YEAR:
        return None
    try:
        return moment.replace(year=year)
    except ValueError:
        return moment.replace(year=year, day=28)


def _text(parts: dict[str, str]) -> str:
    return ";".join(f"{name}={value}" for name, value in parts.items())
