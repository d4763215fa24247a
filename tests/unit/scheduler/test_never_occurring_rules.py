"""A schedule that never occurs (or not for years) is refused with a 422 naming ``rrule``, and
every search behind that answer is bounded: counted in calendar periods, never timed."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr
from fastapi.exceptions import RequestValidationError

from services.scheduler.api.validation import checked_schedule
from services.scheduler.domain.recurrence import FIRST_OCCURRENCE_YEARS, Schedule, ScheduleError
from services.scheduler.domain.rule_search import occurrences_within

HOUR = timedelta(hours=1)
START = "2027-01-04T09:00"

NEVER = [
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # the reported one
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=HOURLY;BYMONTH=4,6,9,11;BYMONTHDAY=31",
    "FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=-30",
    "FREQ=MONTHLY;BYMONTH=2",  # its day comes from DTSTART: see below (the 30th)
    "FREQ=YEARLY;BYYEARDAY=1;BYMONTH=2",
    "FREQ=YEARLY;BYYEARDAY=-1;BYMONTHDAY=30",
    "FREQ=YEARLY;BYWEEKNO=1;BYMONTH=6",
    "FREQ=YEARLY;BYWEEKNO=53;BYMONTH=5",
    "FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=8",
    "FREQ=YEARLY;BYMONTH=3;BYDAY=5MO;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14",
    "FREQ=DAILY;BYSETPOS=2",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
    "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # every 7th day from a Monday is a Monday
    "FREQ=DAILY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29",  # 29 Februaries are 1461k days apart
    "FREQ=MONTHLY;INTERVAL=12;BYMONTH=3",  # every January
    "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",  # 2027, 2031, …: never a leap year
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",  # next in 2044: more than 10 years away
    "FREQ=DAILY;UNTIL=20000101T000000Z",  # ended before it began
    "FREQ=DAILY;BYEASTER=0",  # dateutil's extension, not RFC 5545: refused
]


def _dtstart(rule: str) -> str:
    return "2027-01-30T09:00" if rule == "FREQ=MONTHLY;BYMONTH=2" else START


@pytest.mark.parametrize("rule", NEVER)
def test_a_rule_that_never_occurs_is_a_422_naming_the_rrule(rule: str) -> None:
    with pytest.raises(RequestValidationError) as refused:
        checked_schedule(rule, _dtstart(rule), [], HOUR)
    (error,) = refused.value.errors()
    assert error["loc"] == ("body", "rrule")
    assert error["msg"].startswith("RRULE ")
    assert any(
        words in error["msg"]
        for words in ("never occurs", "no occurrence in the 10 years", "BYEASTER")
    ), error["msg"]
    for part in rule.split(";")[1:]:
        assert part not in error["msg"]  # the reason is in words; the input is not echoed


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=YEARLY;BYWEEKNO=1;BYMONTH=6",
        "FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=8",
    ],
)
def test_dates_that_can_never_coincide_are_named_as_such(rule: str) -> None:
    with pytest.raises(ScheduleError, match="never occurs: no date satisfies"):
        Schedule(rule, datetime.fromisoformat(START)).require_occurrence()


@pytest.mark.parametrize(
    ("rule", "dtstart"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", START),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29", START),  # first in 2028
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "2097-03-01T09:00"),  # 2100 is not leap: 2104
        ("FREQ=MONTHLY;BYMONTHDAY=31", START),
        ("FREQ=MONTHLY;BYDAY=-1FR", START),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=5", START),  # months with five Mondays
        ("FREQ=YEARLY;BYWEEKNO=53;BYDAY=TH", START),  # 2032 has an ISO week 53
        ("FREQ=YEARLY;BYWEEKNO=1;BYMONTH=12;BYDAY=MO", START),  # Monday 29 Dec 2031
        ("FREQ=DAILY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29", "2028-02-26T09:00"),
        ("FREQ=YEARLY;INTERVAL=7972", START),
        ("FREQ=DAILY;COUNT=2", START),
        ("FREQ=DAILY;UNTIL=20270201T090000Z", START),
        ("FREQ=WEEKLY;INTERVAL=99999999999", START),
    ],
)
def test_rules_that_occur_within_the_years_allowed_are_accepted(rule: str, dtstart: str) -> None:
    checked_schedule(rule, dtstart, [], HOUR)


def _months_walked(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Counts the months dateutil walks through: a FREQ=DAILY walk asks
    ``calendar.monthrange`` for the length of each month it walks into."""
    months: set[tuple[int, int]] = set()
    monthrange = calendar.monthrange

    def counted(year: int, month: int) -> tuple[int, int]:
        months.add((year, month))
        return monthrange(year, month)

    monkeypatch.setattr(calendar, "monthrange", counted)
    return lambda: len(months)


def test_a_rule_that_never_occurs_is_searched_for_at_most_one_calendar_cycle_and_its_years(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its dates exist (29 February), so only the rule's own walk can refuse it: from 2027
    # dateutil would walk to 9999, some 96,000 months.
    rule = "FREQ=DAILY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29"
    walked = _months_walked(monkeypatch)
    with pytest.raises(RequestValidationError):
        checked_schedule(rule, START, [], HOUR)
    assert 0 < walked() <= 12 * (400 + FIRST_OCCURRENCE_YEARS)


def test_a_rare_rule_is_sampled_for_its_pace_over_its_first_years_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 29 February every day it exists: 400 occurrences would take 1,600 years of walking.
    walked = _months_walked(monkeypatch)
    # A start no other test uses: the old code sampled a cached rule, walked once per process.
    schedule = Schedule("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29", datetime(2026, 3, 1, 7, 15))
    assert schedule.shortest_interval() == timedelta(days=366 + 365 * 3)
    # Up to the first occurrence past those years: at most 8 years on (2096 to 2104).
    assert walked() <= 12 * (FIRST_OCCURRENCE_YEARS + 8)


CASES = [
    "FREQ=DAILY",
    "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR",
    "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=9,18",
    "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1",
    "FREQ=YEARLY;BYWEEKNO=1,53;BYDAY=MO",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=DAILY;INTERVAL=5;COUNT=40",
    "FREQ=DAILY;UNTIL=20290301T000000Z",
    "FREQ=HOURLY;INTERVAL=7;BYDAY=SA",
]


@pytest.mark.parametrize("rule", CASES)
@pytest.mark.parametrize(
    "dtstart",
    [
        datetime(2027, 1, 4, 9, 0, tzinfo=UTC),
        datetime(2028, 2, 29, 9, 0, tzinfo=UTC),
        datetime(2099, 11, 30, 23, 30, tzinfo=UTC),  # across 2100, not a leap year
        datetime(9993, 6, 1, 9, 0, tzinfo=UTC),  # too near the end to move
    ],
)
def test_the_moved_search_finds_exactly_the_rules_occurrences(rule: str, dtstart: datetime) -> None:
    years = 3
    end = _years_later(dtstart, years)
    direct = []
    for occurrence in rrulestr(rule, dtstart=dtstart):
        if occurrence >= end:
            break
        direct.append(occurrence)
    assert list(occurrences_within(rule, dtstart, years)) == direct


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
