"""Due events are published by the tick itself, before the batch commits: nothing is staged in
the outbox for them, and a batch whose publish fails moves no cursor, so the next tick publishes
the same events (the same ids) again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.scheduler.adapters.tables import outbox
from services.scheduler.handlers.ticker import Ticker
from shared.contracts import RitualDueV1
from shared.messaging.publisher import RawMessage, RecordingPublisher
from tests.integration.scheduler.harness import SchedulerHarness, member

MONDAY_0900_LONDON = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


class StreamUnavailable(Exception):
    pass


async def due_events_staged(scheduler: SchedulerHarness) -> int:
    """RitualDue rows in the outbox (the community's own event is staged there, as before)."""
    async with scheduler.sessions() as session:
        query = select(func.count()).where(outbox.c.subject == RitualDueV1.subject)
        return int((await session.execute(query)).scalar_one())


async def test_due_events_skip_the_outbox(scheduler: SchedulerHarness) -> None:
    await scheduler.community()
    await scheduler.ritual()
    for n in range(3):
        await scheduler.enrol(member(n))
    scheduler.clock.set(MONDAY_0900_LONDON)
    result = await scheduler.ticker.tick()  # no relay drain: the tick published them

    assert result.emitted == 3
    assert sorted(e.member_id for e in scheduler.due_events()) == [member(n) for n in range(3)]
    assert await due_events_staged(scheduler) == 0
    (headers,) = {tuple(sorted(h)) for _, _, h in scheduler.publisher.raw}
    assert "Nats-Msg-Id" in headers


class FailsOnce(RecordingPublisher):
    """The stream takes the first message of the first batch, then the connection goes."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[list[str]] = []

    async def publish_many(self, messages: Sequence[RawMessage]) -> None:
        self.attempts.append([h["Nats-Msg-Id"] for _, _, h in messages])
        if len(self.attempts) > 1:
            await super().publish_many(messages)
            return
        await super().publish_many(messages[:1])
        raise StreamUnavailable


async def test_a_failed_publish_moves_no_cursor_and_the_next_tick_sends_the_same_ids(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual()
    for n in range(3):
        await scheduler.enrol(member(n))
    scheduler.clock.set(MONDAY_0900_LONDON)
    publisher = FailsOnce()
    ticker = Ticker(
        scheduler.sessions, scheduler.clock, scheduler.relay, 5.0, scheduler.policy, None, publisher
    )
    with pytest.raises(StreamUnavailable):
        await ticker.tick()
    again = await ticker.tick()

    assert again.emitted == 3  # the cursor had not moved: the whole batch again
    ids = [h["Nats-Msg-Id"] for _, _, h in publisher.raw]
    first, second = publisher.attempts
    assert sorted(first) == sorted(second)  # the same ids
    assert sorted(set(ids)) == sorted(first)
    assert len(ids) == 4  # the one the stream took first, twice (it drops the second)
    assert await ticker.tick() == type(again)()  # and nothing after that
    assert await due_events_staged(scheduler) == 0
