"""Editing, pausing, resuming and deleting rituals; members leaving and moving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.scheduler.harness import SchedulerHarness, member

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def _set_up(scheduler: SchedulerHarness) -> None:
    await scheduler.community()
    await scheduler.ritual(rrule="FREQ=DAILY", dtstart="2027-01-04T09:00")
    await scheduler.enrol(member(1))


async def test_an_edit_after_an_occurrence_does_not_re_fire_it(
    scheduler: SchedulerHarness,
) -> None:
    await _set_up(scheduler)
    scheduler.clock.set(MONDAY_0900)
    await scheduler.tick()
    # Same day, 09:30: move the ritual to 09:15 (and so bump its version).
    scheduler.clock.set(MONDAY_0900 + timedelta(minutes=30))
    response = await scheduler.http.patch(
        "/v1/rituals/monday", json={"dtstart": "2027-01-04T09:15"}
    )
    assert response.json()["version"] == 2
    for minutes in range(30, 24 * 60 + 30, 15):
        scheduler.clock.set(MONDAY_0900 + timedelta(minutes=minutes))
        await scheduler.tick()
    fired = [(e.occurrence_at, e.ritual_version) for e in scheduler.due_events()]
    assert fired == [
        (MONDAY_0900, 1),
        (datetime(2027, 1, 5, 9, 15, tzinfo=UTC), 2),
    ]


async def test_an_occurrence_due_at_the_moment_of_an_edit_is_sent_under_the_old_version(
    scheduler: SchedulerHarness,
) -> None:
    await _set_up(scheduler)
    scheduler.clock.set(MONDAY_0900 + timedelta(seconds=2))  # due, but no tick yet
    await scheduler.http.patch("/v1/rituals/monday", json={"title": "Daily hello"})
    await scheduler.tick()
    assert [(e.occurrence_at, e.ritual_version) for e in scheduler.due_events()] == [
        (MONDAY_0900, 1)
    ]


async def test_pause_skips_and_resume_does_not_send_a_backlog(scheduler: SchedulerHarness) -> None:
    await _set_up(scheduler)
    scheduler.clock.set(MONDAY_0900 - timedelta(hours=1))
    assert (await scheduler.http.post("/v1/rituals/monday/pause")).json()["active"] is False
    for day in range(3):
        scheduler.clock.set(MONDAY_0900 + timedelta(days=day))
        await scheduler.tick()
    assert scheduler.due_events() == []
    scheduler.clock.set(MONDAY_0900 + timedelta(days=2, hours=1))
    assert (await scheduler.http.post("/v1/rituals/monday/resume")).json()["active"] is True
    scheduler.clock.set(MONDAY_0900 + timedelta(days=3))
    await scheduler.tick()
    assert [e.occurrence_at for e in scheduler.due_events()] == [MONDAY_0900 + timedelta(days=3)]
    assert (await scheduler.http.post("/v1/rituals/monday/resume")).status_code == 409


async def test_deleting_a_ritual_stops_it(scheduler: SchedulerHarness) -> None:
    await _set_up(scheduler)
    assert (await scheduler.http.delete("/v1/rituals/monday")).status_code == 204
    scheduler.clock.set(MONDAY_0900)
    await scheduler.tick()
    assert scheduler.due_events() == []
    assert (await scheduler.http.get("/v1/rituals/monday")).status_code == 404


async def test_exdates_added_by_an_edit_are_skipped(scheduler: SchedulerHarness) -> None:
    await _set_up(scheduler)
    await scheduler.http.patch("/v1/rituals/monday", json={"exdates": ["2027-01-05T09:00"]})
    for day in range(3):
        scheduler.clock.set(MONDAY_0900 + timedelta(days=day))
        await scheduler.tick()
    assert [e.occurrence_at.day for e in scheduler.due_events()] == [4, 6]


async def test_a_member_who_moves_gets_their_new_local_time_once_a_day(
    scheduler: SchedulerHarness,
) -> None:
    await _set_up(scheduler)
    await scheduler.enrol(member(2))
    scheduler.clock.set(MONDAY_0900)
    await scheduler.tick()
    response = await scheduler.http.patch(
        f"/v1/enrolments/riverside/{member(2)}", json={"timezone": "America/New_York"}
    )
    assert response.status_code == 200
    for hours in range(1, 30):
        scheduler.clock.set(MONDAY_0900 + timedelta(hours=hours))
        await scheduler.tick()
    moved = [e for e in scheduler.due_events() if e.member_id == member(2)]
    # Monday 09:00 in New York is the occurrence they already had in London: same event id,
    # dropped by JetStream's duplicate window and by the notifier's delivery ledger.
    assert [e.occurrence_at for e in moved] == [
        MONDAY_0900,
        datetime(2027, 1, 4, 14, 0, tzinfo=UTC),
        datetime(2027, 1, 5, 14, 0, tzinfo=UTC),  # Tuesday 09:00 in New York
    ]
    assert moved[0].event_id == moved[1].event_id
    assert len({e.event_id for e in moved}) == 2


async def test_a_member_who_leaves_gets_nothing_more(scheduler: SchedulerHarness) -> None:
    await _set_up(scheduler)
    assert (await scheduler.http.delete(f"/v1/enrolments/riverside/{member(1)}")).status_code == 204
    scheduler.clock.set(MONDAY_0900)
    result = await scheduler.tick()
    assert scheduler.due_events() == []
    assert result.retired_cursors == 1
