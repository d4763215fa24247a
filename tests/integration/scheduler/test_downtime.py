"""After an outage: within the misfire grace, late and marked late; beyond it, recorded as
missed and not sent in a burst."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.scheduler.harness import SchedulerHarness, member

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def test_an_occurrence_missed_by_less_than_the_grace_is_sent_late(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual(misfire_grace_minutes=120)
    await scheduler.enrol(member(1))
    scheduler.clock.set(MONDAY_0900 + timedelta(minutes=90))  # down from 08:59 to 10:30
    result = await scheduler.tick()
    (event,) = scheduler.due_events()
    assert event.late is True
    assert event.occurrence_at == MONDAY_0900
    assert (result.emitted, result.emitted_late, result.missed) == (1, 1, 0)


async def test_older_occurrences_are_recorded_as_missed_not_sent(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual(rrule="FREQ=DAILY", misfire_grace_minutes=60)
    await scheduler.enrol(member(1))
    await scheduler.enrol(member(2))
    # Down for ten days; back at 09:30 on the 11th day: only that day's occurrence is in grace.
    scheduler.clock.set(MONDAY_0900 + timedelta(days=10, minutes=30))
    result = await scheduler.tick()
    events = scheduler.due_events()
    assert {e.occurrence_at for e in events} == {MONDAY_0900 + timedelta(days=10)}
    assert all(e.late for e in events)
    assert (result.emitted, result.missed) == (2, 20)
    missed = (await scheduler.http.get("/v1/rituals/monday/missed")).json()["items"]
    assert len(missed) == 10
    assert {m["members"] for m in missed} == {2}
    # And the schedule carries on normally.
    scheduler.clock.set(MONDAY_0900 + timedelta(days=11))
    await scheduler.tick()
    assert len(scheduler.due_events()) == 4


async def test_a_tick_on_time_is_not_marked_late(scheduler: SchedulerHarness) -> None:
    await scheduler.community()
    await scheduler.ritual()
    await scheduler.enrol(member(1))
    scheduler.clock.set(MONDAY_0900 + timedelta(seconds=5))
    await scheduler.tick()
    assert [e.late for e in scheduler.due_events()] == [False]
