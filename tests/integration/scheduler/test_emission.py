"""What the tick emits: each member's occurrence once, at the member's own local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.scheduler.harness import SchedulerHarness, member

MONDAY_0900_LONDON = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def test_every_monday_0900_fires_where_each_member_lives(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual()
    await scheduler.enrol(member(1))  # the community's zone: London
    await scheduler.enrol(member(2), "America/New_York")
    await scheduler.enrol(member(3), "Asia/Kathmandu")
    fired: dict[str, list[str]] = {}
    for quarter in range(4 * 24 * 9):  # nine days in 15-minute ticks
        scheduler.clock.set(
            datetime(2027, 1, 3, 12, 0, tzinfo=UTC) + timedelta(minutes=15 * quarter)
        )
        await scheduler.tick()
    for event in scheduler.due_events():
        fired.setdefault(event.member_id, []).append(event.occurrence_at.isoformat())
        assert not event.late
    assert fired == {
        member(1): ["2027-01-04T09:00:00+00:00", "2027-01-11T09:00:00+00:00"],
        member(2): ["2027-01-04T14:00:00+00:00", "2027-01-11T14:00:00+00:00"],
        member(3): ["2027-01-04T03:15:00+00:00", "2027-01-11T03:15:00+00:00"],
    }
    assert len({e.event_id for e in scheduler.due_events()}) == 6


async def test_a_pinned_ritual_fires_at_one_instant_for_everyone(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual(pinned_to_community_zone=True, kind="group_event")
    await scheduler.enrol(member(1))
    await scheduler.enrol(member(2), "America/New_York")
    scheduler.clock.set(MONDAY_0900_LONDON)
    await scheduler.tick()
    events = scheduler.due_events()
    assert sorted(e.member_id for e in events) == [member(1), member(2)]
    assert {e.occurrence_at for e in events} == {MONDAY_0900_LONDON}
    assert {e.timezone for e in events} == {"Europe/London"}


async def test_ticking_again_at_the_same_instant_emits_nothing_more(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual()
    await scheduler.enrol(member(1))
    scheduler.clock.set(MONDAY_0900_LONDON)
    first = await scheduler.tick()
    again = await scheduler.tick()
    assert (first.emitted, again.emitted) == (1, 0)
    assert len(scheduler.due_events()) == 1


async def test_event_ids_are_deterministic_and_carry_the_ritual_version(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual()
    await scheduler.enrol(member(1))
    scheduler.clock.set(MONDAY_0900_LONDON)
    await scheduler.tick()
    (event,) = scheduler.due_events()
    from shared.contracts import deterministic_event_id

    assert event.event_id == deterministic_event_id(
        "ritual.due", "monday", member(1), "2027-01-04T09:00", 1
    )
    assert event.respond_by == MONDAY_0900_LONDON + timedelta(hours=24)
    assert event.occurrence_local_date.isoformat() == "2027-01-04"


async def test_a_tick_reads_only_due_schedule_rows(scheduler: SchedulerHarness) -> None:
    await scheduler.community()
    for n in range(30):  # 30 rituals, only one of which is due on Monday
        await scheduler.ritual(
            id=f"r{n:02d}", rrule="FREQ=WEEKLY;BYDAY=TU" if n else "FREQ=WEEKLY;BYDAY=MO"
        )
    await scheduler.enrol(member(1))
    scheduler.clock.set(MONDAY_0900_LONDON)
    result = await scheduler.tick()
    assert result.cursors == 1
    assert result.occurrences == 1
