"""A burst is split into transactions by events, not only by cursors: each batch stops taking
cursors once it staged ``max_events_per_batch`` events, the cursors it claimed but left go to
the next batch, and the relay is told after every commit so publishing overlaps staging."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from services.demo.system import DatabaseFor
from services.scheduler.handlers.emit_due import EmissionPolicy, emit_due_occurrences
from shared.clock import ManualClock
from tests.integration.scheduler.harness import SchedulerHarness, member

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def test_a_burst_is_staged_in_batches_of_its_event_budget_each_event_once(
    database_for: DatabaseFor, clock: ManualClock
) -> None:
    url, schema = database_for("scheduler")
    clock.set(datetime(2027, 1, 3, 12, 0, tzinfo=UTC))
    harness = SchedulerHarness(url, schema, clock, EmissionPolicy(batch_size=50))
    await harness.start()
    try:
        await harness.community()
        for n in range(6):
            await harness.ritual(id=f"ritual-{n}")
        for n in range(4):
            await harness.enrol(member(n))  # 6 cursors of 4 members: 24 events at 09:00
        clock.set(MONDAY_0900)
        budget = EmissionPolicy(batch_size=50, max_events_per_batch=10)
        commits: list[int] = []
        result = await emit_due_occurrences(
            harness.sessions, MONDAY_0900, budget, lambda: commits.append(1)
        )
        await harness.relay.drain()
    finally:
        await harness.close()

    # 3 cursors (12 events) pass the budget of 10: two batches of 12, each committed apart.
    assert len(commits) == 2
    assert (result.cursors, result.emitted, result.deferred_cursors) == (6, 24, 3)
    ids = Counter(event.event_id for event in harness.due_events())
    assert len(ids) == 24
    assert set(ids.values()) == {1}
