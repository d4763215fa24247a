"""A member's pause, stop or resume of one ritual (MemberRitualChoice): stored once per event
id, the latest choice winning, and honoured by the tick for that member and ritual only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.scheduler.adapters.tables import member_ritual_choices
from services.scheduler.handlers.erasure import on_member_erased
from services.scheduler.handlers.member_choices import on_member_ritual_choice
from shared.contracts import (
    MemberErasedV1,
    MemberRitualChoiceV1,
    RitualChoice,
    deterministic_event_id,
    keyed_event_id,
)
from tests.integration.scheduler.harness import SchedulerHarness, member

MONDAY_0900_LONDON = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SECRET = b"a-test-secret-of-16-bytes-or-more"


def choice(
    who: str, ritual: str, what: RitualChoice, at: datetime, sequence: int
) -> MemberRitualChoiceV1:
    return MemberRitualChoiceV1(
        event_id=keyed_event_id(SECRET, "ritual.member-choice", who, ritual, what, sequence),
        occurred_at=at,
        member_id=who,
        ritual_id=ritual,
        choice=what,
        sequence=sequence,
    )


async def test_a_choice_is_applied_once_and_an_older_one_changes_nothing(
    scheduler: SchedulerHarness,
) -> None:
    now = MONDAY_0900_LONDON - timedelta(days=1)
    paused = choice(member(1), "monday", RitualChoice.paused, now, 0)
    resumed = choice(member(1), "monday", RitualChoice.active, now, 1)  # within the second
    outcomes = [
        await on_member_ritual_choice(scheduler.sessions, paused, now),
        await on_member_ritual_choice(scheduler.sessions, paused, now),  # redelivered
        await on_member_ritual_choice(scheduler.sessions, resumed, now),
        await on_member_ritual_choice(scheduler.sessions, paused, now),  # late, older
    ]
    assert outcomes == ["applied", "duplicate", "applied", "stale"]


async def test_the_tick_leaves_out_only_the_member_and_ritual_held(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual()
    await scheduler.ritual(id="weekly-two", kind="reach_out", template_key="reach_out")
    await scheduler.enrol(member(1))
    await scheduler.enrol(member(2))
    before = MONDAY_0900_LONDON - timedelta(days=1)
    for what, ritual in ((RitualChoice.paused, "monday"), (RitualChoice.stopped, "weekly-two")):
        event = choice(member(1) if ritual == "monday" else member(2), ritual, what, before, 0)
        assert await on_member_ritual_choice(scheduler.sessions, event, before) == "applied"
    scheduler.clock.set(MONDAY_0900_LONDON)
    await scheduler.tick()
    fired = sorted((e.ritual_id, e.member_id) for e in scheduler.due_events())
    assert fired == [("monday", member(2)), ("weekly-two", member(1))]


async def test_a_resume_plans_a_cursor_retired_while_everyone_there_was_paused(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual()
    await scheduler.enrol(member(1))
    before = MONDAY_0900_LONDON - timedelta(days=1)
    paused = choice(member(1), "monday", RitualChoice.paused, before, 0)
    await on_member_ritual_choice(scheduler.sessions, paused, before)
    scheduler.clock.set(MONDAY_0900_LONDON)
    result = await scheduler.tick()
    assert (result.emitted, result.retired_cursors) == (0, 1)  # nobody there receives it
    later = MONDAY_0900_LONDON + timedelta(hours=1)
    resumed = choice(member(1), "monday", RitualChoice.active, later, 1)
    await on_member_ritual_choice(scheduler.sessions, resumed, later)
    scheduler.clock.set(MONDAY_0900_LONDON + timedelta(days=7))
    await scheduler.tick()
    # The next Monday, and no backlog of the one missed while paused.
    assert [e.occurrence_at for e in scheduler.due_events()] == [
        MONDAY_0900_LONDON + timedelta(days=7)
    ]


async def test_erasure_forgets_the_members_choices(scheduler: SchedulerHarness) -> None:
    now = MONDAY_0900_LONDON
    for who in (member(1), member(2)):
        event = choice(who, "monday", RitualChoice.stopped, now, 0)
        await on_member_ritual_choice(scheduler.sessions, event, now)
    erased = MemberErasedV1(
        event_id=deterministic_event_id("member.erased", member(1)),
        occurred_at=now,
        member_id=member(1),
    )
    await on_member_erased(scheduler.sessions, erased)
    async with scheduler.sessions() as session:
        left = (await session.execute(select(member_ritual_choices.c.member_id))).scalars()
        assert list(left) == [member(2)]
