"""Daily 09:00 and 02:30 rituals across 2027's DST changes, against expectations worked out by
hand from each zone's rules (not from the code under test):

- America/New_York  EST -5 / EDT -4: forward Sun 14 Mar 02:00->03:00, back Sun 7 Nov 02:00->01:00
- Europe/London     GMT 0 / BST +1:  forward Sun 28 Mar 01:00->02:00, back Sun 31 Oct 02:00->01:00
- Europe/Berlin     CET +1 / CEST +2: forward Sun 28 Mar 02:00->03:00, back Sun 31 Oct 03:00->02:00
- Australia/Sydney  AEST +10 / AEDT +11: back Sun 4 Apr 03:00->02:00, forward Sun 3 Oct 02:00->03:00
- Australia/Lord_Howe +10:30 / +11 (a 30-minute shift): back Sun 4 Apr 02:00->01:30,
  forward Sun 3 Oct 02:00->02:30
- Asia/Kathmandu    +05:45, no DST

RFC 5545: a local time in a gap is read with the offset before the gap; a repeated local time
fires once, at its first occurrence.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from services.scheduler.preview import preview_instants
from shared.contracts.base import utc_iso


def preview_utc(
    rrule: str, dtstart: str, tz: str, after: str | None, count: int, exdates: list[str]
) -> list[str]:
    """The preview's UTC column (``rituals schedule preview`` prints the local time beside)."""
    return [
        utc_iso(instant) for instant in preview_instants(rrule, dtstart, tz, after, count, exdates)
    ]


CASES = [
    # zone, local time, first local day, expected UTC instants for that day and the next two
    ("America/New_York", "09:00", "2027-03-13", ["03-13T14:00", "03-14T13:00", "03-15T13:00"]),
    ("America/New_York", "02:30", "2027-03-13", ["03-13T07:30", "03-14T07:30", "03-15T06:30"]),
    ("America/New_York", "09:00", "2027-11-06", ["11-06T13:00", "11-07T14:00", "11-08T14:00"]),
    ("America/New_York", "02:30", "2027-11-06", ["11-06T06:30", "11-07T07:30", "11-08T07:30"]),
    ("America/New_York", "01:30", "2027-11-06", ["11-06T05:30", "11-07T05:30", "11-08T06:30"]),
    ("Europe/London", "09:00", "2027-03-27", ["03-27T09:00", "03-28T08:00", "03-29T08:00"]),
    ("Europe/London", "02:30", "2027-03-27", ["03-27T02:30", "03-28T01:30", "03-29T01:30"]),
    ("Europe/London", "01:30", "2027-03-27", ["03-27T01:30", "03-28T01:30", "03-29T00:30"]),
    ("Europe/London", "09:00", "2027-10-30", ["10-30T08:00", "10-31T09:00", "11-01T09:00"]),
    ("Europe/London", "02:30", "2027-10-30", ["10-30T01:30", "10-31T02:30", "11-01T02:30"]),
    ("Europe/London", "01:30", "2027-10-30", ["10-30T00:30", "10-31T00:30", "11-01T01:30"]),
    ("Europe/Berlin", "09:00", "2027-03-27", ["03-27T08:00", "03-28T07:00", "03-29T07:00"]),
    ("Europe/Berlin", "02:30", "2027-03-27", ["03-27T01:30", "03-28T01:30", "03-29T00:30"]),
    ("Europe/Berlin", "09:00", "2027-10-30", ["10-30T07:00", "10-31T08:00", "11-01T08:00"]),
    ("Europe/Berlin", "02:30", "2027-10-30", ["10-30T00:30", "10-31T00:30", "11-01T01:30"]),
    ("Australia/Sydney", "09:00", "2027-04-03", ["04-02T22:00", "04-03T23:00", "04-04T23:00"]),
    ("Australia/Sydney", "02:30", "2027-04-03", ["04-02T15:30", "04-03T15:30", "04-04T16:30"]),
    ("Australia/Sydney", "09:00", "2027-10-02", ["10-01T23:00", "10-02T22:00", "10-03T22:00"]),
    ("Australia/Sydney", "02:30", "2027-10-02", ["10-01T16:30", "10-02T16:30", "10-03T15:30"]),
    ("Australia/Lord_Howe", "09:00", "2027-04-03", ["04-02T22:00", "04-03T22:30", "04-04T22:30"]),
    ("Australia/Lord_Howe", "02:30", "2027-04-03", ["04-02T15:30", "04-03T16:00", "04-04T16:00"]),
    ("Australia/Lord_Howe", "01:45", "2027-04-03", ["04-02T14:45", "04-03T14:45", "04-04T15:15"]),
    ("Australia/Lord_Howe", "09:00", "2027-10-02", ["10-01T22:30", "10-02T22:00", "10-03T22:00"]),
    ("Australia/Lord_Howe", "02:30", "2027-10-02", ["10-01T16:00", "10-02T15:30", "10-03T15:30"]),
    ("Australia/Lord_Howe", "02:15", "2027-10-02", ["10-01T15:45", "10-02T15:45", "10-03T15:15"]),
    ("Asia/Kathmandu", "09:00", "2027-03-27", ["03-27T03:15", "03-28T03:15", "03-29T03:15"]),
    ("Asia/Kathmandu", "02:30", "2027-10-30", ["10-29T20:45", "10-30T20:45", "10-31T20:45"]),
]


@pytest.mark.parametrize(("zone", "local_time", "first_day", "expected"), CASES)
def test_daily_ritual_across_dst(
    zone: str, local_time: str, first_day: str, expected: list[str]
) -> None:
    lines = preview_utc("FREQ=DAILY", f"{first_day}T{local_time}", zone, None, 3, [])
    assert lines == [f"2027-{instant}:00Z" for instant in expected]


def test_a_weekly_ritual_follows_each_members_zone_through_the_spring() -> None:
    # "Every Monday 09:00" for a member in London and one in New York, Feb to April 2027.
    london = preview_utc("FREQ=WEEKLY;BYDAY=MO", "2027-03-08T09:00", "Europe/London", None, 5, [])
    new_york = preview_utc(
        "FREQ=WEEKLY;BYDAY=MO", "2027-03-08T09:00", "America/New_York", None, 5, []
    )
    assert london == [
        "2027-03-08T09:00:00Z",
        "2027-03-15T09:00:00Z",
        "2027-03-22T09:00:00Z",
        "2027-03-29T08:00:00Z",
        "2027-04-05T08:00:00Z",
    ]
    assert new_york == [
        "2027-03-08T14:00:00Z",
        "2027-03-15T13:00:00Z",
        "2027-03-22T13:00:00Z",
        "2027-03-29T13:00:00Z",
        "2027-04-05T13:00:00Z",
    ]


def test_a_zone_that_skipped_a_day_fires_once_for_the_merged_day() -> None:
    # Samoa skipped Friday 30 Dec 2011 (UTC-10 -> UTC+14). 09:00 on the missing day is read
    # with the offset before the gap, which is the same instant as 09:00 on 31 Dec: once.
    assert preview_utc("FREQ=DAILY", "2011-12-28T09:00", "Pacific/Apia", None, 5, []) == [
        "2011-12-28T19:00:00Z",
        "2011-12-29T19:00:00Z",
        "2011-12-30T19:00:00Z",
        "2011-12-31T19:00:00Z",
        "2012-01-01T19:00:00Z",
    ]


def test_leap_day_yearly_ritual_fires_only_in_leap_years() -> None:
    lines = preview_utc(
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "2028-02-29T10:00", "UTC", None, 2, []
    )
    assert lines == ["2028-02-29T10:00:00Z", "2032-02-29T10:00:00Z"]


def test_results_do_not_depend_on_the_search_start() -> None:
    everything = preview_utc("FREQ=DAILY", "2027-03-01T02:30", "America/New_York", None, 40, [])
    for index, instant in enumerate(everything[:-1]):
        after = datetime.fromisoformat(instant.replace("Z", "+00:00")).isoformat()
        assert preview_utc("FREQ=DAILY", "2027-03-01T02:30", "America/New_York", after, 1, []) == [
            everything[index + 1]
        ]
