"""Time slots: which lists an operator may give, and where each slot's occurrences fall (the
rule's days at the slot's local time, DST-correct; expectations computed by hand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from services.scheduler.domain.recurrence import load_zone
from services.scheduler.domain.ritual import NudgePolicy, Ritual
from services.scheduler.domain.schedule_check import ScheduleFieldError, check_schedule
from shared.contracts import RitualKind

HOUR = timedelta(hours=1)
DAILY = "FREQ=DAILY"


def ritual(slots: tuple[str, ...], exdates: tuple[str, ...] = ()) -> Ritual:
    return Ritual(
        id="evening",
        community_id="riverside",
        community_timezone="Europe/London",
        kind=RitualKind.check_in,
        rrule=DAILY,
        dtstart_local="2027-03-26T09:00",
        exdates=exdates,
        pinned_to_community_zone=False,
        template_key="check_in",
        response_window_s=3600,
        misfire_grace_s=3600,
        nudges=NudgePolicy(after=None, max_nudges=0),
        version=1,
        active=True,
        time_slots=slots,
    )


def occurrences(subject: Ritual, slot: int, zone: str, n: int = 3) -> list[str]:
    after = datetime(2027, 3, 26, tzinfo=UTC)
    found = subject.schedule_for(slot).occurrences_after(load_zone(zone), after)
    return [instant.strftime("%Y-%m-%dT%H:%MZ") for instant in islice(found, n)]


@pytest.mark.parametrize(
    ("slots", "message"),
    [
        (["09:00", "12:00", "18:00", "21:00"], "give 1 to 3 time slots"),
        (["9:00"], "time slot 1 must be a local time of day as HH:MM"),
        (["09:00", "24:00"], "time slot 2 must be a local time of day as HH:MM"),
        (["09:00", "18:00:00"], "time slot 2 must be a local time of day as HH:MM"),
        (["18:00", "18:00"], "time slots must be distinct"),
    ],
)
def test_a_bad_slot_list_is_refused_naming_the_field(slots: list[str], message: str) -> None:
    with pytest.raises(ScheduleFieldError) as refused:
        check_schedule(DAILY, "2027-01-04T09:00", [], HOUR, slots)
    assert refused.value.field == "time_slots"
    assert message in str(refused.value)


@pytest.mark.parametrize("rule", ["FREQ=DAILY;BYHOUR=9", "FREQ=WEEKLY;BYMINUTE=30", "FREQ=HOURLY"])
def test_slots_are_refused_for_a_rule_that_sets_its_own_time_of_day(rule: str) -> None:
    with pytest.raises(ScheduleFieldError) as refused:
        check_schedule(rule, "2027-01-04T09:00", [], timedelta(0), ["09:00", "18:00"])
    assert refused.value.field == "time_slots"
    assert "fires at DTSTART's time of day" in str(refused.value)


def test_up_to_three_distinct_slots_pass_and_none_is_no_slots() -> None:
    check_schedule(
        "FREQ=WEEKLY;BYDAY=MO", "2027-01-04T09:00", [], HOUR, ["07:30", "12:00", "18:00"]
    )
    check_schedule("FREQ=DAILY;BYHOUR=9", "2027-01-04T09:00", [], HOUR, [])


def test_each_slot_keeps_its_local_time_across_the_spring_forward_in_london() -> None:
    # 2027-03-28 01:00 GMT the clocks go to 02:00 BST (UTC+1).
    evening = ritual(("09:00", "18:00"))
    assert occurrences(evening, 0, "Europe/London") == [
        "2027-03-26T09:00Z",
        "2027-03-27T09:00Z",
        "2027-03-28T08:00Z",
    ]
    assert occurrences(evening, 1, "Europe/London") == [
        "2027-03-26T18:00Z",
        "2027-03-27T18:00Z",
        "2027-03-28T17:00Z",
    ]


def test_a_slot_in_the_gap_is_read_with_the_offset_before_it() -> None:
    # 01:30 does not exist on 2027-03-28 in London: 01:30 GMT = 01:30Z (02:30 BST).
    night = ritual(("09:00", "01:30"))
    assert occurrences(night, 1, "Europe/London", 4) == [
        "2027-03-26T01:30Z",
        "2027-03-27T01:30Z",
        "2027-03-28T01:30Z",
        "2027-03-29T00:30Z",
    ]


def test_a_slot_is_read_in_the_members_zone() -> None:
    # New York is on EDT (UTC-4) by then: 18:00 local = 22:00Z.
    assert occurrences(ritual(("09:00", "18:00")), 1, "America/New_York", 1) == [
        "2027-03-26T22:00Z"
    ]


def test_an_exdate_skips_its_day_at_every_slot() -> None:
    skipping = ritual(("09:00", "18:00"), exdates=("2027-03-27T09:00",))
    assert occurrences(skipping, 1, "UTC", 2) == ["2027-03-26T18:00Z", "2027-03-28T18:00Z"]


def test_without_slots_the_one_slot_is_dtstarts_time() -> None:
    plain = ritual(())
    assert plain.slot_count == 1
    assert occurrences(plain, 0, "UTC", 1) == ["2027-03-26T09:00Z"]
    with pytest.raises(IndexError):
        plain.schedule_for(1)


def test_a_member_has_the_slot_they_chose_while_it_is_offered_else_the_default() -> None:
    offered = ritual(("09:00", "18:00"))
    assert [offered.slot_of(chosen) for chosen in ("18:00", "09:00", None, "20:00")] == [1, 0, 0, 0]


def test_due_events_carry_the_slots_and_differ_per_slot_on_one_day() -> None:
    evening = ritual(("09:00", "18:00"))
    at_nine = datetime(2027, 3, 26, 9, tzinfo=UTC)
    at_six = datetime(2027, 3, 26, 18, tzinfo=UTC)
    member = "mbr_member000000000001"
    first = evening.due_event(member, "UTC", at_nine, at_nine, late=False)
    second = evening.due_event(member, "UTC", at_six, at_six, late=False)
    assert first.time_slots == ["09:00", "18:00"]
    assert first.event_id != second.event_id
