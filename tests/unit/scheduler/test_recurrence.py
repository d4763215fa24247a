"""RFC 5545 readings across DST; expectations computed by hand from the zones' rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_exdates_skip_exactly_those_local_occurrences() -> None:
    schedule = Schedule(
        "FREQ=WEEKLY;BYDAY=MO",
        datetime(2027, 12, 20, 9, 0),
        (datetime(2027, 12, 27, 9, 0),),
    )
    instants = schedule.preview(load_zone("Europe/London"), utc("2027-12-01T00:00Z"), 3)
    assert [i.date().isoformat() for i in instants] == ["2027-12-20", "2028-01-03", "2028-01-10"]


@pytest.mark.parametrize(
    ("rule", "minimum_h", "refused"),
    [
        ("FREQ=SECONDLY", 1, True),
        ("FREQ=MINUTELY;INTERVAL=90", 1, True),
        ("FREQ=HOURLY", 2, True),
        ("FREQ=HOURLY;INTERVAL=2", 2, False),
        ("FREQ=DAILY;BYHOUR=9,10", 2, True),
        ("FREQ=DAILY;BYHOUR=9,18", 2, False),
        ("FREQ=WEEKLY;BYDAY=MO,TU", 24, False),
    ],
)
def test_schedules_faster_than_a_human_pace_are_refused(
    rule: str, minimum_h: int, refused: bool
) -> None:
    schedule = Schedule(rule, datetime(2027, 1, 4, 9, 0))
    if refused:
        with pytest.raises(ScheduleError, match="minimum for a prompt"):
            schedule.require_human_pace(timedelta(hours=minimum_h))
    else:
        schedule.require_human_pace(timedelta(hours=minimum_h))


def test_until_must_be_utc_and_the_error_says_so() -> None:
    with pytest.raises(ScheduleError, match="UNTIL must be a UTC instant"):
        Schedule("FREQ=DAILY;UNTIL=20270201T090000", datetime(2027, 1, 1, 9, 0)).next_after(
            load_zone("Europe/London"), utc("2027-01-01T00:00Z")
        )


def test_until_and_count_end_the_schedule() -> None:
    zone = load_zone("Europe/Berlin")
    counted = Schedule("FREQ=DAILY;COUNT=2", datetime(2027, 1, 1, 9, 0))
    assert len(counted.preview(zone, utc("2026-12-31T00:00Z"), 10)) == 2
    until = Schedule("FREQ=DAILY;UNTIL=20270103T080000Z", datetime(2027, 1, 1, 9, 0))
    assert len(until.preview(zone, utc("2026-12-31T00:00Z"), 10)) == 3


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(
        [
            "America/New_York",
            "Europe/London",
            "Europe/Berlin",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "America/St_Johns",
        ]
    ),
    rule=st.sampled_from(
        ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TH", "FREQ=DAILY;INTERVAL=3", "FREQ=MONTHLY"]
    ),
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2029, 12, 31)),
)
def test_occurrences_strictly_increase_and_keep_their_wall_time(
    zone: str, rule: str, start: datetime
) -> None:
    start = start.replace(second=0, microsecond=0)
    schedule = Schedule(rule, start)
    tz = load_zone(zone)
    instants = schedule.preview(tz, start.replace(tzinfo=tz) - timedelta(days=3), 60)
    assert instants == sorted(set(instants))
    for instant in instants:
        local = instant.astimezone(tz)
        # The wall time is the rule's, or later by the gap it fell into (at most 1 h).
        wanted = local.replace(hour=start.hour, minute=start.minute)
        assert (
            timedelta(0)
            <= local.replace(tzinfo=None) - wanted.replace(tzinfo=None)
            <= (timedelta(hours=1))
        )


def test_a_schedule_ends_where_the_calendar_does_instead_of_overflowing() -> None:
    # 9999-12-31 23:00 in Adak (UTC-10) is a UTC instant in year 10000, which Python can't hold.
    schedule = Schedule("FREQ=YEARLY;INTERVAL=7000", datetime(2999, 12, 31, 23, 0))
    adak = load_zone("America/Adak")
    assert schedule.preview(adak, datetime(2026, 1, 1, tzinfo=UTC), 5) == [
        datetime(3000, 1, 1, 9, 0, tzinfo=UTC)
    ]
    assert schedule.next_after(adak, datetime(3001, 1, 1, tzinfo=UTC)) is None
