"""Two schedulers on one PostgreSQL database: each occurrence emitted once, both did work.

Row claiming (FOR UPDATE SKIP LOCKED) is the first line of defence; JetStream's duplicate
window would only be the second, so duplicates are counted at the publishers, before NATS.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from services.scheduler.handlers.emit_due import EmissionPolicy
from shared.clock import ManualClock
from tests.integration.scheduler.harness import SchedulerHarness, member

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def test_two_replicas_emit_each_occurrence_once_and_share_the_work(
    postgres_schema: tuple[str, str],
) -> None:
    url, schema = postgres_schema
    clock = ManualClock(datetime(2027, 1, 3, 12, 0, tzinfo=UTC))
    policy = EmissionPolicy(batch_size=5)
    first = SchedulerHarness(url, schema, clock, policy)
    second = SchedulerHarness(url, schema, clock, policy)
    await first.start()
    await second.start()
    try:
        await first.community()
        zones = ["Europe/London", "Europe/Paris", "Africa/Lagos", "Europe/Lisbon"]
        for n in range(60):  # 60 rituals x 4 zones = 240 cursors due at once
            await first.ritual(
                id=f"ritual-{n:02d}", dtstart="2027-01-04T10:00", misfire_grace_minutes=240
            )
        for n in range(8):
            await first.enrol(member(n), zones[n % 4])
        clock.set(datetime(2027, 1, 4, 10, 0, tzinfo=UTC))  # all four zones' 10:00 have passed
        results = await asyncio.gather(first.ticker.tick(), second.ticker.tick())
        await asyncio.gather(first.relay.drain(), second.relay.drain())

        published = [
            headers["Nats-Msg-Id"]
            for harness in (first, second)
            for subject, _, headers in harness.publisher.raw
            if subject == "rituals.due.v1"  # (the community's facts went out too)
        ]
        duplicates = [event_id for event_id, n in Counter(published).items() if n > 1]
        assert duplicates == []
        assert len(published) == 60 * 8
        assert all(result.emitted > 0 for result in results), results
        assert sum(result.emitted for result in results) == 60 * 8
    finally:
        await first.close()
        await second.close()
