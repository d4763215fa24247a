"""RFC 5545 readings across DST; expectations computed by hand from the zones' rules."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest

from services.scheduler.domain.recurrence import Schedule, ScheduleError, load_zone


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def next_n(rule: str, dtstart: str, zone: str, after: str, n: int) -> list[str]:
    schedule = Schedule(rule, datetime.fromisoformat(dtstart))
    instants = islice(schedule.occurrences_after(load_zone(zone), utc(after)), n)
    return [i.strftime("%Y-%m-%dT%H:%M:%SZ") for i in instants]


def test_daily_0900_keeps_local_time_across_spring_forward_in_new_york() -> None:
    # 2027-03-14 is the US spring-forward Sunday: EST (UTC-5) before, EDT (UTC-4) after.
    assert next_n("FREQ=DAILY", "2027-03-12T09:00", "America/New_York", "2027-03-12T00:00Z", 4) == [
        "2027-03-12T14:00:00Z",
        "2027-03-13T14:00:00Z",
        "2027-03-14T13:00:00Z",
        "2027-03-15T13:00:00Z",
    ]


def test_a_nonexistent_local_time_is_read_with_the_offset_before_the_gap() -> None:
    # 02:30 does not exist on 2027-03-14 in New York; RFC 5545: 02:30 EST = 07:30Z (03:30 EDT).
    assert next_n("FREQ=DAILY", "2027-03-13T02:30", "America/New_York", "2027-03-13T00:00Z", 3) == [
        "2027-03-13T07:30:00Z",
        "2027-03-14T07:30:00Z",
        "2027-03-15T06:30:00Z",
    ]


def test_an_ambiguous_local_time_fires_once_at_its_first_occurrence() -> None:
    # 01:30 happens twice on 2027-11-07 in New York; fire once, at 01:30 EDT = 05:30Z.
    assert next_n("FREQ=DAILY", "2027-11-06T01:30", "America/New_York", "2027-11-06T00:00Z", 3) == [
        "2027-11-06T05:30:00Z",
        "2027-11-07T05:30:00Z",
        "2027-11-08T06:30:00Z",
    ]


def test_a_member_in_kathmandu_gets_09_00_at_plus_05_45() -> None:
    assert next_n(
        "FREQ=WEEKLY;BYDAY=MO", "2027-01-04T09:00", "Asia/Kathmandu", "2027-01-01T00:00Z", 2
    ) == ["2027-01-04T03:15:00Z", "2027-01-11T03:15:00Z"]


def test_occurrences_are_strictly_after_the_given_instant() -> None:
    assert next_n("FREQ=DAILY", "2027-01-01T09:00", "UTC", "2027-01-02T09:00Z", 1) == [
        "2027-01-03T09:00:00Z"
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=SOMETIMES", "invalid RRULE"),
        ("DTSTART:20270101T090000\nRRULE:FREQ=DAILY", "RRULE alone"),
        ("FREQ=DAILY;BYDAY=XX", "invalid RRULE"),
    ],
)
def test_invalid_rules_are_refused_with_a_reason(rule: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        Schedule(rule, datetime(2027, 1, 1, 9, 0))


def test_unknown_zones_are_refused_with_a_reason() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        load_zone("Mars/Olympus_Mons")


def test_results_are_utc() -> None:
    schedule = Schedule("FREQ=DAILY", datetime(2027, 1, 1, 9, 0))
    first = schedule.next_after(load_zone("Europe/Berlin"), utc("2027-01-01T00:00Z"))
    assert first is not None
    assert first.tzinfo == UTC
