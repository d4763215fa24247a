"""Time slots end to end in the scheduler: the operator lists them (API), a member picks one
(MemberRitualChoice), and each slot's cursor fires for its own members only, on a ManualClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.scheduler.handlers.member_choices import on_member_ritual_choice
from shared.contracts import MemberRitualChoiceV1, RitualChoice, keyed_event_id
from tests.integration.scheduler.harness import SchedulerHarness, member

# Mondays in London in January: GMT, so local times are UTC.
MONDAY = datetime(2027, 1, 4, tzinfo=UTC)
NINE, SIX_PM = MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=18)
SECRET = b"a-test-secret-of-16-bytes-or-more"


def slot_choice(who: str, slot: str | None, sequence: int, at: datetime) -> MemberRitualChoiceV1:
    return MemberRitualChoiceV1(
        event_id=keyed_event_id(SECRET, "ritual.member-choice", who, "monday", slot, sequence),
        occurred_at=at,
        member_id=who,
        ritual_id="monday",
        choice=RitualChoice.active,
        sequence=sequence,
        time_slot=slot,
    )


async def test_the_operator_lists_slots_and_bad_lists_get_a_422_naming_the_field(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    created = await scheduler.ritual(time_slots=["09:00", "18:00"])
    assert created["time_slots"] == ["09:00", "18:00"]
    for slots, reason in (
        (["09:00", "09:00"], "time slots must be distinct"),
        (["9 am"], "time slot 1 must be a local time of day as HH:MM"),
        (["07:00", "09:00", "12:00", "18:00"], "at most 3"),
    ):
        response = await scheduler.http.patch("/v1/rituals/monday", json={"time_slots": slots})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        errors = response.json()["errors"]
        assert any(
            "time_slots" in error["location"] and reason in error["message"] for error in errors
        ), errors
    refused = await scheduler.http.patch(
        "/v1/rituals/monday", json={"rrule": "FREQ=DAILY;BYHOUR=9"}
    )
    assert refused.status_code == 422, refused.text
    cleared = await scheduler.http.patch("/v1/rituals/monday", json={"time_slots": None})
    assert cleared.json()["time_slots"] == []
    assert (await scheduler.http.get("/v1/rituals/monday")).json()["time_slots"] == []


async def test_a_member_who_picks_slot_two_gets_it_and_not_slot_one(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual(time_slots=["09:00", "18:00"])
    await scheduler.enrol(member(1))
    await scheduler.enrol(member(2))
    before = MONDAY - timedelta(days=1)
    picked = slot_choice(member(2), "18:00", 0, before)
    assert await on_member_ritual_choice(scheduler.sessions, picked, before) == "applied"
    assert await on_member_ritual_choice(scheduler.sessions, picked, before) == "duplicate"

    scheduler.clock.set(NINE)
    await scheduler.tick()
    scheduler.clock.set(SIX_PM)
    await scheduler.tick()
    fired = [(e.member_id, e.occurrence_at, e.time_slots) for e in scheduler.due_events()]
    slots = ["09:00", "18:00"]
    assert fired == [(member(1), NINE, slots), (member(2), SIX_PM, slots)]
    preview = await scheduler.http.get("/v1/rituals/monday/preview?slot=2&count=1")
    assert preview.json() == ["2027-01-11T18:00:00Z"]


async def test_choosing_a_retired_slot_plans_it_from_now_without_a_backlog(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual(time_slots=["09:00", "18:00"])
    await scheduler.enrol(member(1))
    scheduler.clock.set(NINE)
    assert (await scheduler.tick()).emitted == 1
    scheduler.clock.set(SIX_PM)
    result = await scheduler.tick()
    # Nobody has 18:00: its cursor is retired, and nothing is sent.
    assert (result.emitted, result.retired_cursors) == (0, 1)
    a_week_later = SIX_PM + timedelta(days=7)
    picked = slot_choice(member(1), "18:00", 0, SIX_PM + timedelta(hours=1))
    await on_member_ritual_choice(scheduler.sessions, picked, SIX_PM + timedelta(hours=1))
    scheduler.clock.set(a_week_later)
    await scheduler.tick()
    assert [e.occurrence_at for e in scheduler.due_events()] == [NINE, a_week_later]
    # Back to the default: the 09:00 cursor, retired meanwhile, is planned again.
    default = slot_choice(member(1), None, 1, a_week_later)
    await on_member_ritual_choice(scheduler.sessions, default, a_week_later)
    scheduler.clock.set(NINE + timedelta(days=14))
    await scheduler.tick()
    assert scheduler.due_events()[-1].occurrence_at == NINE + timedelta(days=14)
