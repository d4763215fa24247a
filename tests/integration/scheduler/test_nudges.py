"""Nudges: timer from the actual send, at most the configured count, stopped by an answer,
never after the response window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.scheduler.handlers.nudges import on_prompt_answered, on_prompt_sent, on_prompts_sent
from shared.contracts import (
    Channel,
    PromptAnsweredV1,
    PromptSentV1,
    RitualDueV1,
    deterministic_event_id,
)
from tests.integration.scheduler.harness import SchedulerHarness, member

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def sent(due: RitualDueV1, at: datetime, nudge_number: int = 0) -> PromptSentV1:
    return PromptSentV1(
        event_id=deterministic_event_id("prompt.sent", due.event_id, "email", nudge_number),
        occurred_at=at,
        due_event_id=due.event_id,
        ritual_id=due.ritual_id,
        community_id=due.community_id,
        member_id=due.member_id,
        channel=Channel.email,
        attempts=1,
        nudge_number=nudge_number,
        occurrence_at=due.occurrence_at,
        respond_by=due.respond_by,
    )


def answered(due: RitualDueV1, at: datetime) -> PromptAnsweredV1:
    return PromptAnsweredV1(
        event_id=deterministic_event_id("prompt.answered", due.event_id),
        occurred_at=at,
        due_event_id=due.event_id,
        ritual_id=due.ritual_id,
        community_id=due.community_id,
        member_id=due.member_id,
        on_time=True,
    )


async def _due(scheduler: SchedulerHarness, **ritual: object) -> RitualDueV1:
    await scheduler.community()
    await scheduler.ritual(**({"nudge_after_minutes": 60, "max_nudges": 1} | ritual))
    await scheduler.enrol(member(1))
    scheduler.clock.set(MONDAY_0900)
    await scheduler.tick()
    (due,) = scheduler.due_events()
    return due


async def _tick_at(scheduler: SchedulerHarness, at: datetime) -> None:
    scheduler.clock.set(at)
    await scheduler.tick()


async def test_the_timer_starts_when_the_prompt_was_sent_not_when_it_was_due(
    scheduler: SchedulerHarness,
) -> None:
    due = await _due(scheduler)
    # The prompt went out 20 minutes late (quiet hours, a provider backlog...).
    assert (
        await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900 + timedelta(minutes=20)))
        == "timer_started"
    )
    await _tick_at(scheduler, MONDAY_0900 + timedelta(minutes=79))
    assert scheduler.nudge_events() == []
    await _tick_at(scheduler, MONDAY_0900 + timedelta(minutes=80))
    (nudge,) = scheduler.nudge_events()
    assert (nudge.due_event_id, nudge.nudge_number, nudge.member_id) == (due.event_id, 1, member(1))
    assert nudge.respond_by == due.respond_by


async def test_no_more_nudges_than_configured(scheduler: SchedulerHarness) -> None:
    due = await _due(scheduler, max_nudges=2)
    await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900))
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=1))
    # The second nudge waits for the first to be sent.
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=3))
    assert [n.nudge_number for n in scheduler.nudge_events()] == [1]
    await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900 + timedelta(hours=3), 1))
    await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900 + timedelta(hours=3), 1))
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=4))
    await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900 + timedelta(hours=4), 2))
    for hours in range(5, 24):
        await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=hours))
    assert [n.nudge_number for n in scheduler.nudge_events()] == [1, 2]


async def test_an_answer_cancels_the_nudge(scheduler: SchedulerHarness) -> None:
    due = await _due(scheduler)
    await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900))
    await on_prompt_answered(scheduler.sessions, answered(due, MONDAY_0900 + timedelta(minutes=30)))
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=2))
    assert scheduler.nudge_events() == []


async def test_an_answer_that_arrives_before_the_sent_event_still_cancels(
    scheduler: SchedulerHarness,
) -> None:
    due = await _due(scheduler)
    await on_prompt_answered(scheduler.sessions, answered(due, MONDAY_0900 + timedelta(minutes=5)))
    await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900))
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=2))
    assert scheduler.nudge_events() == []


async def test_no_nudge_after_the_response_window(scheduler: SchedulerHarness) -> None:
    due = await _due(scheduler, response_window_minutes=60, nudge_after_minutes=90)
    await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900))
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=2))
    assert scheduler.nudge_events() == []


async def test_rituals_without_a_nudge_policy_never_nudge(scheduler: SchedulerHarness) -> None:
    due = await _due(scheduler, nudge_after_minutes=None)
    assert await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900)) == "no_nudges"
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=20))
    assert scheduler.nudge_events() == []


async def test_a_redelivered_prompt_sent_does_not_restart_the_timer(
    scheduler: SchedulerHarness,
) -> None:
    due = await _due(scheduler)
    await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900))
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=1))
    assert await on_prompt_sent(scheduler.sessions, sent(due, MONDAY_0900)) == "duplicate"
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=3))
    assert len(scheduler.nudge_events()) == 1


async def test_a_batch_of_prompts_sent_acts_as_its_events_one_at_a_time(
    scheduler: SchedulerHarness,
) -> None:
    """The consumer takes PromptSent in batches: a redelivery within the batch, a ritual
    without nudges and an unknown one, then a nudge's re-arm, each with its own outcome."""
    due = await _due(scheduler, max_nudges=2)
    unknown = sent(due, MONDAY_0900).model_copy(update={"ritual_id": "gone"})
    first = await on_prompts_sent(
        scheduler.sessions, [sent(due, MONDAY_0900), unknown, sent(due, MONDAY_0900)]
    )
    assert first == ["timer_started", "no_nudges", "duplicate"]
    await _tick_at(scheduler, MONDAY_0900 + timedelta(hours=1))
    assert [n.nudge_number for n in scheduler.nudge_events()] == [1]
    at = MONDAY_0900 + timedelta(hours=3)
    second = await on_prompts_sent(
        scheduler.sessions, [sent(due, at, 1), sent(due, MONDAY_0900), sent(due, at, 1)]
    )
    assert second == ["timer_rearmed", "duplicate", "duplicate"]
    # Re-armed from the nudge's own send, as one at a time would: due an hour after 12:00.
    await _tick_at(scheduler, at + timedelta(minutes=59))
    assert [n.nudge_number for n in scheduler.nudge_events()] == [1]
    await _tick_at(scheduler, at + timedelta(hours=1))
    assert [n.nudge_number for n in scheduler.nudge_events()] == [1, 2]
    last = await on_prompts_sent(scheduler.sessions, [sent(due, at + timedelta(hours=1), 2)])
    assert last == ["last_nudge_sent"]
